"""`paperboy fetch`: the live edge, tested against recorded answers in the services' shapes."""

import json
from datetime import date
from pathlib import Path

import httpx
import pytest

from rag import fetch
from rag.errors import FetchError
from rag.settings import Settings
from tests.conftest import FIXTURES, run_cli

pytestmark = pytest.mark.usefixtures("fake_embedder")


def replay(routes: dict[str, tuple[int, bytes]], seen: list[httpx.Request]) -> httpx.MockTransport:
    """A transport that answers by host from recorded bodies and remembers every request."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = routes[request.url.host]
        return httpx.Response(status, content=body)

    return httpx.MockTransport(handler)


@pytest.fixture
def offline_client(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Route every client `rag.fetch` builds through a replay transport."""
    routes: dict = {"seen": []}
    real_client = httpx.Client

    def client(**kwargs: object) -> httpx.Client:
        return real_client(transport=replay(routes["hosts"], routes["seen"]))

    monkeypatch.setattr(fetch.httpx, "Client", client)
    monkeypatch.setattr(fetch, "ARXIV_PAUSE_S", 0)
    return routes


def test_fetch_hf_day_downloads_and_ingests(offline_client: dict, settings: Settings) -> None:
    offline_client["hosts"] = {"huggingface.co": (200, (FIXTURES / "hf_daily_papers.json").read_bytes())}
    result = run_cli("fetch", "--date", "2025-10-31", "--json")
    assert result.exit_code == 0, result.output
    request = offline_client["seen"][0]
    assert request.url.params["date"] == "2025-10-31"
    expected = {item["paper"]["id"] for item in json.loads((FIXTURES / "hf_daily_papers.json").read_text())}
    papers = json.loads(run_cli("papers", "--date", "2025-10-31", "--json").output)
    assert {p["id"] for p in papers} == expected
    assert (settings.data_dir / "downloads" / "hf-2025-10-31-p0.json").exists()


def test_fetch_arxiv_category_builds_the_query(offline_client: dict) -> None:
    offline_client["hosts"] = {"export.arxiv.org": (200, (FIXTURES / "arxiv_feed.xml").read_bytes())}
    result = run_cli("fetch", "--date", "2025-10-31", "--source", "arxiv", "--category", "cs.CL", "--json")
    assert result.exit_code == 0, result.output
    query = str(offline_client["seen"][0].url)
    assert "cat:cs.CL" in query and "202510310000" in query
    assert json.loads(result.output)["new"] == 3


def test_empty_day_is_not_an_error(offline_client: dict) -> None:
    offline_client["hosts"] = {"huggingface.co": (200, b"[]")}
    result = run_cli("fetch", "--date", "2025-10-31")
    assert result.exit_code == 0
    assert "No papers were listed on 2025-10-31" in result.output


def test_future_date_says_why(offline_client: dict) -> None:
    offline_client["hosts"] = {"huggingface.co": (400, b'{"error": "date in the future"}')}
    result = run_cli("fetch", "--date", "2099-01-01")
    assert result.exit_code == 1
    assert "future" in result.output


def test_no_network_is_one_line_and_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    # A closed loopback port fails the way a machine without a network does, and sends nothing out.
    monkeypatch.setattr(fetch, "HF_URL", "http://127.0.0.1:9/api/daily_papers")
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
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=next(pages)))
    with httpx.Client(transport=transport) as client:
        files = fetch.fetch_arxiv(date(2025, 10, 31), "cs.LG", tmp_path, client)
    assert [f.name for f in files] == ["arxiv-cs.LG-2025-10-31-0.xml"]


def test_server_error_is_a_fetch_error(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503))
    with httpx.Client(transport=transport) as client, pytest.raises(FetchError, match="HTTP 503"):
        fetch.fetch_hf(date(2025, 10, 31), tmp_path, client)
