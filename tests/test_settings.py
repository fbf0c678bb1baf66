"""Settings load from env and .env; a bad value fails at start naming the variable."""

import re
from pathlib import Path

import pytest

from rag.settings import get_settings
from tests.conftest import run_cli


def test_data_dir_comes_from_env(env_setup: Path) -> None:
    assert get_settings().data_dir == env_setup


def test_dotenv_in_working_dir_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERBOY_DATA_DIR")
    (tmp_path / ".env").write_text("PAPERBOY_DATA_DIR=/srv/papers\nPAPERBOY_CHUNK_TOKENS=300\n")
    settings = get_settings()
    assert (settings.data_dir, settings.chunk_tokens) == (Path("/srv/papers"), 300)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAPERBOY_CHUNK_TOKENS", "lots"),
        ("PAPERBOY_EMBEDDING_PROVIDER", "cohere"),
        ("CHROMA_PORT", "99999"),
        ("CHROMA_PORT", "abc"),
        ("PAPERBOY_CHUNK_OVERLAP", "4000"),
    ],
)
def test_bad_value_fails_at_start_naming_the_setting(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    result = run_cli("papers")
    assert result.exit_code == 1
    assert re.search(rf"(?<![A-Z_]){name}\b", result.output), result.output  # the variable the user set, as set
    assert "Traceback" not in result.output


def test_api_key_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-0000")
    settings = get_settings()
    assert "sk-test" not in repr(settings)
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-test-not-a-real-key-0000"
