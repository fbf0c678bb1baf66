"""`paperboy ui` on a free loopback port, and Debian's Chromium: shared by the browser tests and bench/ui.py."""

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from tests.openai_stub import free_port

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts on a closed network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _healthy(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/_stcore/health", timeout=1).text == "ok"
    except httpx2.HTTPError:
        return False


def start_app(log: Path, env: dict[str, str] | None = None, timeout_s: float = 60) -> tuple[subprocess.Popen, str]:
    """`paperboy ui` on a free loopback port, once it answers /_stcore/health: the process and its URL."""
    url = f"http://127.0.0.1:{free_port()}"
    paperboy = Path(sys.executable).with_name("paperboy")
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(paperboy), "ui", "--port", url.rsplit(":", 1)[1]], env=env, stdout=out, stderr=out
        )
    deadline = time.monotonic() + timeout_s
    while not _healthy(url):
        if server.poll() is not None:
            raise RuntimeError(f"paperboy ui exited before it was ready:\n{log.read_text()}")
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"the app did not answer /_stcore/health within {timeout_s:.0f} s")
        time.sleep(0.1)
    return server, url


@contextmanager
def running_app(log: Path, env: dict[str, str] | None = None, timeout_s: float = 60) -> Iterator[str]:
    """`paperboy ui` on a free loopback port, once it answers /_stcore/health: its URL. Stopped afterwards."""
    server, url = start_app(log, env, timeout_s)
    try:
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
