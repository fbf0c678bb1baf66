"""The store's write order and repair: whatever step a write stopped at, the next open makes the
index match the catalog, and nothing half-written is ever shown."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.chunks import chunk_papers
from rag.index import vector_count
from rag.ingest import ingest_papers
from rag.models import Paper
from rag.retrieval import retrieve
from rag.settings import Settings
from rag.store import Store, consistency, open_store
from tests.conftest import ROOT, run_cli
from tests.test_ingest import PAPER_A, PAPER_B, snapshot, write_jsonl

pytestmark = pytest.mark.usefixtures("fake_embedder")

KEPT = Paper(id="2510.00001", title="Fast Diffusion Sampling", abstract="Sampling 5.75x faster.", source="jsonl")
HALF = Paper(id="2510.00002", title="Graph Auctions", abstract="Auction graphs with 1B edges.", source="jsonl")


def _stored(settings: Settings) -> Store:
    store = open_store(settings)
    ingest_papers([KEPT], store)
    return store


def _agrees(store: Store) -> bool:
    return (
        store.index.ids() == set(store.catalog.chunk_ids()) and consistency(store.settings, store.catalog)["consistent"]
    )


def test_vectors_written_before_a_crash_are_never_shown_and_are_dropped_on_open(settings: Settings) -> None:
    store = _stored(settings)
    chunks = chunk_papers([HALF], settings)
    store.catalog.unsettle([c.id for c in chunks])  # step 1 and 2 of a write, then the process died
    store.index.add(chunks, store.embed([c.text for c in chunks]))
    assert not consistency(store.settings, store.catalog)["consistent"]
    assert [h.chunk.paper.id for h in retrieve("graph auctions edges", store, k=5)] == [KEPT.id]

    reopened = open_store(settings)

    assert _agrees(reopened)
    assert reopened.catalog.count() == 1 and HALF.id not in {p.id for p in reopened.catalog.papers()}


def test_old_vectors_left_by_a_crash_after_the_catalog_switched_are_dropped_on_open(settings: Settings) -> None:
    store = _stored(settings)
    changed = KEPT.model_copy(update={"abstract": "We speed up sampling by 6.5x with a new solver."})
    chunks = chunk_papers([changed], settings)
    store.catalog.unsettle([c.id for c in chunks])
    store.index.add(chunks, store.embed([c.text for c in chunks]))
    stale = store.catalog.save([changed], chunks)  # step 3 done; the old vectors were never dropped
    assert stale and set(stale) <= store.index.ids()

    reopened = open_store(settings)

    assert _agrees(reopened)
    assert "6.5x" in retrieve("sampling speed", reopened, k=1)[0].chunk.text


def test_vectors_missing_from_an_embedded_index_are_embedded_again_from_the_catalog(settings: Settings) -> None:
    store = _stored(settings)
    store.index.delete(sorted(store.index.ids()))  # e.g. the chroma folder was restored from an old copy

    reopened = open_store(settings)

    assert _agrees(reopened)
    assert [h.chunk.paper.id for h in retrieve("diffusion sampling", reopened, k=5, mode="dense")] == [KEPT.id]


def test_papers_from_a_store_without_chunk_rows_are_indexed_again_on_open(settings: Settings) -> None:
    store = open_store(settings)
    store.catalog.save([KEPT, HALF], [])  # what a catalog written before it held chunks looks like

    reopened = open_store(settings)

    assert _agrees(reopened) and reopened.catalog.chunk_count() == 2
    assert retrieve("auction graphs", reopened, k=1)[0].chunk.paper.id == HALF.id


def test_stats_reports_whether_catalog_and_index_agree(settings: Settings) -> None:
    _stored(settings)
    stats = json.loads(run_cli("stats", "--json").output)
    assert stats["consistency"] == {"catalog_chunks": 1, "index_chunks": 1, "unsettled_chunks": 0, "consistent": True}
    assert stats["chunks"] == 1


def test_vectors_counted_from_chromas_file_are_the_vectors_chroma_counts(settings: Settings) -> None:
    store = _stored(settings)
    chunks = chunk_papers([HALF], settings)
    vectors = store.embed([c.text for c in chunks])

    def both() -> tuple[int, int]:
        return vector_count(settings, store.index.model_id), store.index.count()

    assert both() == (1, 1)
    store.index.add(chunks, vectors)
    assert both() == (2, 2)
    store.index.add(chunks, vectors)  # a replacement adds nothing
    assert both() == (2, 2)
    store.index.delete([chunks[0].id, "no-such-chunk"])
    assert both() == (1, 1)
    assert vector_count(settings, "another-model") == 0


def test_stats_tidies_what_an_unfinished_write_left_before_it_reports(settings: Settings) -> None:
    store = _stored(settings)
    chunks = chunk_papers([HALF], settings)
    store.catalog.unsettle([c.id for c in chunks])  # the process died after its vectors went in
    store.index.add(chunks, store.embed([c.text for c in chunks]))
    stats = json.loads(run_cli("stats", "--json").output)
    assert stats["consistency"] == {"catalog_chunks": 1, "index_chunks": 1, "unsettled_chunks": 0, "consistent": True}


def test_stats_says_where_the_keyword_index_is_and_how_big(settings: Settings) -> None:
    store = _stored(settings)
    first = json.loads(run_cli("stats", "--json").output)["keyword_index"]
    ingest_papers([HALF], store)
    second = json.loads(run_cli("stats", "--json").output)["keyword_index"]
    assert str(settings.catalog_path) in first["location"] and "keyword_postings" in first["location"]
    assert (first["chunks"], second["chunks"]) == (1, 2)
    assert 0 < first["bytes"] < second["bytes"]
    text = run_cli("stats").output
    assert "keyword_index" in text and f"bytes {second['bytes']}" in text


def test_kill_9_before_or_inside_a_write_leaves_a_store_the_next_open_repairs() -> None:
    # The bench kills real `paperboy ingest` processes (10 points in the README's run); two here: one
    # early in the run, one inside a write, each checked by a fresh process and then re-run to the end.
    bench = [sys.executable, str(ROOT / "bench" / "kill_ingest.py"), "--points", "2", "--days", "1", "--json"]
    done = subprocess.run(bench, capture_output=True, text=True, check=False, timeout=600)
    results = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["kill"].endswith("into a write") for r in results] == [False, True]
    inside = results[1]["after_kill"]
    assert inside["before_open"]["unsettled"] > 0  # it really died mid-write, and was repaired
    assert all(inside[check] for check in ("consistent", "index_matches_catalog", "search_finds_papers"))
    assert all(r["rerun_identical_to_clean"] for r in results)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 40 MB tmpfs, so a test can fill it; needs root (CI runs as root, a laptop may not)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a tmpfs of its own, which only root can mount")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave_kib: int = 40) -> Path:
    filler = disk / "filler"
    free_kib = shutil.disk_usage(disk).free // 1024
    with filler.open("wb") as out:
        out.truncate(0)
        block = b"\0" * 1024 * 1024
        for _ in range((free_kib - leave_kib) // 1024):
            out.write(block)
        out.write(b"\0" * 1024 * ((free_kib - leave_kib) % 1024))
    return filler


def test_a_full_disk_is_one_line_per_file_and_the_store_stays_as_it_was(
    small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_DATA_DIR", str(small_disk / "data"))
    settings = Settings()
    files = [write_jsonl(tmp_path / f"{name}.jsonl", [record]) for name, record in (("a", PAPER_A), ("b", PAPER_B))]
    late = write_jsonl(tmp_path / "c.jsonl", [{**PAPER_B, "id": "2510.00003", "title": "Graph Learning, Later"}])
    assert run_cli("ingest", str(files[0])).exit_code == 0
    before = snapshot(settings)
    filler = _fill(small_disk)

    result = run_cli("ingest", str(files[1]), str(late))

    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2 and all("disk is full" in line for line in errors), result.output  # both files tried
    assert "Traceback" not in result.output
    stats = run_cli("stats", "--json")
    assert stats.exit_code == 0 and json.loads(stats.stdout)["papers"] == 1
    assert snapshot(settings)[:2] == before[:2]  # what a user sees; stray vectors are invisible until tidied

    filler.unlink()
    assert run_cli("ingest", str(files[1]), str(late)).exit_code == 0
    store = open_store(settings)
    assert consistency(store.settings, store.catalog)["consistent"]
    assert {p["id"] for p in json.loads(run_cli("papers", "--json").stdout)} == {
        "2510.00001",
        "2510.00002",
        "2510.00003",
    }


@pytest.mark.parametrize(
    ("variable", "command"),
    [
        ("PAPERBOY_DATA_DIR", ("papers",)),
        ("PAPERBOY_DATA_DIR", ("ingest", "good.jsonl")),
        ("PAPERBOY_CACHE_DIR", ("ingest", "good.jsonl")),
    ],
)
def test_a_data_or_cache_dir_that_is_a_file_is_one_line_naming_it(
    variable: str, command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_jsonl(tmp_path / "good.jsonl", [PAPER_A])
    in_the_way = tmp_path / "not-a-folder"
    in_the_way.write_text("")
    monkeypatch.setenv(variable, str(in_the_way / "paperboy"))

    result = run_cli(*command)

    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: "), result.output
    assert str(in_the_way) in result.output and variable in result.output
