"""The resident `paperboy`: a command it runs behaves as the command run by itself (the caller's
environment, `.env`, working dir, streams, exit code and signals), and a resident with other code
steps aside."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag import model_service
from rag.resident import code_fingerprint, resident_dir, resident_pid, start_resident, stop_resident
from rag.settings import Settings
from tests.conftest import ROOT
from tests.openai_stub import CHAT_PATH, OpenAIStub, silent

PAPERBOY = Path(sys.executable).with_name("paperboy")
_IN_PROCESS = "import sys; from rag.cli import main; sys.argv[0] = 'paperboy'; main()"


@pytest.fixture
def cache() -> Iterator[Path]:
    """A cache dir of its own, short enough for a Unix socket path; its resident stopped at the end."""
    folder = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))
    yield folder
    stop_resident(Settings(cache_dir=folder))
    shutil.rmtree(folder, ignore_errors=True)


def _log(cache: Path) -> str:
    path = resident_dir(cache) / "resident.log"
    return path.read_text() if path.exists() else ""


def _wait_for(predicate: Callable[[], object], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _started(cache: Path, env: dict[str, str] | None = None) -> int:
    """A resident for cache, started the way `paperboy model start` starts one: its pid, once it has
    imported the answer path."""
    keep = os.environ.copy()
    try:
        os.environ.clear()
        os.environ.update(env or keep)
        start_resident(Settings(cache_dir=cache, local_keep_alive=60, _env_file=None))
    finally:
        os.environ.clear()
        os.environ.update(keep)
    _wait_for(lambda: "imported the answer path" in _log(cache))
    return int(re.search(r"resident (\d+): imported", _log(cache)).group(1))  # type: ignore[union-attr]


def _caller_env(cache: Path, **more: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(cache), "PAPERBOY_CACHE_DIR": str(cache), **more}


def test_a_command_runs_in_the_resident_as_the_caller_would_run_it(
    sample_store: Path, cache: Path, tmp_path: Path
) -> None:
    _started(cache, _caller_env(cache, PAPERBOY_DATA_DIR=str(tmp_path / "nothing-here")))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text(f"PAPERBOY_DATA_DIR={sample_store}\n")  # the caller's .env, not the resident's
    query = ["search", "discrete diffusion sampler distillation", "--json"]

    resident = subprocess.run([str(PAPERBOY), *query], env=_caller_env(cache), cwd=elsewhere, capture_output=True)
    itself = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, *query], env=_caller_env(cache), cwd=elsewhere, capture_output=True
    )

    assert resident.returncode == 0, resident.stderr
    assert "ran search" in _log(cache)
    assert json.loads(resident.stdout) == json.loads(itself.stdout)
    assert json.loads(resident.stdout)["results"]

    unknown = subprocess.run(
        [str(PAPERBOY), "ask", "What does it do?", "--paper", "9999.99999"],
        env=_caller_env(cache),
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "No paper with id '9999.99999'" in unknown.stderr
    assert "ran ask" in _log(cache)


def test_a_resident_whose_code_changed_on_disk_stops_and_the_command_runs_itself(
    sample_store: Path, cache: Path, tmp_path: Path
) -> None:
    """A checkout of its own (a copy keeps sizes and times), so the test can edit it."""
    code = tmp_path / "code"
    for package in ("rag", "evals"):
        shutil.copytree(ROOT / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_fingerprint(code) == code_fingerprint()
    env = _caller_env(cache, PYTHONPATH=str(code), PAPERBOY_DATA_DIR=str(sample_store))
    pid = _started(cache, env)
    query = [sys.executable, "-c", "from rag.resident import main; main()", "search", "sampler distillation", "--json"]

    before = subprocess.run(query, env=env, cwd=tmp_path, capture_output=True)
    os.utime(code / "rag" / "answer.py")  # as an edit or a `git pull` would
    after = subprocess.run(query, env=env, cwd=tmp_path, capture_output=True)

    assert before.returncode == after.returncode == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert _log(cache).count("ran search") == 1  # the first, not the one after the edit
    _wait_for(lambda: not model_service._alive(pid), 10)


@pytest.mark.parametrize("how", ["SIGTERM to the caller", "SIGKILL of the caller"])
def test_stopping_the_caller_stops_its_command(how: str, sample_store: Path, cache: Path) -> None:
    stub = OpenAIStub().start()
    try:
        stub.always(CHAT_PATH, silent(30))  # an answer that would take 30 s
        _started(cache)
        env = _caller_env(cache, PAPERBOY_DATA_DIR=str(sample_store), OPENAI_API_KEY="sk-test")
        caller = subprocess.Popen(
            [str(PAPERBOY), "ask", "How does the sampler work?", "--json"],
            env={**env, "OPENAI_BASE_URL": stub.base_url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: stub.requests_to(CHAT_PATH), 60)
        if how == "SIGTERM to the caller":
            caller.send_signal(signal.SIGTERM)
            assert caller.wait(timeout=10) == 128 + signal.SIGTERM
        else:
            caller.kill()
            caller.wait(timeout=10)
        _wait_for(lambda: f"exit {128 + signal.SIGTERM}" in _log(cache), 10)  # the command itself stopped
    finally:
        stub.stop()


def test_model_status_shows_the_resident_and_model_stop_stops_it(cache: Path) -> None:
    pid = _started(cache)
    status = subprocess.run([str(PAPERBOY), "model", "status", "--json"], env=_caller_env(cache), capture_output=True)
    assert json.loads(status.stdout) == {"running": False, "resident_pid": pid}
    stopped = subprocess.run([str(PAPERBOY), "model", "stop"], env=_caller_env(cache), capture_output=True)
    assert stopped.returncode == 0
    _wait_for(lambda: not model_service._alive(pid), 10)
    assert resident_pid(Settings(cache_dir=cache)) is None
    assert not list(resident_dir(cache).glob("*.sock"))
