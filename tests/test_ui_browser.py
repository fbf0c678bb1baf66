"""The app in a real browser: `paperboy ui` on the sample day and the local model, driven by headless Chromium.

Screenshots of every page land in test-output/browser/ (the README shows them).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser import CHROMIUM, CHROMIUM_FLAGS, running_app, start_app
from tests.conftest import SHARED_CACHE

pytestmark = pytest.mark.integration

SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "browser"
QUESTION = "What speedup does Flex deliver for a single MoE layer over 2,048 A100 GPUs?"
SECOND_QUESTION = "How fast can GVGEN generate a 3D object?"
# The first answer starts the local model (assembly is cached; loading takes seconds on a busy box).
ANSWER_TIMEOUT_MS = 240_000


def _app_env(data_dir: Path, sample_store_dir: Path) -> dict[str, str]:
    """A copy of the sample day in data_dir, and an environment pointing the app at it."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    shutil.copytree(sample_store_dir, data_dir)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPERBOY_", "CHROMA_"))},
        "PAPERBOY_DATA_DIR": str(data_dir),
        "PAPERBOY_CACHE_DIR": str(SHARED_CACHE),
    }


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, sample_store_dir: Path) -> Iterator[str]:
    """`paperboy ui` on a free loopback port over a copy of the sample day; stopped after the module."""
    data_dir = tmp_path_factory.mktemp("ui-browser") / "data"
    with running_app(data_dir.parent / "ui.log", _app_env(data_dir, sample_store_dir)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Debian Chromium through Playwright; Playwright's own browser download is never used."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _idle(page) -> None:
    """Wait until the script run has finished: Streamlit shows its status widget while a run is going."""
    page.wait_for_selector("[data-testid=stMainBlockContainer]", timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget] [data-testid=stStatusWidgetRunningIcon]')",
        timeout=ANSWER_TIMEOUT_MS,
    )
    # Widgets such as the file uploader load their code lazily and show a grey box until then.
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => [...document.images].every(image => image.complete)", timeout=30_000)


def _ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def _chip(page):
    return page.get_by_role("radio", name=re.compile(r"^\[\d+\] "))  # st.pills chips are radio buttons


def _open(page, url: str, title: str) -> None:
    page.goto(url)
    page.get_by_role("link", name=title).first.wait_for(timeout=60_000)
    page.get_by_role("link", name=title).first.click()
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=60_000)


