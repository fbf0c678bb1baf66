"""`paperboy fetch`: the live edge, tested against a real HTTP server on 127.0.0.1 (tests/stand_in.py)
answering from recorded files in the services' shapes."""

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx2
import pytest

from rag import fetch
from rag.errors import FetchError
from rag.settings import Settings
from rag.sources import utc_today
from tests.conftest import FIXTURES, run_cli
from tests.stand_in import StandIn, serving

pytestmark = pytest.mark.usefixtures("fake_embedder")


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """The stand-in server, with Paperboy's API URLs pointed at it."""
    with serving(StandIn()) as server:
        monkeypatch.setenv("PAPERBOY_HF_API_URL", server.hf_url)
        monkeypatch.setenv("PAPERBOY_ARXIV_API_URL", server.arxiv_url)
        monkeypatch.setattr(fetch, "ARXIV_PAUSE_S", 0)
        yield server


def test_fetch_hf_day_downloads_and_ingests(stand_in: StandIn, settings: Settings) -> None:
    stand_in.hf_days["2025-10-31"] = (FIXTURES / "hf_daily_papers.json").read_bytes()
    result = run_cli("fetch", "--date", "2025-10-31", "--json")
    assert result.exit_code == 0, result.output
    assert stand_in.requests[0].startswith("/api/daily_papers?date=2025-10-31&")
    expected = {item["paper"]["id"] for item in json.loads((FIXTURES / "hf_daily_papers.json").read_text())}
    papers = json.loads(run_cli("papers", "--date", "2025-10-31", "--json").output)
    assert {p["id"] for p in papers} == expected
    assert (settings.data_dir / "downloads" / "hf-2025-10-31-p0.json").exists()
    assert not list((settings.data_dir / "downloads").glob("*.part"))


def test_fetch_without_a_date_asks_for_today_in_utc(stand_in: StandIn) -> None:
    result = run_cli("fetch")
    assert result.exit_code == 0, result.output
    assert f"date={utc_today().isoformat()}&" in stand_in.requests[0]


def test_fetch_arxiv_category_builds_the_query(stand_in: StandIn) -> None:
    stand_in.arxiv_feed = (FIXTURES / "arxiv_feed.xml").read_bytes()
    result = run_cli("fetch", "--date", "2025-10-31", "--source", "arxiv", "--category", "cs.CL", "--json")
    assert result.exit_code == 0, result.output
    assert "cat:cs.CL" in stand_in.requests[0] and "202510310000" in stand_in.requests[0]
    assert json.loads(result.stdout)["new"] == 3
    assert json.loads(run_cli("stats", "--json").output)["days"] == ["2025-10-31"]


def test_empty_day_is_not_an_error(stand_in: StandIn) -> None:
    result = run_cli("fetch", "--date", "2025-10-31")
    assert result.exit_code == 0
    assert "No papers were listed on 2025-10-31" in result.output


def test_future_date_says_why(stand_in: StandIn) -> None:
    stand_in.today = date(2026, 12, 4)
    result = run_cli("fetch", "--date", "2099-01-01")
    assert result.exit_code == 1
    assert "future" in result.output


def test_no_network_is_one_line_and_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    # A closed loopback port fails the way a machine without a network does, and sends nothing out.
    monkeypatch.setenv("PAPERBOY_HF_API_URL", "http://127.0.0.1:9/api/daily_papers")
    result = run_cli("fetch", "--date", "2025-10-31")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "offline" in result.output


def test_arxiv_pages_until_a_short_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "ARXIV_PAGE_SIZE", 3)
    monkeypatch.setattr(fetch, "ARXIV_PAUSE_S", 0)
    full = (FIXTURES / "arxiv_feed.xml").read_bytes()
    empty = full.split(b"<entry")[0] + b"</feed>"
    pages = iter([full, empty])
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=next(pages)))
    with httpx2.Client(transport=transport) as client:
        files = fetch.fetch_arxiv(date(2025, 10, 31), "cs.LG", tmp_path, client, "http://arxiv.test/api/query")
    assert [f.name for f in files] == ["arxiv-cs.LG-2025-10-31-0.xml"]


def test_server_error_is_a_fetch_error(tmp_path: Path) -> None:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(503))
    with httpx2.Client(transport=transport) as client, pytest.raises(FetchError, match="HTTP 503"):
        fetch.fetch_hf(date(2025, 10, 31), tmp_path, client, "http://hf.test/api/daily_papers")
