"""A resident `paperboy` that keeps the answer path imported, so a question asked within the keep-alive
starts at once.

Importing what `ask` runs (LangChain's OpenAI client, Chroma, ONNX Runtime) takes ~2 s that hold the
GIL, which no thread can hide. So the first command that uses the local model (or `paperboy model
start`) also starts this process, detached like the model service: it imports those modules once and
waits on a Unix socket in the cache dir. A later `ask`, `search` or `explain` connects
and hands over its arguments, working dir, environment, umask and its stdin, stdout and stderr
(SCM_RIGHTS); the resident forks a child that runs the same `rag.cli.main` the command would have run
itself, writing straight to the caller's terminal or pipe. The caller relays its signals to that
child and exits with the child's code. The resident forks before it has made a thread, session,
client or settings object of its own, so each child starts as clean as a fresh process, with the
caller's environment and `.env`.

It stops after PAPERBOY_LOCAL_KEEP_ALIVE seconds without a command (0: never started), with `paperboy
model stop`, and as soon as a command finds that Paperboy's code on disk changed since it started.
Whenever no resident answers, the command runs in its own process, as it always did.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.settings import Settings

# The commands a resident runs: those that search or ask, whose imports are the time it saves.
RESIDENT_COMMANDS = frozenset({"ask", "search", "explain"})
# What the resident imports while it waits: the modules those commands load, heaviest first.
_ANSWER_PATH = (
    "chromadb",
    "chromadb.api.rust",
    "langchain_openai",
    "onnxruntime",
    "tokenizers",
    "httpx2",
    "tqdm",
    "rag.cli",
    "rag.answer",
    "rag.chains",
    "rag.explain",
    "rag.store",
    "rag.index",
    "rag.embeddings",
    "rag.providers",
    "rag.model_service",
)
# Paperboy's own code; a resident started before any of it changed would run the old code.
_CODE_ROOT = Path(__file__).resolve().parents[1]
_CODE_PACKAGES = ("rag", "evals")
# A Unix socket's path holds at most 107 bytes; a cache dir deeper than this gets no resident.
_MAX_SOCKET_PATH = 100
_SIGNALS_RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_HEADER = struct.Struct("!I")
# How often the resident looks at its idle time and for a request to stop.
_TICK_S = 0.5
# Set in a command the resident runs: it needs no resident started for the next one.
_in_resident = False


def main() -> None:
    """The `paperboy` command: run by a resident when one is up and holds the command, else here."""
    args = sys.argv[1:]
    if args and args[0] in RESIDENT_COMMANDS:
        try:
            code = run_in_resident(args)
        except KeyboardInterrupt:  # before the command had started
            sys.exit(130)
        if code is not None:
            sys.exit(code)
    from rag.cli import main as run_here

    run_here()


def resident_dir(cache_dir: Path) -> Path:
    """The resident's socket, pid and log."""
    return cache_dir / "resident"


def _install_tag() -> str:
    """Which checkout and interpreter a resident belongs to: two checkouts sharing a cache dir keep a
    resident each rather than stopping each other's."""
    return hashlib.sha256(f"{sys.executable}|{_CODE_ROOT}".encode()).hexdigest()[:8]


def _socket_path(cache_dir: Path) -> Path | None:
    path = resident_dir(cache_dir) / f"resident-{_install_tag()}.sock"
    return path if len(os.fsencode(path)) <= _MAX_SOCKET_PATH else None


def _pid_path(cache_dir: Path) -> Path:
    return resident_dir(cache_dir) / f"resident-{_install_tag()}.pid"


def _callers_cache_dir() -> Path:
    """The cache dir Settings would give this process, found without importing pydantic (0.25 s)."""
    named = os.environ.get("PAPERBOY_CACHE_DIR")
    if named is None and Path(".env").is_file():
        from dotenv import dotenv_values

        named = dotenv_values(".env").get("PAPERBOY_CACHE_DIR")
    if named:
        return Path(named)
    import platformdirs

    return Path(platformdirs.user_cache_dir("paperboy"))


