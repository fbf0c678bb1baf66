"""One local model service per machine, shared by every CLI call, the app and evals.

A llama.cpp server holds ~2 GB and both cores; two processes each running one crawl, and a CLI
call that loads its own pays ~4-8 s before the first word. So the first process that needs the
model starts it as a service of its own (a detached `python -m rag.model_service`), writes where
it listens to a state file in the cache dir, and every later process finds it there. The service
stops itself after `local_keep_alive` seconds without a request. Requests reach it through
`ServiceTransport`, which finds (or restarts) the service for every request, so a service that
crashed or idled out is started again by the next request of a process that already held it.

Across processes, a person's question goes first: while one is waiting (`person_waiting()`),
background work (`background_work()`: explainers, topic names) holds its next request back.
"""

import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2

from rag.errors import ProviderError
from rag.local_model import model_file, slots, start_local_server
from rag.locks import file_lock, try_lock
from rag.settings import Settings, get_settings

# How long a starting service may take: loading is 1.3 s from the page cache, 6-8 s on a busy box.
_START_TIMEOUT_S = 180.0
# How often the service looks at its idle time, and how long `stop` waits before SIGKILL.
_TICK_S = 1.0
_STOP_TIMEOUT_S = 10.0
# How long a service whose connection was reset may take to exit (measured: gone within 0.1 s of a kill).
_EXIT_GRACE_S = 2.0
# How often background work looks again while a person is waiting.
_WAIT_S = 0.25
# The host the chat client is pointed at; the transport sends each request to the service's real port.
SERVICE_URL = "http://local-model.paperboy/v1"

_BACKGROUND: ContextVar[bool] = ContextVar("paperboy_background_work", default=False)


@dataclass(frozen=True)
class ServiceState:
    """Where a running service listens and what it serves, as its state file records it."""

    pid: int
    port: int
    model_name: str
    key: str
    keep_alive_s: int
    started: float

    @property
    def address(self) -> str:
        """Where it listens on loopback."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL."""
        return f"{self.address}/v1"


def service_dir(settings: Settings) -> Path:
    """The service's files live in the cache dir, which every data dir of this user shares."""
    return settings.cache_dir / "model-service"


def service_key(settings: Settings) -> str:
    """What makes two services different: model file, window and threads."""
    return f"{model_file(settings).resolve()}|ctx={settings.local_context_tokens}|threads={settings.local_threads}"


def _state_path(folder: Path) -> Path:
    return folder / "service.json"


