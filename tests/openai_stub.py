"""A scriptable OpenAI-compatible server on loopback: chat completions (JSON and SSE) and embeddings.

Each path answers from its own queue of scripted `Reply`s first, then from its default (a success unless a
test sets another). Every request is recorded with its path, headers and JSON body.
"""

import base64
import hashlib
import json
import math
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

CHAT_PATH = "/v1/chat/completions"
EMBED_PATH = "/v1/embeddings"
EMBED_DIM = 16


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a success (status 200), an error with OpenAI's error body, or (with
    mid_stream) a 200 stream that sends its first words and then an error event, as OpenAI, vLLM
    and llama.cpp do when generation fails after the headers went out."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "scripted error"
    mid_stream: bool = False
    raw: bytes | None = None  # a 200 whose body is exactly this (broken JSON, a broken event stream)
    silent_s: float = 0.0  # seconds of silence: before anything, or (with mid_stream) after the first words

    def error_body(self) -> dict[str, Any]:
        """OpenAI's error envelope."""
        return {"error": {"message": self.message, "type": "server_error", "param": None, "code": None}}


OK = Reply()


def mid_stream_error(message: str = "The server had an error while processing your request.") -> Reply:
    """A stream that breaks off with `data: {"error": ...}` after its first words."""
    return Reply(200, message=message, mid_stream=True)


def silent(seconds: float, mid_stream: bool = False) -> Reply:
    """A server that takes the request and says nothing for `seconds` (then answers), or that goes quiet
    after a stream's first words."""
    return Reply(200, mid_stream=mid_stream, silent_s=seconds)


def rate_limited(ms: int = 10) -> Reply:
    """A 429 that tells the client to wait ms milliseconds, as OpenAI does with retry-after-ms."""
    return Reply(429, {"retry-after-ms": str(ms)}, "Rate limit reached for requests")


@dataclass(frozen=True)
class Request:
    """What the client sent."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def stub_vector(text: str, dim: int = EMBED_DIM) -> list[float]:
    """A deterministic unit vector for text: same text, same vector."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [digest[i % len(digest)] - 127.5 for i in range(dim)]
    norm = sum(v * v for v in raw) ** 0.5
    return [v / norm for v in raw]


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (a timeout under test) closes its end: no traceback on the test's stderr."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class OpenAIStub:
    """The server's state, shared by its handler threads."""

    def __init__(self) -> None:
        # What a chat completion says: a fixed text, or a function of the request body.
        self.answer: str | Callable[[dict[str, Any]], str] = "Stub answer [1]."
        # P(yes) a yes/no reply's first token carries when the client asks for logprobs; None sends none.
        self.yes_probability: float | Callable[[dict[str, Any]], float] | None = None
        self.requests: list[Request] = []
        self._queues: dict[str, deque[Reply]] = {CHAT_PATH: deque(), EMBED_PATH: deque()}
        self._defaults: dict[str, Reply] = {CHAT_PATH: OK, EMBED_PATH: OK}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL should be."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "OpenAIStub":
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to path with replies, in order."""
        with self._lock:
            self._queues[path].extend(replies)

    def always(self, path: str, reply: Reply) -> None:
        """Answer path with reply once its queue is empty."""
        with self._lock:
            self._defaults[path] = reply

    def text_for(self, body: dict[str, Any]) -> str:
        """The completion's text for this request."""
        return self.answer(body) if callable(self.answer) else self.answer

    def logprobs_for(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The first token's logprobs for this request, as OpenAI sends them: Yes and No with P(yes)."""
        if not body.get("logprobs") or self.yes_probability is None:
            return None
        p = self.yes_probability(body) if callable(self.yes_probability) else self.yes_probability
        top = [{"token": t, "logprob": math.log(max(q, 1e-9)), "bytes": None} for t, q in (("Yes", p), ("No", 1 - p))]
        return {"content": [{**top[0 if p >= 0.5 else 1], "top_logprobs": top}], "refusal": None}

    def requests_to(self, path: str) -> list[Request]:
        """Recorded requests to path, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            queue = self._queues.get(request.path)
            if queue is None:
                return Reply(404, message=f"no route {request.path}")
            return queue.popleft() if queue else self._defaults[request.path]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _completion_id() -> str:
    return f"chatcmpl-stub{time.monotonic_ns()}"


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    """A non-streaming chat.completion object."""
    return {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(body, text),
    }


def chat_chunks(body: dict[str, Any], text: str, logprobs: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The chat.completion.chunk objects of a streamed reply: role, words (the first with logprobs, if
    given), stop, then usage if asked."""
    ident, created, model = _completion_id(), int(time.time()), body.get("model", "")

    def chunk(delta: dict[str, Any], finish: str | None, logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [choice]}

    words = text.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    chunks = [chunk({"role": "assistant", "content": ""}, None)]
    chunks += [chunk({"content": piece}, None, logprobs if i == 0 else None) for i, piece in enumerate(pieces)]
    chunks.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append(
            {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _usage(body, text),
            }
        )
    return chunks


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """An embeddings list; base64 little-endian float32 when the client asks for it (the SDK's default)."""
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = []
    for i, text in enumerate(texts):
        vector: Any = stub_vector(str(text))
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": vector})
    tokens = sum(len(str(t).split()) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", ""),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _handler_for(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, and a streamed body ends when the connection closes.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            # Through an HTTP proxy the request line carries the whole URL; the stub also serves as one.
            request = Request(urlsplit(self.path).path, headers, body)
            reply = stub._next(request)
            if reply.silent_s and not reply.mid_stream:
                time.sleep(reply.silent_s)
            if reply.raw is not None:
                self._send_raw(reply.raw, "text/event-stream" if body.get("stream") else "application/json")
            elif reply.status != 200:
                self._send_json(reply.status, reply.error_body(), reply.headers)
            elif request.path == EMBED_PATH:
                self._send_json(200, embeddings(body))
            elif body.get("stream") and reply.mid_stream and reply.silent_s:
                chunks = chat_chunks(body, stub.text_for(body))
                self._send_stream(chunks[:2], done=False)
                time.sleep(reply.silent_s)
                self._send_stream(chunks[2:], headers=False)
            elif body.get("stream") and reply.mid_stream:
                self._send_stream([*chat_chunks(body, stub.text_for(body))[:2], reply.error_body()], done=False)
            elif body.get("stream"):
                self._send_stream(chat_chunks(body, stub.text_for(body), stub.logprobs_for(body)))
            else:
                self._send_json(200, chat_completion(body, stub.text_for(body)))

        def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_raw(self, data: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.end_headers()
            self.wfile.write(data)

        def _send_stream(self, chunks: list[dict[str, Any]], done: bool = True, headers: bool = True) -> None:
            if headers:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("cache-control", "no-cache")
                self.end_headers()
            for item in chunks:
                self.wfile.write(f"data: {json.dumps(item)}\n\n".encode())
                self.wfile.flush()
            if done:
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

    return Handler
