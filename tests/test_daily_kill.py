"""Real `paperboy daily` processes killed with SIGKILL inside each step, then run again: the day ends up
exactly as an uninterrupted run leaves it, nothing lost and nothing twice.

The Daily Papers API is a stand-in server on 127.0.0.1 (a real day of the archive, 24 papers), the chat
model an OpenAI-compatible stub on 127.0.0.1 that takes 0.15 s a reply, the embeddings the real MiniLM.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT, SHARED_CACHE, topic_or_explainer
from tests.openai_stub import CHAT_PATH, OpenAIStub, silent
from tests.stand_in import StandIn, serving

pytestmark = pytest.mark.integration

DAY = "2025-06-17"
DAY_FILE = ROOT / "evals" / "corpora" / "hf-daily" / f"{DAY}.json"
PAPERBOY = Path(sys.executable).with_name("paperboy")
# Each kill: the log line that says the step started, and how long after it the process dies.
KILLS = [("fetch", 0.3), ("ingest", 1.0), ("explain", 1.2), ("topics", 0.05), ("digest", 0.0)]


def _reply(body: dict) -> str:
    return topic_or_explainer([SimpleNamespace(content=m["content"]) for m in body["messages"]])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[StandIn, OpenAIStub]]:
    """The day's API (answering after 1 s, so a fetch can be stopped mid-request) and the chat stub."""
    stub = OpenAIStub().start()
    stub.answer = _reply
    stub.always(CHAT_PATH, silent(0.15))
    with serving(StandIn(hf_days={DAY: DAY_FILE.read_bytes()}, delay_s=1.0)) as stand_in:
        yield stand_in, stub
    stub.stop()


def _env(data_dir: Path, services: tuple[StandIn, OpenAIStub]) -> dict[str, str]:
    stand_in, stub = services
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPERBOY_", "CHROMA_"))},
        "PAPERBOY_DATA_DIR": str(data_dir),
        "PAPERBOY_CACHE_DIR": str(SHARED_CACHE),
        "PAPERBOY_HF_API_URL": stand_in.hf_url,
        "OPENAI_API_KEY": "sk-stub",
        "OPENAI_BASE_URL": stub.base_url,
        "PAPERBOY_CHAT_MODEL": "stub-model",
    }


def _daily(env: dict[str, str], kill_at: tuple[str, float] | None = None) -> tuple[int, str]:
    """Run `paperboy daily --date DAY`; with kill_at, SIGKILL it that long after the step's start line."""
    process = subprocess.Popen(
        [str(PAPERBOY), "daily", "--date", DAY], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    lines: list[str] = []

    def watch() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if kill_at and line.rstrip().endswith(f"{kill_at[0]}: started"):
                time.sleep(kill_at[1])
                process.send_signal(signal.SIGKILL)

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    return code, "".join(lines)


def _state(data_dir: Path) -> dict:
    """What a reader of the day sees, and the rows that would show a loss or a duplicate."""
    with sqlite3.connect(data_dir / "catalog.sqlite3") as db:
        rows = {
            "papers": db.execute("SELECT COUNT(*) FROM papers").fetchone()[0],
            "listings": db.execute("SELECT COUNT(*) FROM listings WHERE day = ?", [DAY]).fetchone()[0],
            "explainers per paper": sorted(
                {n for (n,) in db.execute("SELECT COUNT(*) FROM explainers GROUP BY paper_id")}
            ),
            "chunks": db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
        }
    digest = data_dir / "digests" / f"{DAY}.md"
    rows["digest"] = digest.read_text() if digest.exists() else None
    rows["downloads"] = sorted(p.name for p in (data_dir / "downloads").iterdir())
    return rows


def test_killed_at_every_step_it_completes_with_nothing_lost_or_twice(
    tmp_path: Path, services: tuple[StandIn, OpenAIStub]
) -> None:
    reference_dir = tmp_path / "reference"
    code, log = _daily(_env(reference_dir, services))
    assert code == 0, log
    expected = _state(reference_dir)
    papers = len(json.loads(DAY_FILE.read_text()))
    assert (expected["papers"], expected["listings"], expected["explainers per paper"]) == (papers, papers, [1])

    data_dir = tmp_path / "killed"
    env = _env(data_dir, services)
    for step, after_s in KILLS:
        code, log = _daily(env, (step, after_s))
        assert code == -signal.SIGKILL, f"the run was not killed in {step}:\n{log}"
        assert f"{step}: started" in log
    code, log = _daily(env)
    assert code == 0, log
    assert _state(data_dir) == expected
    stats = subprocess.run([str(PAPERBOY), "stats", "--json"], env=env, capture_output=True, text=True, check=True)
    assert json.loads(stats.stdout)["consistency"]["consistent"] is True
    # Once complete, a run does nothing.
    code, log = _daily(env)
    assert code == 0 and "started" not in log