def code_fingerprint(root: Path = _CODE_ROOT, packages: tuple[str, ...] = _CODE_PACKAGES) -> str:
    """What changes when Paperboy's code or its installed libraries change: the path, size and mtime of
    every module, and the mtime of the site-packages folder (which an install or upgrade touches)."""
    import sysconfig

    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    site_packages = Path(sysconfig.get_paths()["purelib"])
    digest.update(f"{sys.executable}|{site_packages.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


# The caller's side --------------------------------------------------------------------------------


def run_in_resident(args: list[str]) -> int | None:
    """Run `paperboy ARGS` in the resident and return its exit code; None when no resident took it
    (none running, or one with older code, which then stops), so the caller runs it itself."""
    path = _socket_path(_callers_cache_dir())
    if path is None or not path.exists():
        return None
    caller = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        caller.connect(str(path))
        umask = os.umask(0)
        os.umask(umask)
        request = {
            "argv": [sys.argv[0], *args],
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "umask": umask,
            "code": code_fingerprint(),
        }
        body = json.dumps(request).encode()
        socket.send_fds(caller, [_HEADER.pack(len(body))], [0, 1, 2])
        caller.sendall(body)
        replies = _lines(caller)
        first = next(replies, None)
        if first is None or "pid" not in first:
            return None
    except OSError:
        return None
    child = first["pid"]
    for number in _SIGNALS_RELAYED:
        signal.signal(number, lambda received, _frame: _relay(child, received))
    done = next(replies, None)
    if done is None:
        print("paperboy: the resident process stopped before the command finished.", file=sys.stderr)
        return 1
    return int(done["exit"])


def _relay(child: int, number: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(child, number)


def _lines(connection: socket.socket) -> Iterator[dict[str, Any]]:
    """The JSON lines the resident sends, until it closes the connection."""
    pending = b""
    while True:
        try:
            received = connection.recv(4096)
        except OSError:
            return
        if not received:
            return
        pending += received
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield json.loads(line)


# The resident's side ------------------------------------------------------------------------------


def start_resident(settings: Settings) -> None:
    """Start a resident for these settings' cache dir unless one runs or the keep-alive is 0. It
    returns at once: the resident imports in the background, and this command does not wait."""
    path = _socket_path(settings.cache_dir)
    if _in_resident or path is None or settings.local_keep_alive == 0 or _answers(path):
        return
    folder = resident_dir(settings.cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "resident.log").open("a") as log:
        subprocess.Popen(
            [sys.executable, "-m", "rag.resident", str(settings.cache_dir), str(settings.local_keep_alive)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal that started it does not reach it
        )


def resident_pid(settings: Settings) -> int | None:
    """The pid of the resident for these settings' cache dir, if one answers."""
    path = _socket_path(settings.cache_dir)
    if path is None or not _answers(path):
        return None
    try:
        return int(_pid_path(settings.cache_dir).read_text())
    except (OSError, ValueError):
        return None


def stop_resident(settings: Settings) -> int | None:
    """Stop the running resident, if any; returns its pid."""
    pid = resident_pid(settings)
    if pid is None:
        return None
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        return pid
    return None


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def serve(cache_dir: Path, keep_alive_s: float) -> None:
    """Be the resident for cache_dir until keep_alive_s pass without a command."""
    from rag.locks import file_lock

    path = _socket_path(cache_dir)
    if path is None:
        return
    folder = resident_dir(cache_dir)
    with file_lock(folder / "resident-start.lock"):  # released before any fork: children hold no lock
        if _answers(path):
            return  # another resident is up
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        bound = path.stat().st_ino
        listener.listen(16)
        _pid_path(cache_dir).write_text(str(os.getpid()))
    started = time.perf_counter()
    for module in _ANSWER_PATH:
        __import__(module)
    fingerprint = code_fingerprint()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the handlers are reaped by the kernel
    # A flag, looked at every tick: an exception raised by the handler could land in a fork hook
    # (logging's), which swallows it, and the resident would outlive `paperboy model stop`.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    print(f"resident {os.getpid()}: imported the answer path in {time.perf_counter() - started:.2f} s", flush=True)
    listener.settimeout(_TICK_S)
    last_command = time.monotonic()
    try:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if time.monotonic() - last_command > keep_alive_s:
                    print(f"resident {os.getpid()}: idle for {keep_alive_s:.0f} s, stopping", flush=True)
                    return
                continue
            last_command = time.monotonic()
            if os.fork() == 0:
                listener.close()
                _handle(connection, fingerprint)
            connection.close()
    finally:
        with suppress(OSError):
            if path.stat().st_ino == bound:  # not a later resident's socket
                path.unlink()


def _handle(connection: socket.socket, fingerprint: str) -> None:
    """In a forked handler: read one command, run it in a child of its own, report its exit code."""
    code = 1
    try:
        uid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != os.getuid():
            return  # only this user's commands run as this user (the socket is 0600 too)
        connection.settimeout(10.0)  # a caller sends its request at once
        received = _receive(connection)
        if received is None:
            return  # a probe: is a resident up?
        request, fds = received
        connection.settimeout(None)
        if request["code"] != fingerprint:
            # Paperboy changed on disk: the caller runs the command itself, and this resident stops.
            os.kill(os.getppid(), signal.SIGTERM)
            return
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        started = time.perf_counter()
        child = os.fork()
        if child == 0:
            connection.close()
            _run_command(request, fds)
        for fd in fds:
            os.close(fd)
        connection.sendall(json.dumps({"pid": child}).encode() + b"\n")
        code = _wait(child, connection)
        with suppress(OSError):
            connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
        seconds = time.perf_counter() - started
        print(f"ran {request['argv'][1]} (pid {child}): exit {code} in {seconds:.2f} s", flush=True)
    except BaseException as ex:  # a handler never returns into the resident's loop
        print(f"a command failed to start: {ex!r}", flush=True)
    finally:
        os._exit(0)


def _receive(connection: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """The caller's request and its three streams; None when it hung up without one."""
    header, fds, _flags, _address = socket.recv_fds(connection, _HEADER.size, 3)
    if not header and not fds:
        return None
    if len(header) != _HEADER.size or len(fds) != 3:
        raise OSError("a request without its header and three streams")
    (size,) = _HEADER.unpack(header)
    body = b""
    while len(body) < size:
        part = connection.recv(size - len(body))
        if not part:
            raise OSError("a request cut short")
        body += part
    return json.loads(body), fds


def _wait(child: int, connection: socket.socket) -> int:
    """The child's exit code, as a shell gives it (128 + the signal that killed it). A caller that goes
    away (killed, or its terminal closed) takes its command with it."""
    pidfd = os.pidfd_open(child)
    try:
        ready, _, _ = select.select([pidfd, connection], [], [])
        if pidfd not in ready and not connection.recv(1, socket.MSG_PEEK):
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
    finally:
        os.close(pidfd)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _run_command(request: dict[str, Any], fds: list[int]) -> None:
    """In the command's own process: become the caller (streams, dir, environment), run, exit."""
    global _in_resident
    _in_resident = True
    for number in (*_SIGNALS_RELAYED, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    # New stream objects, buffered as Python buffers a fresh process's: line by line on a terminal.
    sys.stdin = open(0, encoding=sys.stdin.encoding, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stdout = open(1, "w", encoding=sys.stdout.encoding, closefd=False, buffering=1 if os.isatty(1) else -1)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding=sys.stderr.encoding, errors="backslashreplace", closefd=False, buffering=1)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # local time as the caller's TZ has it
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    sys.argv = request["argv"]
    code = 1
    try:
        from rag.cli import main as run_here

        run_here()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if not isinstance(done.code, int | None):
            print(done.code, file=sys.stderr)
    except BaseException:
        sys.excepthook(*sys.exc_info())
    finally:
        # What an interpreter's exit would have run (a store that was tidied closes the orderly way).
        atexit._run_exitfuncs()
        with suppress(OSError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), float(sys.argv[2]))
