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
    "langchain_core",
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


def _loaded_by(*argv: str, data_dir: Path, heavy: list[str] = _HEAVY) -> list[str]:
    env = {"PAPERBOY_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "HOME": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-c", _RUN.format(heavy=heavy), *argv], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["papers"], ["ask", "--help"], ["daily", "--help"], ["follow"], ["starred"], ["for-you", "--help"]],
)
def test_listing_commands_import_no_model_or_store_library(argv: list[str], tmp_path: Path) -> None:
    assert _loaded_by(*argv, data_dir=tmp_path) == []


def test_help_through_the_entry_point_reads_no_settings_and_no_store(tmp_path: Path) -> None:
    # pydantic-settings alone is ~0.1 s of the 0.3 s `--help` may take; rag.store would pull it in.
    env = {"PAPERBOY_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from rag.resident import main; main()", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "Usage: " in done.stdout and "rag.cli" in imported  # the real command ran
    assert not {"pydantic_settings", "rag.store", "rag.settings"} & imported
    assert _loaded_by("papers", data_dir=tmp_path, heavy=["pydantic_settings"]) == ["pydantic_settings"]


def test_search_loads_the_store_and_embeddings_but_no_chat_client(sample_store: Path) -> None:
    loaded = _loaded_by("search", "diffusion", data_dir=sample_store)
    assert "chromadb" in loaded and "onnxruntime" in loaded  # it searched, embedding the query
    assert not {"openai", "langchain_openai", "langchain_core"} & set(loaded)  # MiniLM needs no LangChain
    # Chunking is for writes, and keyword terms are cut without bm25s (whose import pulled in scipy).
    assert not {"langchain_text_splitters", "scipy"} & set(loaded)


def test_stats_reads_a_store_without_loading_chroma_or_a_model(sample_store: Path) -> None:
    assert _loaded_by("stats", "--json", data_dir=sample_store) == []
    agreement = json.loads(_exit_of("stats", "--json", data_dir=sample_store).stdout)["consistency"]
    assert agreement["consistent"] and agreement["index_chunks"] == agreement["catalog_chunks"] > 0


_EXIT = """
import atexit, sys
from rag.cli import main
atexit.register(lambda: print("torn down", file=sys.stderr))
sys.argv = ["paperboy", *sys.argv[1:]]
main()
"""


def _exit_of(*argv: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PAPERBOY_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "HOME": str(data_dir)}
    return subprocess.run([sys.executable, "-c", _EXIT, *argv], env=env, capture_output=True, text=True)


def test_a_command_that_wrote_no_vectors_exits_at_once_with_its_output_and_code(sample_store: Path) -> None:
    searched = _exit_of("search", "diffusion", "--json", data_dir=sample_store)
    assert searched.returncode == 0 and "torn down" not in searched.stderr
    assert len(json.loads(searched.stdout)["results"]) == 5  # every byte printed before the quick exit
    unknown = _exit_of("ask", "What does it do?", "--paper", "9999.99999", data_dir=sample_store)
    assert unknown.returncode == 1 and "torn down" not in unknown.stderr
    assert "No paper with id '9999.99999'" in unknown.stderr


def test_a_command_that_wrote_vectors_exits_the_orderly_way(tmp_path: Path) -> None:
    papers = Path(__file__).parent / "fixtures" / "papers.jsonl"
    ingested = _exit_of("ingest", str(papers), data_dir=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    assert "torn down" in ingested.stderr
