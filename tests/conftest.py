"""Every test gets its own data dir and no ambient keys or servers; model files share one cache."""

import hashlib
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import pytest
from click.testing import CliRunner, Result
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from rag import model_service, providers
from rag.cli import cli
from rag.providers import EmbeddingProvider
from rag.resident import resident_pid, stop_resident
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "daily-papers-2025-10-31.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The assembled model (1.1 GB) and tokenizer encodings are hash-checked and immutable, so tests share
# the user's cache rather than paying 4 s and 1.1 GB of disk per test.
SHARED_CACHE = Path(platformdirs.user_cache_dir("paperboy"))


@pytest.fixture(scope="session", autouse=True)
def no_model_service_left_behind() -> Iterator[None]:
    """Tests that ask the local model start the machine's model service, and a resident paperboy, in the
    shared cache: stop them at the end, unless they were running before the tests."""
    settings = Settings(cache_dir=SHARED_CACHE)
    before = model_service.read_state(settings)
    resident_before = resident_pid(settings)
    yield
    after = model_service.read_state(settings)
    if after and (before is None or after.pid != before.pid):
        model_service.stop_service(settings)
    if resident_pid(settings) != resident_before:
        stop_resident(settings)


@pytest.fixture(autouse=True)
def env_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point Paperboy at a fresh data dir; hide any OpenAI key, Chroma server or .env of the host."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("PAPERBOY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PAPERBOY_CACHE_DIR", str(SHARED_CACHE))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "CHROMA_PORT", "PAPERBOY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield data_dir


@pytest.fixture
def settings(env_setup: Path) -> Settings:
    """Settings as the CLI would load them in this test."""
    return Settings()


class HashEmbeddings(Embeddings):
    """Deterministic bag-of-words vectors: same words, same direction; no model, instant."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        vector = np.zeros(64)
        for word in text.lower().split():
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        return (vector / max(np.linalg.norm(vector), 1e-9)).tolist()


@pytest.fixture
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> HashEmbeddings:
    """Replace the local embedding model with HashEmbeddings for this test."""
    fake = HashEmbeddings()
    monkeypatch.setitem(providers.EMBED, "local", EmbeddingProvider(lambda _: "fake-hash-64", lambda _: fake))
    return fake


Reply = str | Callable[[list[BaseMessage]], str]


class ScriptedChat(BaseChatModel):
    """Replies from a script (a string, or a function of the messages) and records every prompt it is shown."""

    script: list[Any] = Field(default_factory=list)
    received: list[list[BaseMessage]] = Field(default_factory=list)
    model_name: str = "scripted-chat"

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _reply(self, messages: list[BaseMessage]) -> str:
        self.received.append(messages)
        assert self.script, f"unexpected model call: {messages[-1].content!r}"
        reply = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return reply(messages) if callable(reply) else reply

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        for i, word in enumerate(self._reply(messages).split(" ")):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))

    def shown(self) -> str:
        """Everything the model was shown, over all calls."""
        return "\n".join(str(m.content) for messages in self.received for m in messages)


TOPIC_NAME = "Named By The Model"
# 97 plain words, no numbers: with the paper's method (or title) named, it passes every explainer
# check, so each paper costs exactly one model call.
EXPLAINER = "The authors show a simpler way to do this task. " + " ".join(
    ["This paper looks at a hard problem and tries a new and simpler way to solve it well."] * 4
    + ["The results suggest that the idea works better than the older ways people used before."] * 1
)


def topic_or_explainer(messages: list[BaseMessage]) -> str:
    """A scripted reply that passes: TOPIC_NAME to a topic prompt, else an explainer naming the paper's method."""
    from rag.models import Paper
    from rag.naming import method_name

    if "common topic" in str(messages[0].content):
        return TOPIC_NAME
    title_line, rest = str(messages[1].content).split("\n", 1)
    title = title_line.removeprefix("Title: ")
    abstract = rest.removeprefix("<abstract>\n").split("\n</abstract>", 1)[0]
    paper = Paper(id="x", title=title, abstract=abstract, source="jsonl")
    return f"{EXPLAINER} It is called {method_name(paper) or title}."


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> ScriptedChat:
    """The scripted model, registered as the local chat provider for this test (the CLI and the app build it)."""
    fake = ScriptedChat()
    monkeypatch.setitem(providers.CHAT, "local", lambda settings: fake)
    return fake


@contextmanager
def fake_library_env(data_dir: Path) -> Iterator[None]:
    """Outside a test (module-scoped fixtures): point Paperboy at data_dir with the hash embeddings,
    hiding the host's keys and servers, as env_setup and fake_embedder do inside a test."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "PAPERBOY_EMBEDDING_PROVIDER"):
            mp.delenv(name, raising=False)
        mp.setenv("PAPERBOY_DATA_DIR", str(data_dir))
        mp.setenv("PAPERBOY_CACHE_DIR", str(SHARED_CACHE))
        mp.setitem(providers.EMBED, "local", EmbeddingProvider(lambda _: "fake-hash-64", lambda _: HashEmbeddings()))
        yield


def run_cli(*args: str) -> Result:
    """Invoke `paperboy ARGS` in-process, the way a user would from the shell."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="session")
def sample_store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample day ingested once with the real local embeddings; tests copy it."""
    data_dir = tmp_path_factory.mktemp("sample-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERBOY_DATA_DIR", str(data_dir))
        mp.setenv("PAPERBOY_CACHE_DIR", str(SHARED_CACHE))
        result = run_cli("ingest", str(SAMPLE), "--date", "2025-10-31")
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.fixture
def sample_store(sample_store_dir: Path, env_setup: Path) -> Path:
    """A private copy of the ingested sample day, as this test's data dir."""
    shutil.copytree(sample_store_dir, env_setup)
    return env_setup
