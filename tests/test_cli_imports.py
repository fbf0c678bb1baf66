"""Each command imports only what it runs: the CLI answers at once when it has no model to ask."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

_HEAVY = [
    "langchain_openai",
    "openai",
    "chromadb",
    "onnxruntime",
    "langchain_core.language_models.chat_models",
    "langchain_text_splitters",
    "scipy",
]
_RUN = """
import json, sys
from rag.cli import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)), file=sys.stderr)
"""


def _loaded_by(*argv: str, data_dir: Path) -> list[str]:
    env = {"PAPERBOY_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "HOME": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-c", _RUN.format(heavy=_HEAVY), *argv], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["papers"], ["ask", "--help"], ["daily", "--help"], ["follow"], ["starred"], ["for-you", "--help"]],
)
def test_listing_commands_import_no_model_or_store_library(argv: list[str], tmp_path: Path) -> None:
    assert _loaded_by(*argv, data_dir=tmp_path) == []


def test_search_loads_the_store_and_embeddings_but_no_chat_client(sample_store: Path) -> None:
    loaded = _loaded_by("search", "diffusion", data_dir=sample_store)
    assert "chromadb" in loaded and "onnxruntime" in loaded  # it searched, embedding the query
    assert not {"openai", "langchain_openai", "langchain_core.language_models.chat_models"} & set(loaded)
    # Chunking is for writes, and keyword terms are cut without bm25s (whose import pulled in scipy).
    assert not {"langchain_text_splitters", "scipy"} & set(loaded)
