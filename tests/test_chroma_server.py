"""Server mode: a real `chroma run` on a free loopback port, reached through CHROMA_HOST/CHROMA_PORT."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
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
