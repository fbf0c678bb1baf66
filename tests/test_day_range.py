"""Reading the archive by range: the catalog's papers between two days, retrieval narrowed to them, and
`paperboy ask --since/--until`."""

import json
from datetime import date
from pathlib import Path

import pytest

from rag.models import DayRange
from rag.retrieval import retrieve
from rag.settings import Settings
from rag.store import open_store
from tests.conftest import ScriptedChat, run_cli

pytestmark = pytest.mark.usefixtures("fake_embedder")

WORDS = "sparse attention heads long context memory"


@pytest.fixture
def week(tmp_path: Path) -> None:
    """The same kind of paper on five days, one a day."""
    path = tmp_path / "week.jsonl"
    records = [
        {
            "id": f"2510.0000{n}",
            "title": f"Sparse Attention Heads {n}",
            "abstract": f"We study {WORDS}.",
            "listed_on": f"2025-10-{27 + n}",
        }
        for n in range(5)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert run_cli("ingest", str(path)).exit_code == 0


@pytest.mark.usefixtures("week")
def test_the_catalog_and_retrieval_read_a_range_of_days(settings: Settings) -> None:
    store = open_store(settings)
    middle = DayRange(since=date(2025, 10, 28), until=date(2025, 10, 30))
    assert sorted(p.id for p in store.catalog.papers(middle)) == ["2510.00001", "2510.00002", "2510.00003"]
    assert [p.id for p in store.catalog.papers(DayRange(since=date(2025, 10, 31)))] == ["2510.00004"]
    assert len(store.catalog.papers(DayRange(until=date(2025, 10, 28)))) == 2
    hits = retrieve("sparse attention heads", store, k=10, day=middle)
    assert sorted(h.chunk.paper.id for h in hits) == ["2510.00001", "2510.00002", "2510.00003"]


@pytest.mark.usefixtures("week")
def test_ask_since_until_reads_only_that_range(chat: ScriptedChat) -> None:
    chat.script = ["Sparse attention heads save memory [1]."]
    result = run_cli(
        "ask", "What do sparse attention heads save?", "--since", "2025-10-30", "--until", "2025-10-31", "--json"
    )
    assert result.exit_code == 0, result.output
    sources = {s["paper_id"] for s in json.loads(result.stdout)["sources"]}
    assert sources and sources <= {"2510.00003", "2510.00004"}
    assert run_cli("ask", "x", "--date", "2025-10-30", "--since", "2025-10-29").exit_code == 2
    assert run_cli("ask", "x", "--since", "2025-10-31", "--until", "2025-10-29").exit_code == 2
