"""The real local model explains a few sample papers: checks pass, and the method is named."""

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration

# A paper and the method name a faithful explainer must mention.
PAPERS = {
    "Tutel: Adaptive Mixture-of-Experts at Scale": "Flex",
    "NitroFusion: High-Fidelity Single-Step Diffusion through Dynamic Adversarial Training": "NitroFusion",
    "SlimFlow: Training Smaller One-Step Diffusion Models with Rectified Flow": "SlimFlow",
}


def paper_ids() -> dict[str, str]:
    return {p["title"]: p["id"] for p in json.loads(run_cli("papers", "--json").output)}


@pytest.mark.parametrize("title", sorted(PAPERS))
def test_explainer_passes_its_checks_and_names_the_method(title: str, sample_store: Path) -> None:
    result = run_cli("explain", paper_ids()[title], "--json")
    assert result.exit_code == 0, result.output
    explainer = json.loads(result.stdout)
    assert not explainer["flagged"], explainer["flag_reason"]
    assert 60 <= len(explainer["explainer"].split()) <= 150
    assert PAPERS[title].lower() in explainer["explainer"].lower()
    assert explainer["tldr"] and explainer["explainer"].startswith(explainer["tldr"])

    again = json.loads(run_cli("explain", paper_ids()[title], "--json").stdout)
    assert again["cached"] and again["explainer"] == explainer["explainer"]
