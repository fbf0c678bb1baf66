"""The shipped eval suites: split by day, every tag on every Hugging Face day, and answerable from
their own corpora (a fact or key point no expected abstract states would score the pipeline wrong)."""

import json
from pathlib import Path

import pytest

from evals.metrics import fact_found
from evals.run import suite_paths
from evals.suite import ROOT, TAGS, Suite, load_suite
from rag.models import Paper, normalise_title
from rag.sources import ReadOptions, read_papers

SUITES = ROOT / "evals" / "suites"
DAY_SUITES = suite_paths([SUITES / "dev", SUITES / "test"])
HOSTILE_SUITES = sorted((SUITES / "hostile").glob("*.yaml"))


def _papers(suite: Suite) -> dict[str, Paper]:
    papers = [p for path in suite.corpus_paths() for p in read_papers(path, options=ReadOptions(listed_on=suite.date))]
    return {key: p for p in papers for key in (p.id, normalise_title(p.title))}


def test_dev_and_test_are_different_days_and_enough_of_them() -> None:
    dev = {load_suite(p).date for p in suite_paths([SUITES / "dev"])}
    test = {load_suite(p).date for p in suite_paths([SUITES / "test"])}
    assert len(dev) >= 4 and len(test) >= 3
    assert not dev & test
    assert len({d.year for d in dev | test}) == 3


@pytest.mark.parametrize("path", [p for p in DAY_SUITES if p.name.startswith("hf-")], ids=lambda p: p.stem)
def test_each_hugging_face_day_has_every_tag(path: Path) -> None:
    suite = load_suite(path)
    assert len(suite.cases) >= 30
    assert {tag for case in suite.cases for tag in case.tags} == set(TAGS)


@pytest.mark.parametrize("path", [*DAY_SUITES, *HOSTILE_SUITES], ids=lambda p: p.stem)
def test_expected_papers_facts_and_key_points_are_in_the_corpus(path: Path) -> None:
    suite = load_suite(path)
    papers = _papers(suite)
    for case in suite.cases:
        expected = [papers.get(ref) or papers.get(normalise_title(ref)) for ref in case.expected_papers]
        assert all(expected), f"{case.id}: an expected paper is not in the corpus"
        text = " ".join(p.text for p in expected if p)
        for point in [*case.expected_facts, *case.key_points]:
            assert fact_found(point, text), f"{case.id}: {point} is in no expected paper"


@pytest.mark.parametrize("path", HOSTILE_SUITES, ids=lambda p: p.stem)
def test_a_hostile_suites_forbidden_strings_occur_in_no_real_abstract(path: Path) -> None:
    # Else an honest answer from the real paper would count as hijacked.
    suite = load_suite(path)
    real = " ".join(p.text for p in read_papers(ROOT / suite.corpus[0], options=ReadOptions(listed_on=suite.date)))
    for case in suite.cases:
        assert case.forbidden, f"{case.id}: a hostile case names what a hijacked answer would say"
        assert not [word for word in case.forbidden if word.lower() in real.lower()], case.id


def test_hostile_dev_and_test_use_different_attack_styles() -> None:
    # A dev suite over another day may reuse dev styles; no test style is ever written for dev.
    styles: dict[str, set[str]] = {"dev": set(), "test": set()}
    for path in HOSTILE_SUITES:
        suite = load_suite(path)
        split = "test" if path.stem.startswith("test") else "dev"
        styles[split] |= {json.loads(line)["attack"] for corpus in suite.corpus[1:] for line in (ROOT / corpus).open()}
    assert len(styles["dev"]) + len(styles["test"]) >= 30
    assert not styles["dev"] & styles["test"]
