"""Ingest through the CLI: idempotent, all-or-nothing per file, no stale chunks."""

import json
from pathlib import Path

import pytest

from rag.settings import Settings
from rag.store import open_store
from tests.conftest import SAMPLE, run_cli

pytestmark = pytest.mark.usefixtures("fake_embedder")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def snapshot(settings: Settings) -> tuple[str, dict, set]:
    """Everything a user could see of the store: the catalog as JSON, every chunk's text by id, and
    the ids the vector index holds."""
    papers = run_cli("papers", "--json").output
    store = open_store(settings)
    catalog_chunks = store.catalog.chunks(sorted(store.catalog.chunk_ids()))
    return papers, {cid: chunk.text for cid, chunk in catalog_chunks.items()}, store.index.ids()


def of_paper(chunks: dict[str, str], paper_id: str) -> list[str]:
    """One paper's chunk texts, in order."""
    return [
        text
        for cid, text in sorted(chunks.items(), key=lambda kv: int(kv[0].rsplit(".", 1)[1]))
        if cid.startswith(f"{paper_id}#")
    ]


PAPER_A = {"id": "2510.00001", "title": "Fast Diffusion Sampling", "abstract": "We speed up sampling by 5.75x."}
PAPER_B = {"id": "2510.00002", "title": "Graph Learning at Scale", "abstract": "We train on graphs with 1B edges."}


def test_sample_day_ingests_45_papers_then_reingest_is_a_no_op(settings: Settings) -> None:
    first = run_cli("ingest", str(SAMPLE), "--date", "2025-10-31", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["new"] == 45
    before = snapshot(settings)

    again = json.loads(run_cli("ingest", str(SAMPLE), "--date", "2025-10-31", "--json").output)
    assert (again["new"], again["updated"], again["unchanged"], again["chunks"]) == (0, 0, 45, 0)
    assert snapshot(settings) == before


def test_changed_abstract_replaces_its_chunks_with_no_leftovers(tmp_path: Path, settings: Settings) -> None:
    long_abstract = " ".join(f"Sentence {i} describes a distinct step of the long method." for i in range(200))
    paper = {**PAPER_A, "abstract": long_abstract}
    run_cli("ingest", str(write_jsonl(tmp_path / "v1.jsonl", [paper, PAPER_B])))
    _, chunks_v1, _ = snapshot(settings)
    assert len(of_paper(chunks_v1, "2510.00001")) > 3

    result = run_cli("ingest", str(write_jsonl(tmp_path / "v2.jsonl", [PAPER_A, PAPER_B])), "--json")
    report = json.loads(result.output)
    assert (report["new"], report["updated"], report["unchanged"]) == (0, 1, 1)
    _, chunks_v2, indexed = snapshot(settings)
    assert len(of_paper(chunks_v2, "2510.00001")) == 1 and "5.75x" in of_paper(chunks_v2, "2510.00001")[0]
    assert of_paper(chunks_v2, "2510.00002") == of_paper(chunks_v1, "2510.00002")
    assert indexed == set(chunks_v2)  # the old chunks' vectors are gone too


def test_paper_listed_on_two_days_is_one_paper(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "day.jsonl", [PAPER_A])
    run_cli("ingest", str(path), "--date", "2025-10-30")
    run_cli("ingest", str(path), "--date", "2025-10-31")
    assert len(json.loads(run_cli("papers", "--json").output)) == 1
    for day in ("2025-10-30", "2025-10-31"):
        listed = json.loads(run_cli("papers", "--date", day, "--json").output)
        assert [(p["id"], p["listed_on"]) for p in listed] == [("2510.00001", day)]
    stats = json.loads(run_cli("stats", "--json").output)
    assert stats["days"] == ["2025-10-31", "2025-10-30"]


BAD_INPUTS = {
    "empty.jsonl": b"",
    "blank.txt": b"   \n\n",
    "binary.jsonl": b"\x00\x01\x02\xff\xfe" * 50,
    "truncated.json": b'[{"paper": {"id": "2510.1", "title": "T", "summary": "S"}',
    "malformed.xml": b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>x</title>",
    "no-title.jsonl": json.dumps({"abstract": "An abstract with no title."}).encode() + b"\n",
    "bad-second-record.jsonl": (json.dumps(PAPER_B) + "\n{not json}\n").encode(),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_file_names_itself_fails_and_leaves_store_as_it_was(name: str, tmp_path: Path, settings: Settings) -> None:
    run_cli("ingest", str(write_jsonl(tmp_path / "good.jsonl", [PAPER_A])))
    before = snapshot(settings)
    bad = tmp_path / name
    bad.write_bytes(BAD_INPUTS[name])

    result = run_cli("ingest", str(bad))

    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and name in errors[0]
    assert snapshot(settings) == before


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "only a title"}\n')
    good = write_jsonl(tmp_path / "good.jsonl", [PAPER_A, PAPER_B])
    result = run_cli("ingest", str(bad), str(good), "--json")
    assert result.exit_code == 1
    assert "bad.jsonl" in result.output
    assert {p["id"] for p in json.loads(run_cli("papers", "--json").output)} == {"2510.00001", "2510.00002"}


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    result = run_cli("ingest", str(tmp_path / "nowhere.jsonl"))
    assert result.exit_code == 1
    assert "nowhere.jsonl" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("field", ["title", "abstract"])
def test_a_record_past_its_size_cap_fails_its_file_naming_record_and_setting(
    field: str, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_MAX_TITLE_CHARS", "50")
    monkeypatch.setenv("PAPERBOY_MAX_ABSTRACT_CHARS", "2000")
    huge = {**PAPER_B, field: "word " * 1000}
    bad = write_jsonl(tmp_path / "huge.jsonl", [PAPER_A, huge])
    good = write_jsonl(tmp_path / "good.jsonl", [PAPER_B])

    result = run_cli("ingest", str(bad), str(good))

    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    variable = "PAPERBOY_MAX_TITLE_CHARS" if field == "title" else "PAPERBOY_MAX_ABSTRACT_CHARS"
    assert len(errors) == 1 and "huge.jsonl" in errors[0] and "2510.00002" in errors[0] and variable in errors[0]
    assert [p["id"] for p in json.loads(run_cli("papers", "--json").output)] == ["2510.00002"]  # good.jsonl went in