def test_ask_in_the_browser_cites_a_paper_and_its_chip_opens_the_card(app_url: str, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    _open(page, app_url, "Ask")
    _ask(page, QUESTION)
    _chip(page).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    main = page.get_by_test_id("stMainBlockContainer")
    assert "5.75" in main.inner_text()
    assert _chip(page).first.inner_text().startswith("[1] Tutel")
    _chip(page).first.click()
    page.get_by_text("Original abstract").first.wait_for(timeout=30_000)
    assert "Tutel: Adaptive Mixture-of-Experts at Scale" in main.inner_text()
    page.get_by_text("Sources (").first.click()
    page.get_by_text("score ").first.wait_for(timeout=10_000)
    page.screenshot(path=SHOTS / "ask.png", full_page=True)
    page.close()


def test_two_tabs_asking_at_once_both_get_cited_answers(app_url: str, browser) -> None:
    tabs = [browser.new_context().new_page() for _ in range(2)]
    for tab in tabs:
        _open(tab, app_url, "Ask")
    for tab, question in zip(tabs, [QUESTION, SECOND_QUESTION], strict=True):
        _ask(tab, question)
    for tab in tabs:
        _chip(tab).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert _chip(tabs[0]).first.inner_text().startswith("[1] Tutel")
    assert "GVGEN" in _chip(tabs[1]).first.inner_text()
    for tab in tabs:
        tab.context.close()


def test_the_evals_page_runs_the_smoke_suite_and_shows_its_failed_cases(app_url: str, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    _open(page, app_url, "Evals")
    page.get_by_role("button", name=re.compile("Run the suite")).click()
    page.get_by_text(re.compile(r"^Failed cases \(\d+\)$")).wait_for(timeout=ANSWER_TIMEOUT_MS)
    _idle(page)
    main = page.get_by_test_id("stMainBlockContainer").inner_text()
    assert re.search(r"smoke · default · ", main)
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=SHOTS / "evals.png", full_page=True)
    page.close()


@pytest.mark.parametrize("title", ["Library", "Today"])
def test_every_page_renders_without_an_error(app_url: str, browser, title: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    _open(page, app_url, title)
    _idle(page)
    if title == "Today":
        page.get_by_text("explainers ready").wait_for(timeout=60_000)
    page.screenshot(path=SHOTS / f"{title.lower()}.png", full_page=title != "Today")
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_test_id("stAlertContentError").count() == 0
    if title == "Today":
        # The day's cards; the part of the page that fills in with explainers redraws every few seconds.
        _wait_for(page, lambda: page.get_by_text("Original abstract").count() >= 10)
    page.close()


def test_sigterm_stops_the_app_while_it_writes_explainers(tmp_path: Path, sample_store_dir: Path, browser) -> None:
    app, url = start_app(tmp_path / "ui.log", _app_env(tmp_path / "data", sample_store_dir))
    try:
        page = browser.new_page()
        _open(page, url, "Today")
        page.get_by_text("explainers ready").wait_for(timeout=60_000)
        time.sleep(3)  # the day's explainers are being written: a model call is in flight
        app.send_signal(signal.SIGTERM)
        # It stops by itself, without the SIGKILL that a stuck model call once needed.
        app.wait(timeout=30)
    except subprocess.TimeoutExpired:
        app.kill()
        raise
    assert app.returncode in (0, -signal.SIGTERM)


# A paper whose text tries to make the browser fetch from elsewhere: images, a stylesheet, a frame,
# a bare URL. 203.0.113.0/24 is a documentation range: nothing answers there, so nothing can leak.
_ELSEWHERE = "203.0.113.7"
_HOSTILE_PAPER = {
    "id": "2510.99999",
    "title": f'Tracking Pixels <img src="http://{_ELSEWHERE}/title.png"> in ![t](http://{_ELSEWHERE}/t.png) Papers',
    "abstract": (
        f"We study what a paper's own text can make a reader's browser fetch. ![pixel](http://{_ELSEWHERE}/p.png) "
        f'<img src="http://{_ELSEWHERE}/img.png"> <link rel="stylesheet" href="https://fonts.googleapis.com/css?f=x"> '
        f'<iframe src="http://{_ELSEWHERE}/frame"></iframe> <style>@import url(http://{_ELSEWHERE}/s.css);</style> '
        f"See http://{_ELSEWHERE}/bare for the data. Tracking pixels load in 12 of 40 readers."
    ),
    "authors": ["Eve Example"],
    "listed_on": "2025-10-31",
    "upvotes": 999,  # the first card of the day
    "url": f"http://{_ELSEWHERE}/paper",
}


def test_the_app_requests_nothing_off_the_machine(tmp_path: Path, sample_store_dir: Path, browser) -> None:
    """Every request every page makes, the hostile paper's card and its sources open, goes to 127.0.0.1."""
    env = _app_env(tmp_path / "data", sample_store_dir)
    papers = tmp_path / "hostile.jsonl"
    papers.write_text(json.dumps(_HOSTILE_PAPER) + "\n")
    paperboy = Path(sys.executable).with_name("paperboy")
    subprocess.run([str(paperboy), "ingest", str(papers)], env=env, check=True, capture_output=True)
    requested: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.on("websocket", lambda socket: requested.append(socket.url))
    with running_app(tmp_path / "ui.log", env) as url:
        _open(page, url, "Today")
        _idle(page)
        # Its own card's abstract: the cards reorder into topics when the digest is ready, so the first
        # card on the page need not be the most upvoted one. The regex is case-sensitive, unlike a string.
        _card(page, re.compile("Tracking Pixels")).get_by_text("Original abstract").click()
        page.get_by_text("Tracking pixels load in 12 of 40 readers").first.wait_for(timeout=30_000)
        main = page.get_by_test_id("stMainBlockContainer")
        assert f"![pixel](http://{_ELSEWHERE}/p.png)" in main.inner_text()  # shown as text, not fetched
        for title in ("Library", "Evals", "Ask"):
            _open(page, url, title)
            _idle(page)
        _ask(page, "In how many of 40 readers do tracking pixels load?")
        _chip(page).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        page.get_by_text("Sources (").first.click()
        page.get_by_text("score ").first.wait_for(timeout=10_000)
        _idle(page)
    context.close()
    hosts = {urlsplit(address).hostname for address in requested if not address.startswith(("data:", "blob:"))}
    assert len(requested) > 10  # the recording saw the app's own requests
    assert hosts == {"127.0.0.1"}, sorted({a for a in requested if urlsplit(a).hostname != "127.0.0.1"})


def _card_titles(page) -> list[str]:
    """The titles of the cards shown in the main list (not folded away), top to bottom: each card has one
    "Original abstract" expander, and its block's first bold text is the title."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stMainBlockContainer] [data-testid=stExpander]')]
            .filter(box => box.querySelector('summary').textContent.endsWith('Original abstract'))
            .filter(box => !box.parentElement.closest('[data-testid=stExpander]'))
            .map(box => box.closest('[data-testid=stVerticalBlock]').querySelector('strong'))
            .filter(Boolean).map(title => title.innerText.trim())"""
    )


def _card(page, title: str | re.Pattern[str]):
    """The card (its innermost block) with this title."""
    return page.get_by_test_id("stVerticalBlock").filter(has_text=title).last


def _wait_for(page, predicate, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "the page never showed it"
        page.wait_for_timeout(250)


def test_a_starred_paper_rises_for_you_and_a_muted_keyword_folds_papers_away(
    tmp_path: Path, sample_store_dir: Path, browser
) -> None:
    from tests.conftest import topic_or_explainer
    from tests.openai_stub import OpenAIStub

    stub = OpenAIStub().start()  # explainers from a stub on loopback: this test is about the reader's controls
    stub.answer = lambda body: topic_or_explainer([type("M", (), {"content": m["content"]}) for m in body["messages"]])
    env = {
        **_app_env(tmp_path / "data", sample_store_dir),
        "OPENAI_API_KEY": "sk-stub",
        "OPENAI_BASE_URL": stub.base_url,
    }
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    try:
        with running_app(tmp_path / "ui.log", env) as url:
            _open(page, url, "Today")
            page.get_by_text("For you", exact=True).click()
            page.get_by_text("Star papers to teach this order").wait_for(timeout=60_000)
            _wait_for(page, lambda: len(_card_titles(page)) == 45)
            last = _card_titles(page)[-1]
            _card(page, last).get_by_role("button", name="\u2606 Star").click()
            # First under "For you", marked as starred (the page redraws in place: wait for both).
            _wait_for(
                page, lambda: _card_titles(page)[0] == last and "\u2605 starred" in _card(page, last).inner_text()
            )
            _card(page, last).scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / "for-you.png", full_page=False)

            diffusion = [t for t in _card_titles(page) if "diffusion" in t.lower()]
            assert len(diffusion) >= 5
            page.get_by_text("Your interests").click()
            box = page.get_by_label("Mute a keyword")
            box.fill("diffusion")
            box.press("Enter")
            page.get_by_text(re.compile(r"^Folded away \(\d+\): muted or hidden$")).wait_for(timeout=60_000)
            _wait_for(page, lambda: not [t for t in _card_titles(page) if "diffusion" in t.lower()])
            folded = page.get_by_text(re.compile(r"^Folded away \(\d+\)")).inner_text()
            assert int(re.search(r"\((\d+)\)", folded)[1]) >= len(diffusion)  # type: ignore[index]
            assert len(_card_titles(page)) <= 45 - len(diffusion)
            assert page.get_by_test_id("stException").count() == 0
    finally:
        page.close()
        stub.stop()
