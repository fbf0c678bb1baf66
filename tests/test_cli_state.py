"""No state leaks between answers or past the settings: per-answer usage, PAPERBOY_DEBUG from .env,
a wrong paper id said before any model is built."""

import json
from pathlib import Path

import pytest

from rag import providers
from rag.answer import Asker
from rag.chains import ModelCalls
from rag.settings import Settings
from rag.store import open_store
from tests.conftest import HashEmbeddings, ScriptedChat, run_cli

PAPER = {
    "id": "2510.30001",
    "title": "GVGEN: Text-to-3D Generation",
    "abstract": "GVGEN generates a 3D object in about 7 seconds. It uses Gaussian volumes.",
}
# Words as the text writes them: the hash embeddings match whole words only.
QUESTION = "In how many seconds GVGEN generates a 3D object?"


@pytest.fixture
def library(tmp_path: Path, fake_embedder: HashEmbeddings) -> Path:
    path = tmp_path / "paper.jsonl"
    path.write_text(json.dumps(PAPER), encoding="utf-8")
    assert run_cli("ingest", str(path)).exit_code == 0
    return path


def test_each_answer_reports_its_own_tokens(library: Path, settings: Settings) -> None:
    chat = ScriptedChat(script=["GVGEN generates a 3D object in about 7 seconds [1]."])
    asker = Asker(open_store(settings), ModelCalls(chat, settings.cache_dir), settings)
    first = asker.ask(QUESTION)
    second = asker.ask(QUESTION)
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert second.usage == first.usage  # the same question costs the same; not the sum of both
    assert asker.calls.usage.prompt_tokens == 2 * first.usage.prompt_tokens


def test_a_wrong_paper_id_is_said_before_a_model_is_built(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def no_model(settings: Settings) -> ScriptedChat:
        built.append("chat")
        return ScriptedChat(script=["unused"])

    monkeypatch.setitem(providers.CHAT, "local", no_model)
    result = run_cli("ask", "How fast is it?", "--paper", "2510.99999")
    assert result.exit_code == 1
    assert "2510.99999" in result.output and "Traceback" not in result.output
    assert built == []


def test_debug_in_dotenv_shows_the_traceback(tmp_path: Path) -> None:
    assert run_cli("search", "anything").exit_code == 1  # one line: nothing ingested
    (tmp_path / ".env").write_text("PAPERBOY_DEBUG=1\n")
    with pytest.raises(Exception, match="Nothing is ingested yet"):
        run_cli("search", "anything")
