"""Server mode: a real `chroma run` on a free loopback port, reached through CHROMA_HOST/CHROMA_PORT."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from rag.chunks import chunk_papers
from rag.models import Paper
from rag.settings import Settings
from rag.store import open_store
from tests.conftest import run_cli
from tests.openai_stub import free_port

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fake_embedder")]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    """Start `chroma run` and wait for its heartbeat; stop it afterwards."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server-store"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx2.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"chroma run did not start: {(tmp_path / 'chroma.log').read_text()[-2000:]}")
    yield port
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_ingest_and_search_through_a_chroma_server(
    chroma_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(chroma_server))
    papers = tmp_path / "papers.jsonl"
    papers.write_text(
        json.dumps({"id": "2510.1", "title": "Solar panels", "abstract": "Cheaper solar panel cells."})
        + "\n"
        + json.dumps({"id": "2510.2", "title": "Protein folding", "abstract": "Predicting protein folding."})
        + "\n"
    )
    assert run_cli("ingest", str(papers)).exit_code == 0

    stats = json.loads(run_cli("stats", "--json").output)
    assert (stats["chunks"], stats["store"]) == (2, f"127.0.0.1:{chroma_server}")
    hits = json.loads(run_cli("search", "protein folding", "-k", "1", "--json").output)["results"]
    assert hits[0]["paper_id"] == "2510.2"
    # The embedded store was never touched: the chunks live on the server.
    assert not (tmp_path / "data" / "chroma").exists()


def test_dead_chroma_server_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(free_port()))
    result = run_cli("stats")
    assert result.exit_code == 1
    assert "CHROMA_HOST" in result.output
    assert "Traceback" not in result.output


def _record(paper_id: str, title: str, abstract: str) -> dict[str, str]:
    return {"id": paper_id, "title": title, "abstract": abstract}


SOLAR = _record("2510.1", "Solar panels", "Cheaper solar panel cells.")
PROTEIN = _record("2510.2", "Protein folding", "Predicting protein folding.")
GRAPHS = _record("2510.3", "Graph auctions", "Auctions on graphs with a billion edges.")


def test_machines_sharing_a_chroma_server_never_touch_each_other_s_vectors(
    chroma_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two machines, each with its own data dir (catalog and keyword index), one Chroma server. Before
    each library had a collection of its own, machine A replacing a paper both hold, or tidying after
    a crash, deleted vectors machine B still used, and B's dense search lost the paper."""
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(chroma_server))
    machines = {name: tmp_path / name for name in ("a", "b")}

    def on(machine: str, *args: str) -> dict:
        monkeypatch.setenv("PAPERBOY_DATA_DIR", str(machines[machine]))
        result = run_cli(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def dense(machine: str, query: str) -> list[str]:
        return [r["paper_id"] for r in on(machine, "search", query, "--mode", "dense", "-k", "3")["results"]]

    on("a", "ingest", str(_jsonl(tmp_path / "a.jsonl", [SOLAR, PROTEIN])))
    on("b", "ingest", str(_jsonl(tmp_path / "b.jsonl", [PROTEIN, GRAPHS])))
    edited = {**PROTEIN, "abstract": "Predicting protein folding with a new diffusion model."}
    on("a", "ingest", str(_jsonl(tmp_path / "a2.jsonl", [edited])))  # A drops its old PROTEIN vector
    monkeypatch.setenv("PAPERBOY_DATA_DIR", str(machines["a"]))
    store = open_store(Settings())  # A dies inside a write of GRAPHS: vectors in, catalog not yet
    chunks = chunk_papers([Paper(**GRAPHS, source="jsonl")], store.settings)
    store.catalog.unsettle([c.id for c in chunks])
    store.index.add(chunks, store.embed([c.text for c in chunks]))

    stats = {machine: on(machine, "stats") for machine in machines}  # A's open tidies its leftover

    assert stats["a"]["collection"] != stats["b"]["collection"]
    assert all(s["consistency"]["consistent"] for s in stats.values())
    assert dense("b", "protein folding")[0] == PROTEIN["id"]
    assert dense("b", "graph auctions billion edges")[0] == GRAPHS["id"]
    assert set(dense("a", "graph auctions billion edges")) == {SOLAR["id"], PROTEIN["id"]}
    # Each machine's keyword index is in its own catalog and follows only its own ingests.
    assert [r["paper_id"] for r in on("a", "search", "auctions", "--mode", "bm25")["results"]] == []
    assert [r["paper_id"] for r in on("b", "search", "auctions", "--mode", "bm25")["results"]] == [GRAPHS["id"]]


def _jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
