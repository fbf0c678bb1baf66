"""The digest page and the eval report in a real browser with the network closed: each is one file that
draws everything (charts too) from itself. Screenshots land in test-output/browser/."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from evals.report import write_reports
from rag.digest import render_html
from tests.browser import CHROMIUM, CHROMIUM_FLAGS
from tests.test_digest import _digest
from tests.test_report import answer_cases, make_run

pytestmark = pytest.mark.integration

SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "browser"


@pytest.fixture(scope="module")
def offline_page() -> Iterator:
    """A headless Debian Chromium page that may load file:// only: any other request is recorded and refused."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.refused = []  # type: ignore[attr-defined]

        def only_files(route) -> None:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                page.refused.append(route.request.url)  # type: ignore[attr-defined]
                route.abort()

        page.route("**/*", only_files)
        yield page
        browser.close()


def _drawn_charts(page) -> list[dict]:
    """Each inline SVG's size on the page and how many bars (rect or path marks) it drew."""
    return page.eval_on_selector_all(
        "main > svg",
        "svgs => svgs.map(s => ({width: s.getBoundingClientRect().width, height: s.getBoundingClientRect().height,"
        " marks: s.querySelectorAll('.mark-rect path, .mark-rect rect').length}))",
    )


def test_the_eval_report_draws_its_charts_offline(offline_page, tmp_path: Path) -> None:
    run = make_run(answer_cases())
    baseline = make_run(answer_cases(q3_correct=True, q3_facts=0.0))
    report = write_reports(run, tmp_path / "report", baseline)["report.html"]
    offline_page.goto(report.as_uri())
    charts = _drawn_charts(offline_page)
    assert len(charts) == 3  # change against baseline, metric per tag, latency
    assert all(c["width"] > 300 and c["height"] > 150 and c["marks"] >= 3 for c in charts), charts
    text = offline_page.inner_text("main")
    assert "accuracy ▼ regression" in text and "Metric per tag (0 to 1)" in text
    assert offline_page.refused == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    offline_page.screenshot(path=SHOTS / "eval-report.png", full_page=True)


def test_the_digest_page_shows_every_paper_offline_with_hostile_text_as_text(offline_page, tmp_path: Path) -> None:
    page_file = tmp_path / "digest.html"
    page_file.write_text(render_html(_digest()), encoding="utf-8")
    offline_page.goto(page_file.as_uri())
    headings = offline_page.eval_on_selector_all("h3", "hs => hs.map(h => h.innerText)")
    assert headings[1].startswith("<script>alert(1)</script>")  # shown as text, never run
    assert offline_page.eval_on_selector_all("script, img", "nodes => nodes.length") == 0
    assert offline_page.inner_text(".flag").startswith("Note: this explainer failed a check")
    assert offline_page.refused == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    offline_page.screenshot(path=SHOTS / "digest.png", full_page=True)