def _alive(pid: int) -> bool:
    """True while pid runs; an exited child not yet reaped (a zombie) is not running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _exits_within(pid: int, seconds: float) -> bool:
    """True when pid is gone now or within `seconds`."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def read_state(settings: Settings) -> ServiceState | None:
    """The running service's state, or None when there is none (no file, or its process is gone)."""
    try:
        state = ServiceState(**json.loads(_state_path(service_dir(settings)).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return state if _alive(state.pid) else None


def touch(settings: Settings) -> None:
    """Mark the service used now: its idle time counts from the last request of any process."""
    path = service_dir(settings) / "last-used"
    # An unwritable cache dir costs the idle timer, not the request.
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def ensure_service(settings: Settings, unreachable: ServiceState | None = None) -> ServiceState:
    """The running service for these settings, started (or restarted) when there is none that answers.

    A lock makes two processes that both find none start one service, not two. `unreachable` is a
    service a request could not connect to: it is replaced, unless another process already did so.
    """
    key = service_key(settings)
    state = read_state(settings)
    if state and state.key == key and state != unreachable:
        return state
    folder = service_dir(settings)
    with file_lock(folder / "start.lock"):
        state = read_state(settings)
        if state and state.key == key and state != unreachable and slots(state.address) is not None:
            return state
        if state:  # another model or window: only one service per machine
            _stop_process(state.pid)
        return _start(settings, key)


def _start(settings: Settings, key: str) -> ServiceState:
    folder = service_dir(settings)
    _state_path(folder).unlink(missing_ok=True)
    log = folder / "service.log"
    overrides = {
        "cache_dir": str(settings.cache_dir),
        "local_model_path": str(model_file(settings)),
        "local_context_tokens": settings.local_context_tokens,
        "local_threads": settings.local_threads,
        "local_keep_alive": settings.local_keep_alive,
        "debug": settings.debug,
    }
    with log.open("w") as out:
        # Its own session: a Ctrl-C in the terminal that started it stops the CLI, not the shared service.
        child = subprocess.Popen(
            [sys.executable, "-m", "rag.model_service", json.dumps(overrides)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = read_state(settings)
        if state and state.pid == child.pid:
            return state
        if child.poll() is not None:
            tail = " ".join(log.read_text(errors="replace").split()[-40:])
            raise ProviderError(f"The local model service stopped while starting ({tail or 'no output'}); see {log}")
        time.sleep(0.1)
    child.terminate()
    raise ProviderError(f"The local model service did not start within {_START_TIMEOUT_S:.0f} s; see {log}")


def _stop_process(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _exits_within(pid, _STOP_TIMEOUT_S):
        os.kill(pid, signal.SIGKILL)


def stop_service(settings: Settings) -> ServiceState | None:
    """Stop the running service, if any; returns what was stopped."""
    with file_lock(service_dir(settings) / "start.lock"):
        state = read_state(settings)
        if state:
            _stop_process(state.pid)
            _state_path(service_dir(settings)).unlink(missing_ok=True)
        return state


def idle_seconds(settings: Settings) -> float | None:
    """Seconds since the last request, or None when the service was never used."""
    try:
        return time.time() - (service_dir(settings) / "last-used").stat().st_mtime
    except OSError:
        return None


@contextmanager
def person_waiting(settings: Settings) -> Iterator[None]:
    """Mark, for every process, that a person waits for an answer: background work holds back meanwhile."""
    with file_lock(service_dir(settings) / "people.lock", fcntl.LOCK_SH):
        yield


@contextmanager
def background_work() -> Iterator[None]:
    """Mark this thread's model requests as background work: each waits while a person is waiting."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


def nobody_waiting(settings: Settings) -> bool:
    """True when no process holds person_waiting()."""
    with try_lock(service_dir(settings) / "people.lock") as taken:
        return taken


def wait_for_people(settings: Settings, stop: threading.Event | None = None) -> None:
    """Block while any process's person is waiting for an answer (or until stop is set)."""
    stop = stop or threading.Event()
    while not nobody_waiting(settings) and not stop.wait(_WAIT_S):
        pass


class ServiceTransport(httpx2.BaseTransport):
    """Sends each request to the machine's model service, starting it when it is not running.

    A request that finds the port closed (the service crashed, was killed or idled out between two
    requests) starts the service again and is sent once more.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # An HTTP(S)_PROXY in the environment would otherwise capture calls to 127.0.0.1.
        self._inner = httpx2.HTTPTransport(trust_env=False)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if _BACKGROUND.get():
            wait_for_people(self._settings)
        request.read()  # the body is sent again if the first try finds the service gone
        state = ensure_service(self._settings)
        try:
            return self._send(request, state)
        except httpx2.ConnectError:
            pass
        except (httpx2.ReadError, httpx2.RemoteProtocolError):
            # A service killed a moment ago still holds its port while the kernel tears it down: the
            # connection is taken, then reset. Sent again only when the process is gone, so a live
            # service never answers one request twice.
            if not _exits_within(state.pid, _EXIT_GRACE_S):
                raise
        return self._send(request, ensure_service(self._settings, unreachable=state))

    def _send(self, request: httpx2.Request, state: ServiceState) -> httpx2.Response:
        touch(self._settings)
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=state.port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def serve(settings: Settings) -> None:
    """Run the service in this process until it is idle for local_keep_alive seconds or told to stop."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = start_local_server(settings)
    folder = service_dir(settings)
    port = int(urlsplit(server.base_url).port or 0)
    state = ServiceState(
        pid=os.getpid(),
        port=port,
        model_name=server.model_name,
        key=service_key(settings),
        keep_alive_s=settings.local_keep_alive,
        started=time.time(),
    )
    touch(settings)
    tmp = folder / f".service.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(state)))
    os.replace(tmp, _state_path(folder))
    print(f"serving {state.model_name} on {state.base_url} (pid {state.pid})", flush=True)
    try:
        while not stop.wait(_TICK_S):
            idle = idle_seconds(settings)
            # A long answer is one request: the service is idle only when no slot is working either.
            working = slots(state.address)
            busy = working is None or any(slot.get("is_processing") for slot in working)
            if idle is not None and idle > settings.local_keep_alive and not busy:
                print(f"idle for {idle:.0f} s: stopping", flush=True)
                break
    finally:
        mine = read_state(settings)
        if mine is None or mine.pid == os.getpid():
            _state_path(folder).unlink(missing_ok=True)
        server.stop()


def main() -> None:
    """`python -m rag.model_service '{settings as JSON}'`: what ensure_service starts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", help="JSON object of the settings to serve with")
    serve(get_settings(**json.loads(parser.parse_args().settings)))


if __name__ == "__main__":
    main()
