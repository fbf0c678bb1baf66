"""The machine's local model service: found by state file, shared across processes, restarted when gone,
stopped when idle; a person's question goes before background work across processes."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from pathlib import Path

import httpx2
import pytest

from rag import model_service
from rag.chains import ModelCalls
from rag.errors import ProviderError
from rag.model_service import ServiceState, ServiceTransport
from rag.prompts import Prompt
from rag.providers import local_chat
from rag.settings import Settings
from tests.conftest import SHARED_CACHE, run_cli
from tests.openai_stub import CHAT_PATH, OpenAIStub, free_port


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    return Settings(**{"cache_dir": tmp_path / "cache", "local_model_path": model, **overrides})


def _write_state(settings: Settings, pid: int, port: int) -> ServiceState:
    state = ServiceState(pid, port, "m", model_service.service_key(settings), 600, time.time())
    folder = model_service.service_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.json").write_text(json.dumps(asdict(state)))
    return state


def test_a_state_file_of_a_dead_process_or_junk_is_no_service(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert model_service.read_state(settings) is None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_state(settings, dead.pid, 1)
    assert model_service.read_state(settings) is None
    (model_service.service_dir(settings) / "service.json").write_text("{not json")
    assert model_service.read_state(settings) is None
    alive = _write_state(settings, os.getpid(), 1)
    assert model_service.read_state(settings) == alive


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()


def _port(stub: OpenAIStub) -> int:
    return int(stub.base_url.rsplit(":", 1)[1].split("/", 1)[0])


def test_the_transport_sends_to_the_service_and_restarts_one_that_is_gone(
    tmp_path: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    found = [
        ServiceState(os.getpid(), free_port(), "m", "k", 600, 0.0),  # crashed: its port is closed
        ServiceState(os.getpid(), _port(stub), "m", "k", 600, 0.0),  # started again
    ]
    replaced: list[ServiceState | None] = []

    def ensure(settings: Settings, unreachable: ServiceState | None = None) -> ServiceState:
        replaced.append(unreachable)
        return found.pop(0)

    monkeypatch.setattr(model_service, "ensure_service", ensure)
    crashed = found[0]
    llm = local_chat(settings)
    prompt = Prompt(name="t", version=1, variables=["q"], system="Answer.", user="{q}")
    reply = ModelCalls(llm, SHARED_CACHE).run(prompt, {"q": "Hello?"}, 8)
    assert reply
    assert replaced == [None, crashed]  # the second lookup names the service that did not answer
    assert len(stub.requests_to(CHAT_PATH)) == 1
    # Each request marks the service used, so its idle timer starts again.
    assert model_service.idle_seconds(settings) is not None
    assert model_service.idle_seconds(settings) < 5


@contextmanager
def _resetting_port() -> Iterator[int]:
    """A port that takes each connection and resets it, as a service being killed does."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def reset_each() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with suppress(TimeoutError):
                conn, _ = listener.accept()
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()

    thread = threading.Thread(target=reset_each, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("killed", [True, False])
def test_a_reset_connection_is_sent_again_only_when_the_service_is_gone(
    tmp_path: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch, killed: bool
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with _resetting_port() as port:
        dying = ServiceState(dead.pid if killed else os.getpid(), port, "m", "k", 600, 0.0)
        found = [dying, ServiceState(os.getpid(), _port(stub), "m", "k", 600, 0.0)]
        monkeypatch.setattr(model_service, "ensure_service", lambda settings, unreachable=None: found.pop(0))
        client = httpx2.Client(transport=ServiceTransport(_settings(tmp_path)))
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        if killed:
            assert client.post(f"{model_service.SERVICE_URL}/chat/completions", json=body).status_code == 200
            assert len(stub.requests_to(CHAT_PATH)) == 1
        else:  # a live service that reset the connection is not asked twice
            # The reset reads as ECONNRESET or, when the close wins the race, as a bare disconnect.
            with pytest.raises((httpx2.ReadError, httpx2.RemoteProtocolError)):
                client.post(f"{model_service.SERVICE_URL}/chat/completions", json=body)
            assert stub.requests_to(CHAT_PATH) == []


def test_a_service_that_cannot_start_is_one_message_about_the_local_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(settings: Settings, unreachable: ServiceState | None = None) -> ServiceState:
        raise ProviderError("The local model service stopped while starting (bad model); see service.log")

    monkeypatch.setattr(model_service, "ensure_service", fail)
    prompt = Prompt(name="t", version=1, variables=["q"], system="Answer.", user="{q}")
    with pytest.raises(ProviderError, match=r"^The local model service stopped while starting") as caught:
        ModelCalls(local_chat(_settings(tmp_path)), SHARED_CACHE).run(prompt, {"q": "Hello?"}, 8)
    assert "OPENAI_BASE_URL" not in str(caught.value)


_HOLD = """
import sys, time
from pathlib import Path
from rag.model_service import person_waiting
from rag.settings import Settings
with person_waiting(Settings(cache_dir=Path(sys.argv[1]))):
    print("waiting", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_background_work_waits_while_a_person_in_another_process_waits(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert model_service.nobody_waiting(settings)
    person = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(settings.cache_dir), "1.5"], stdout=subprocess.PIPE, text=True
    )
    assert person.stdout is not None and person.stdout.readline().strip() == "waiting"
    assert not model_service.nobody_waiting(settings)
    started = time.monotonic()
    model_service.wait_for_people(settings)
    assert time.monotonic() - started > 1.0  # it returned only once the person was answered
    person.wait(timeout=10)
    assert model_service.nobody_waiting(settings)


def test_waiting_for_people_ends_when_told_to_stop(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    stop = threading.Event()
    with model_service.person_waiting(settings):
        threading.Timer(0.3, stop.set).start()
        model_service.wait_for_people(settings, stop)  # would block forever without the stop
    assert stop.is_set()


def test_only_background_requests_wait(tmp_path: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    waited: list[bool] = []
    monkeypatch.setattr(
        model_service, "ensure_service", lambda s, unreachable=None: ServiceState(1, _port(stub), "m", "k", 1, 0.0)
    )
    monkeypatch.setattr(model_service, "wait_for_people", lambda s, stop=None: waited.append(True))
    client = httpx2.Client(transport=ServiceTransport(settings))
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    client.post(f"{model_service.SERVICE_URL}/chat/completions", json=body)
    assert waited == []
    with model_service.background_work():
        client.post(f"{model_service.SERVICE_URL}/chat/completions", json=body)
    assert waited == [True]


# With the real model: a bounded set, each loads it once or twice (~2-8 s).

_ENSURE = """
import sys
from pathlib import Path
from rag.model_service import ensure_service
from rag.settings import Settings
print(ensure_service(Settings(cache_dir=Path(sys.argv[1]), local_keep_alive=int(sys.argv[2]))).pid, flush=True)
"""


def _ensure_in_child(cache_dir: Path, keep_alive: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _ENSURE, str(cache_dir), str(keep_alive)], stdout=subprocess.PIPE, text=True
    )


@pytest.fixture
def service_cache(tmp_path: Path) -> Iterator[Path]:
    """A cache dir of its own (so no other test's service is touched) holding a link to the shared model."""
    from rag.local_model import QWEN_CODER_1_5B, ensure_assembled

    ensure_assembled(SHARED_CACHE / "models", QWEN_CODER_1_5B)
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    for shared in (SHARED_CACHE / "models").iterdir():
        (cache / "models" / shared.name).symlink_to(shared)
    yield cache
    model_service.stop_service(Settings(cache_dir=cache))


@pytest.mark.integration
def test_two_processes_share_one_service_that_comes_back_after_a_kill(service_cache: Path) -> None:
    first, second = _ensure_in_child(service_cache, 600), _ensure_in_child(service_cache, 600)
    pids = {int(first.communicate(timeout=300)[0]), int(second.communicate(timeout=300)[0])}
    assert len(pids) == 1  # two processes, one service
    settings = Settings(cache_dir=service_cache)
    state = model_service.read_state(settings)
    assert state is not None and state.pid in pids
    os.kill(state.pid, 9)  # a crash: the next request starts it again
    prompt = Prompt(name="t", version=1, variables=["q"], system="Answer in one word.", user="{q}")
    assert ModelCalls(local_chat(settings), SHARED_CACHE).run(prompt, {"q": "Capital of France?"}, 8)
    restarted = model_service.read_state(settings)
    assert restarted is not None and restarted.pid != state.pid
    stopped = model_service.stop_service(settings)
    assert stopped is not None and stopped.pid == restarted.pid
    assert model_service.read_state(settings) is None


@pytest.mark.integration
def test_the_service_stops_itself_after_its_keep_alive(service_cache: Path) -> None:
    child = _ensure_in_child(service_cache, 1)
    pid = int(child.communicate(timeout=300)[0])
    deadline = time.monotonic() + 30
    while model_service._alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not model_service._alive(pid)  # it exited by itself, idle after 1 s
    assert model_service.read_state(Settings(cache_dir=service_cache)) is None


@pytest.mark.parametrize("local", [True, False])
def test_a_timeout_is_one_message_about_the_model_that_timed_out(local: bool) -> None:
    import openai

    from rag.providers import provider_errors

    with pytest.raises(ProviderError) as caught, provider_errors("Asking m", local=local):
        raise openai.APITimeoutError(request=httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions"))
    message = str(caught.value)
    assert ("local model" in message) is local
    assert ("OPENAI_BASE_URL" in message) is not local


def test_model_status_and_stop_say_what_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_CACHE_DIR", str(tmp_path / "cache"))
    status = run_cli("model", "status", "--json")
    assert status.exit_code == 0 and json.loads(status.output) == {"running": False, "resident_pid": None}
    assert "not running; the next command that needs it starts it" in run_cli("model", "status").output
    # A running service (this test process stands in for it) is shown, then stopped by its pid.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        settings = Settings(cache_dir=tmp_path / "cache", local_model_path=_settings(tmp_path).local_model_path)
        _write_state(settings, sleeper.pid, 1234)
        shown = json.loads(run_cli("model", "status", "--json").output)
        assert shown["running"] and shown["pid"] == sleeper.pid and shown["url"] == "http://127.0.0.1:1234/v1"
        assert run_cli("model", "stop").output.strip() == f"Stopped the local model service (pid {sleeper.pid})."
        assert sleeper.wait(timeout=10) == -signal.SIGTERM
    finally:
        sleeper.kill()
    assert run_cli("model", "stop").output.strip() == "It was not running."
