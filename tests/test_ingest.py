"""Ingest through the CLI: idempotent, all-or-nothing per file, no stale chunks."""

import json
from pathlib import Path

import pytest

from rag import ingest, providers
from rag.catalog import Catalog
from rag.errors import ProviderError
from rag.ingest import ingest_files, ingest_papers
from rag.models import Paper
from rag.providers import EmbeddingProvider
from rag.settings import Settings
from rag.store import open_store
from tests.conftest import SAMPLE, HashEmbeddings, run_cli

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


# Many files go in by groups: one embedding call and one write for several files (rag/ingest.py).


def test_files_of_one_command_are_written_together_and_a_paper_in_two_of_them_is_one_paper(
    tmp_path: Path, settings: Settings
) -> None:
    monday = write_jsonl(tmp_path / "2025-10-27.jsonl", [PAPER_A, PAPER_B])
    edited = {**PAPER_A, "abstract": "We speed up sampling by 6.5x with a new solver."}
    tuesday = write_jsonl(tmp_path / "2025-10-28.jsonl", [edited])

    report = json.loads(run_cli("ingest", str(monday), str(tuesday), "--json").output)

    # As if the files went in one by one: A new on Monday, then updated by Tuesday's text.
    assert (report["new"], report["updated"], report["unchanged"], report["chunks"]) == (2, 1, 0, 2)
    _, chunks, indexed = snapshot(settings)
    assert of_paper(chunks, "2510.00001") == [f"{PAPER_A['title']}\n\n{edited['abstract']}"]
    assert indexed == set(chunks)
    again = json.loads(run_cli("ingest", str(monday), str(tuesday), "--json").output)
    assert (again["new"], again["chunks"]) == (0, 1)  # Monday's text comes back, then Tuesday's again


def test_progress_counts_every_file_s_chunks_and_ends_at_the_total(tmp_path: Path, settings: Settings) -> None:
    files = [
        write_jsonl(tmp_path / f"{i}.jsonl", [{**PAPER_A, "id": f"2510.1000{i}", "title": f"T{i}"}]) for i in range(3)
    ]
    seen: list[tuple[int, int]] = []

    ingest_files(files, open_store(settings), progress=lambda done, total: seen.append((done, total)))

    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert all(total == 3 for _, total in seen)


class PoisonedEmbeddings(HashEmbeddings):
    """Fails on any text that holds the word 'poison', as a dead endpoint fails a request."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if any("poison" in t for t in texts):
            raise ProviderError("Embedding with poisoned-64: the endpoint answered HTTP 500")
        return super().embed_documents(texts)


def test_a_group_that_fails_names_each_of_its_files_and_the_later_files_still_go_in_whole(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        providers.EMBED, "local", EmbeddingProvider(lambda _: "poisoned-64", lambda _: PoisonedEmbeddings())
    )
    monkeypatch.setattr(ingest, "GROUP_CHUNKS", 1)  # each file its own group
    poisoned = {**PAPER_B, "abstract": "A poison abstract."}
    first = write_jsonl(tmp_path / "first.jsonl", [PAPER_A, poisoned])
    # Planned while first.jsonl was still to come, PAPER_A here looked stored; it must be embedded after all.
    second = write_jsonl(tmp_path / "second.jsonl", [PAPER_A])

    result = run_cli("ingest", str(first), str(second), "--json")

    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "first.jsonl" in errors[0] and "HTTP 500" in errors[0]
    assert (json.loads(result.stdout)["new"], json.loads(result.stdout)["chunks"]) == (1, 1)
    # Read before any open, which would repair a paper left without chunks.
    assert set(Catalog(settings.catalog_path).chunk_ids().values()) == {"2510.00001"}
    _, chunks, indexed = snapshot(settings)
    assert indexed == set(chunks)


def test_a_record_whose_text_changed_is_never_saved_without_its_chunks(settings: Settings) -> None:
    store = open_store(settings)
    paper = Paper(**{**PAPER_A, "source": "jsonl"})
    ingest_papers([paper], store)
    edited = paper.model_copy(update={"abstract": "Another text.", "upvotes": 9})

    store.catalog.save([edited], [])  # what a plan made before another process rewrote the paper would do

    assert store.catalog.paper(paper.id).abstract == PAPER_A["abstract"]
    store.catalog.save([paper.model_copy(update={"upvotes": 9})], [])  # same text: the record may change
    assert store.catalog.paper(paper.id).upvotes == 9
