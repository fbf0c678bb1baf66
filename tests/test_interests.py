"""Interests through the CLI: keywords followed and muted, stars, read and hidden, the "for you" ranking
learned from the stars (with its reasons), BibTeX; all kept in the catalog across processes."""

import json
from pathlib import Path

import pytest

from rag.catalog import Catalog
from rag.settings import Settings
from tests.conftest import run_cli

pytestmark = pytest.mark.usefixtures("fake_embedder")

DAY = "2025-10-31"
FED = "federated clients server aggregation privacy gradients devices communication rounds"
FOLD = "protein folding structure residues amino acids backbone contacts prediction"


def _paper(pid: str, title: str, words: str, upvotes: int) -> dict:
    return {
        "id": pid,
        "title": title,
        "abstract": f"We study {words}. Our method improves {words}.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "upvotes": upvotes,
        "listed_on": DAY,
        "url": f"https://huggingface.co/papers/{pid}",
    }


PAPERS = [
    _paper("2510.00011", "Federated Clients with Private Gradients", FED, 1),
    _paper("2510.00012", "Federated Aggregation on Mobile Devices", FED, 2),
    _paper("2510.00013", "Communication Rounds in Federated Training", FED, 3),
    _paper("2510.00021", "Protein Folding from Residue Contacts", FOLD, 50),
    _paper("2510.00022", "Protein Folding with Backbone Priors", FOLD, 40),
    _paper("2510.00023", "Protein Folding of Amino Acid Chains", FOLD, 30),
]


@pytest.fixture
def day(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PAPERS))
    assert run_cli("ingest", str(path)).exit_code == 0


def _for_you(*args: str) -> dict:
    result = run_cli("for-you", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.usefixtures("day")
def test_keywords_follow_mute_list_and_remove() -> None:
    assert run_cli("follow", "Federated  Learning", "privacy").output.strip() == (
        "Following: Federated Learning, privacy"
    )
    assert run_cli("mute", "privacy").exit_code == 0  # muting a followed keyword unfollows it
    assert json.loads(run_cli("follow", "--json").output) == ["Federated Learning"]
    assert json.loads(run_cli("mute", "--json").output) == ["privacy"]
    run_cli("follow", "--remove", "federated learning")  # case does not matter
    assert json.loads(run_cli("follow", "--json").output) == []
    refused = run_cli("follow", "the")
    assert refused.exit_code == 1 and "has no word a search can match" in refused.output


@pytest.mark.usefixtures("day")
def test_without_stars_followed_keywords_then_upvotes() -> None:
    run_cli("follow", "federated")
    ranking = _for_you()
    assert ranking["learned"] is False
    ids = [p["paper_id"] for p in ranking["papers"]]
    assert ids == ["2510.00013", "2510.00012", "2510.00011", "2510.00021", "2510.00022", "2510.00023"]
    assert ranking["papers"][0]["reason"] == "matches: federated"


@pytest.mark.usefixtures("day")
def test_a_starred_paper_pulls_its_field_up_with_the_reason(settings: Settings) -> None:
    before = [p["paper_id"] for p in _for_you()["papers"]]
    assert before[:3] == ["2510.00021", "2510.00022", "2510.00023"]  # upvotes
    assert run_cli("star", "2510.00011").output.strip() == "Starred 1 paper."
    ranking = _for_you()
    assert ranking["learned"] is True
    top = [p["paper_id"] for p in ranking["papers"][:3]]
    assert set(top) == {"2510.00011", "2510.00012", "2510.00013"}
    reasons = {p["paper_id"]: p["reason"] for p in ranking["papers"]}
    assert reasons["2510.00012"] == "close to 1 starred paper"
    assert reasons["2510.00021"] == ""
    starred = json.loads(run_cli("starred", "--json").output)
    assert [p["id"] for p in starred] == ["2510.00011"]
    # Kept in the catalog: another process (a fresh Catalog) sees the same stars.
    assert Catalog(settings.catalog_path).marked("star") == ["2510.00011"]


@pytest.mark.usefixtures("day")
def test_the_ranker_is_trained_again_only_when_the_stars_change(settings: Settings) -> None:
    catalog = Catalog(settings.catalog_path)
    run_cli("star", "2510.00011")
    _for_you()
    first = catalog.state("for-you-ranker")
    _for_you()
    assert catalog.state("for-you-ranker") == first  # same stars: the stored ranker
    run_cli("star", "2510.00021")
    _for_you()
    assert json.loads(catalog.state("for-you-ranker") or "{}")["key"] != json.loads(first or "{}")["key"]


@pytest.mark.usefixtures("day")
def test_muted_and_hidden_papers_are_folded_away_not_lost() -> None:
    run_cli("mute", "protein folding")
    run_cli("hide", "2510.00013")
    ranking = _for_you()
    assert {p["paper_id"] for p in ranking["papers"]} == {"2510.00011", "2510.00012"}
    assert ranking["folded"] == 4
    folded = {p["paper_id"]: p["folded"] for p in _for_you("--folded")["papers"] if p["folded"]}
    assert folded["2510.00013"] == "hidden"
    assert folded["2510.00021"] == "muted: protein folding"
    run_cli("hide", "--unhide", "2510.00013")
    assert _for_you()["folded"] == 3
    assert len(json.loads(run_cli("papers", "--json").output)) == 6  # nothing deleted


@pytest.mark.usefixtures("day")
def test_read_marks_and_unknown_ids() -> None:
    assert run_cli("read", "2510.00011", "2510.00012").output.strip() == "Marked read 2 papers."
    run_cli("read", "--unread", "2510.00012")
    read = {p["paper_id"]: p["read"] for p in _for_you()["papers"]}
    assert (read["2510.00011"], read["2510.00012"]) == (True, False)
    bad = run_cli("star", "2510.00011", "9999.99999")
    assert bad.exit_code == 1 and "No paper with id '9999.99999'" in bad.output
    assert json.loads(run_cli("starred", "--json").output) == []  # all or nothing


@pytest.mark.usefixtures("day")
def test_bibtex_of_starred_papers_has_arxiv_ids_and_links(tmp_path: Path) -> None:
    run_cli("star", "2510.00011", "2510.00012")
    out = tmp_path / "starred.bib"
    assert run_cli("bibtex", "--starred", "--out", str(out)).exit_code == 0
    text = out.read_text()
    assert text.count("@misc{") == 2
    assert "eprint = {2510.00011}" in text and "archivePrefix = {arXiv}" in text
    assert "url = {https://arxiv.org/abs/2510.00012}" in text
    assert "author = {Ada Lovelace and Alan Turing}" in text
    # First author, year, first title word; two alike get a and b.
    assert "@misc{lovelace2025federateda," in text and "@misc{lovelace2025federatedb," in text
    assert run_cli("bibtex").exit_code == 2


def test_bibtex_escapes_what_latex_would_read_as_markup(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    record = {"title": "100% of {Braces} & $math$ #1 under_score", "abstract": "A.", "listed_on": DAY}
    path.write_text(json.dumps(record) + "\n")
    run_cli("ingest", str(path))
    (paper,) = json.loads(run_cli("papers", "--json").output)
    text = run_cli("bibtex", paper["id"]).output
    assert r"title = {{100\% of \{Braces\} \& \$math\$ \#1 under\_score}}" in text
    assert "eprint" not in text  # not an arXiv id
