"""The smoke suite on the real local model: the fixed subset CI runs (the full suite is `make eval`)."""

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.integration


def test_smoke_suite_passes_its_gate_on_the_local_model(tmp_path: Path) -> None:
    out = tmp_path / "smoke"
    result = run_cli(
        "eval", str(ROOT / "evals" / "suites" / "smoke.yaml"), "--out", str(out), "--json",
        "--fail-under", "accuracy=0.8", "--fail-under", "abstain_recall=1.0", "--fail-under", "citation_validity=1.0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["cases"]) == 6
    assert {"run.json", "report.md", "report.html"} <= {p.name for p in out.iterdir()}
