"""A real HTTP server on 127.0.0.1 standing in for the Hugging Face daily papers API and the arXiv API.

It answers from fixture files in the shape those services return: `/api/daily_papers?date=D&p=N`
gives the day's JSON list (or [] past the last page, or HTTP 400 for a day after `today`, as the site
does), `/api/query?...` an arXiv Atom feed. Every request is recorded. Tests and benchmarks point
PAPERBOY_HF_API_URL / PAPERBOY_ARXIV_API_URL at it; nothing leaves the machine.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HF_PATH = "/api/daily_papers"
ARXIV_PATH = "/api/query"


@dataclass
class StandIn:
    """What the stand-in serves: HF days by date, one arXiv feed, and the requests it saw."""

    hf_days: dict[str, bytes] = field(default_factory=dict)
    arxiv_feed: bytes | None = None
    today: date | None = None  # a later date answers HTTP 400, as a future date does on the site
    delay_s: float = 0.0  # seconds before each answer: time for a test to stop a client mid-request
    requests: list[str] = field(default_factory=list)
    base_url: str = ""

    @property
    def hf_url(self) -> str:
        """What PAPERBOY_HF_API_URL should be."""
        return self.base_url + HF_PATH

    @property
    def arxiv_url(self) -> str:
        """What PAPERBOY_ARXIV_API_URL should be."""
        return self.base_url + ARXIV_PATH

    def answer(self, target: str) -> tuple[int, bytes, str]:
        """(status, body, content type) for a request target."""
        self.requests.append(target)
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == HF_PATH:
            day = query.get("date", "")
            if self.today and day > self.today.isoformat():
                return 400, b'{"error":"Invalid date"}', "application/json"
            page = int(query.get("p", "0"))
            return 200, self.hf_days.get(day, b"[]") if page == 0 else b"[]", "application/json"
        if parts.path == ARXIV_PATH and self.arxiv_feed is not None:
            return 200, self.arxiv_feed, "application/atom+xml"
        return 404, b"not found", "text/plain"


def _handler_for(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(stand_in.delay_s)
            status, body, content_type = stand_in.answer(self.path)
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serving(stand_in: StandIn) -> Iterator[StandIn]:
    """Serve stand_in on a free loopback port for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(stand_in))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    stand_in.base_url = f"http://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
