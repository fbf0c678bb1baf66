"""The live edge: download one day's list from Hugging Face or arXiv into files that ingest reads."""

import time
from datetime import date
from pathlib import Path

import httpx2

from rag.errors import FetchError
from rag.locks import write_atomically
from rag.settings import Settings
from rag.sources.arxiv import build_query_url

HF_PAGE_SIZE = 100
ARXIV_PAGE_SIZE = 200
# arXiv asks for about one request every 3 seconds.
ARXIV_PAUSE_S = 3.0


def _get(
    client: httpx2.Client, url: str, params: dict[str, str | int] | None = None, dated: bool = False
) -> httpx2.Response:
    try:
        response = client.get(url, params=params)
    except httpx2.TransportError as ex:
        host = httpx2.URL(url).host
        raise FetchError(
            f"Cannot reach {host} ({type(ex).__name__}); are you offline? "
            "`paperboy ingest FILE` works without a network."
        ) from None
    if response.status_code == 400 and dated:
        raise FetchError(f"{url} refused the date (HTTP 400): a future date? Its 'today' is UTC.")
    if response.status_code != 200:
        raise FetchError(f"{url} answered HTTP {response.status_code}; try again later.")
    return response


def fetch_hf(day: date, folder: Path, client: httpx2.Client, api_url: str) -> list[Path]:
    """Every page of the Hugging Face daily papers for day, one JSON file a page."""
    files: list[Path] = []
    for page in range(100):
        params: dict[str, str | int] = {"date": day.isoformat(), "limit": HF_PAGE_SIZE, "p": page}
        response = _get(client, api_url, params, dated=True)
        items = response.json()
        if not items:  # a day with nothing listed is valid, and so is an exact multiple of the page size
            break
        files.append(write_atomically(folder / f"hf-{day}-p{page}.json", response.content))
        if len(items) < HF_PAGE_SIZE:
            break
    return files


def fetch_arxiv(day: date, category: str, folder: Path, client: httpx2.Client, api_url: str) -> list[Path]:
    """Every page of arXiv submissions in category on day, one Atom file a page."""
    files: list[Path] = []
    for start in range(0, 10_000, ARXIV_PAGE_SIZE):
        if start:
            time.sleep(ARXIV_PAUSE_S)
        response = _get(client, build_query_url(day, category, start, ARXIV_PAGE_SIZE, api_url))
        entries = response.content.count(b"<entry")
        if entries:
            files.append(write_atomically(folder / f"arxiv-{category}-{day}-{start}.xml", response.content))
        if entries < ARXIV_PAGE_SIZE:
            break
    return files


def fetch_day(
    day: date, source: str, category: str, settings: Settings, client: httpx2.Client | None = None
) -> list[Path]:
    """Download day's list into data_dir/downloads and return the files to ingest."""
    folder = settings.data_dir / "downloads"
    with client or httpx2.Client(timeout=30, follow_redirects=True) as http:
        if source == "hf":
            return fetch_hf(day, folder, http, settings.hf_api_url)
        return fetch_arxiv(day, category, folder, http, settings.arxiv_api_url)
