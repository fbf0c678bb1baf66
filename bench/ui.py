"""Benchmark the app in headless Chromium: start to a usable page, and time to first token on the Ask page.

Starts `paperboy ui` on a free loopback port over the configured data dir (ingest the sample day
first, as `make run` does), then prints:
- seconds from starting the command to the Today page showing its paper cards, and from loading
  the page to its first paper, with the browser's cache empty and (on a second fresh app) warm: as
  Playwright sees it (its check runs on the page's busy main thread, so it comes late) and as the
  page itself records it (navigation start to the frame that first draws a card);
- seconds from SIGTERM to the app's exit while it writes the day's explainers;
- per question on the Ask page (opened directly, so no explainers are being written meanwhile):
  seconds from Enter to the first words of the answer, and to the finished answer with its chips.
Usage:
    .venv/bin/python bench/ui.py [--questions 5]
"""

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

# Run as a script, this folder is on sys.path and the checkout is not; the app helpers live in tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.cli import cpu
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, running_app, start_app

QUESTIONS = [
    "What speedup does Flex deliver for a single MoE layer over 2,048 A100 GPUs?",
    "How fast can GVGEN generate a 3D object?",
    "Which paper is about placing ads inside chatbot answers?",
    "By up to how much do winning tickets found by layer pruning at initialization reduce carbon emission?",
    "What does Rolling Forcing use to keep long videos consistent?",
]
# True once the assistant message holds words besides its avatar icon's name and the spinner's text.
FIRST_WORDS_JS = """i => {
  const m = document.querySelectorAll('[data-testid=stChatMessage]')[i];
  return !!m && /\\w/.test(m.innerText.replace('smart_toy', '').replace('Reading the papers...', ''));
}"""
# Records, in the page, the frame that first draws a card: once its folded abstract is in the DOM
# (read with textContent, which forces no layout), the next animation frame comes just before the paint.
FIRST_CARD_JS = """
new MutationObserver((changes, observer) => {
  if ([...document.querySelectorAll('summary')].some(s => s.textContent.includes('Original abstract'))) {
    observer.disconnect();
    requestAnimationFrame(() => { window.firstCardMs = performance.now(); });
  }
}).observe(document, {subtree: true, childList: true});
"""
LOG = Path(tempfile.gettempdir()) / "paperboy-bench-ui.log"
# A cold start on a busy 2-core box; the app is usually ready within seconds.
STARTUP_TIMEOUT_S = 120


def ask(page: Page, question: str, number: int) -> tuple[float, float]:
    """(seconds to the first words, seconds to the finished answer) for one question."""
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    started = time.perf_counter()
    box.press("Enter")
    # The answer streams into the (number)th assistant message; before its first words it shows a spinner.
    page.wait_for_function(FIRST_WORDS_JS, arg=2 * number + 1, timeout=300_000, polling=50)
    first_words = time.perf_counter() - started
    # The finished answer is drawn again with its model and time caption (and chips, unless it abstained).
    answer = page.get_by_test_id("stChatMessage").nth(2 * number + 1)
    answer.get_by_text(re.compile(r"· [\d.]+ s$")).wait_for(timeout=300_000)
    return first_words, time.perf_counter() - started


def first_paper(page: Page, url: str) -> tuple[float, float]:
    """(seconds from goto to Playwright seeing the first card, the page's own navigation-to-card seconds)."""
    page.add_init_script(FIRST_CARD_JS)
    loading = time.perf_counter()
    page.goto(url)
    page.get_by_text("Original abstract").first.wait_for(timeout=120_000)
    return time.perf_counter() - loading, page.evaluate("window.firstCardMs") / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    args = parser.parse_args()
    print(f"machine: {cpu()}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        started = time.perf_counter()
        app, url = start_app(LOG, timeout_s=STARTUP_TIMEOUT_S)
        browsing = browser.new_context()  # an empty browser cache, as on a reader's first visit
        page = browsing.new_page()
        seen, in_page = first_paper(page, url)
        print(f"start to a usable Today page       {time.perf_counter() - started:.1f} s")
        print(f"Today page load to its first paper {seen:.1f} s, in the page {in_page:.1f} s (browser cache empty)")
        # The day's explainers are being written now: a model call is in flight when the app is told to stop.
        time.sleep(3)
        stopping = time.perf_counter()
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=60)
            print(f"SIGTERM to exit, explainers running {time.perf_counter() - stopping:.1f} s")
        except subprocess.TimeoutExpired:
            app.kill()
            print("SIGTERM to exit, explainers running: still running after 60 s (killed)")
        # A fresh app again, in the same browser: its cache holds the app's scripts, as on a reader's
        # every later morning. The model is stopped first: it would still be writing the explainer the
        # stopped app asked for.
        subprocess.run([str(Path(sys.executable).with_name("paperboy")), "model", "stop"], check=True)
        with running_app(LOG, timeout_s=STARTUP_TIMEOUT_S) as url:
            seen, in_page = first_paper(browsing.new_page(), url)
            print(f"Today page load to its first paper {seen:.1f} s, in the page {in_page:.1f} s (browser cache warm)")
        # A fresh app, the Ask page opened directly: no explainers are being written meanwhile.
        with running_app(LOG, timeout_s=STARTUP_TIMEOUT_S) as url:
            page = browser.new_page()
            page.goto(f"{url}/ask")
            first, whole = [], []
            for number, question in enumerate(QUESTIONS[: args.questions]):
                to_words, to_whole = ask(page, question, number)
                first.append(to_words)
                whole.append(to_whole)
                print(f"  {to_words:5.1f} s to first words, {to_whole:5.1f} s to the whole answer: {question[:50]}")
        print(f"Ask page, first words p50          {statistics.median(first):.1f} s (the first starts the model)")
        print(f"Ask page, whole answer p50         {statistics.median(whole):.1f} s")
        browser.close()


if __name__ == "__main__":
    main()
