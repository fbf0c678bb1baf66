"""`paperboy daily` in-process: every step on a fixture day from a real stand-in server on 127.0.0.1, a
second run that does nothing, resuming after a failure, and the clear stops (no papers, offline, busy)."""

import json
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from rag.daily import EXIT_BUSY, EXIT_FAILED, EXIT_NO_PAPERS, EXIT_UNREACHABLE
from rag.errors import ProviderError
from rag.locks import try_lock
from rag.settings import Settings
from rag.sources import utc_today
from tests.conftest import FIXTURES, TOPIC_NAME, ScriptedChat, run_cli, topic_or_explainer
from tests.stand_in import StandIn, serving

pytestmark = pytest.mark.usefixtures("fake_embedder")

DAY = "2025-10-31"
DAY_FILE = FIXTURES / "hf_daily_papers.json"
PAPER_IDS = {item["paper"]["id"] for item in json.loads(DAY_FILE.read_text())}


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """The Daily Papers and arXiv APIs on 127.0.0.1, with the fixture day."""
    with serving(StandIn(hf_days={DAY: DAY_FILE.read_bytes()})) as server:
        monkeypatch.setenv("PAPERBOY_HF_API_URL", server.hf_url)
        monkeypatch.setenv("PAPERBOY_ARXIV_API_URL", server.arxiv_url)
        yield server


def _daily(*args: str) -> tuple[int, dict]:
    result = run_cli("daily", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def _statuses(report: dict) -> dict[str, str]:
    return {step["step"]: step["status"] for step in report["steps"]}


def _written(data_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file())


def test_a_cold_run_does_every_step_and_a_second_does_nothing(
    stand_in: StandIn, chat: ScriptedChat, settings: Settings
) -> None:
    chat.script = [topic_or_explainer]
    code, report = _daily("--date", DAY)
    assert code == 0, report
    assert _statuses(report) == dict.fromkeys(["fetch", "ingest", "explain", "topics", "digest"], "done")
    assert report["papers"] == 4
    assert set(report["files"]) == {"md", "html", "json", "feed"}
    markdown = Path(report["files"]["md"]).read_text()
    assert f"## {TOPIC_NAME}" in markdown and "https://huggingface.co/papers/2510.26692" in markdown
    feed = feedparser.parse(report["files"]["feed"])
    assert not feed.bozo and {e.link.rsplit("/", 1)[1] for e in feed.entries} == PAPER_IDS
    calls, requests = len(chat.received), len(stand_in.requests)
    log_lines = (settings.data_dir / "daily.log").read_text().splitlines()

    code, again = _daily("--date", DAY)
    assert code == 0
    assert set(_statuses(again).values()) == {"skipped"}
    assert again["message"] == f"{DAY} (hf): nothing to do." and again["files"] == report["files"]
    assert (len(chat.received), len(stand_in.requests)) == (calls, requests)  # no model, no network
    assert len((settings.data_dir / "daily.log").read_text().splitlines()) == len(log_lines) + 5  # a line a step


def test_it_resumes_where_a_failed_run_stopped(stand_in: StandIn, chat: ScriptedChat) -> None:
    replies = iter(range(100))

    def fails_on_the_third_explainer(messages: list) -> str:
        if "common topic" not in str(messages[0].content) and next(replies) == 2:
            raise ProviderError("the model went away")
        return topic_or_explainer(messages)

    chat.script = [fails_on_the_third_explainer]
    code, report = _daily("--date", DAY)
    assert code == EXIT_FAILED
    assert _statuses(report) == {
        "fetch": "done",
        "ingest": "done",
        "explain": "failed",
        "topics": "not run",
        "digest": "not run",
    }
    assert "explain failed: the model went away" in report["message"]
    explained_before = len(chat.received)
    code, report = _daily("--date", DAY)
    assert code == 0, report
    assert _statuses(report)["fetch"] == _statuses(report)["ingest"] == "skipped"
    explain_calls = [m for m in chat.received[explained_before:] if "common topic" not in str(m[0].content)]
    assert len(explain_calls) == 2  # the two explainers saved before the failure were not written again
    assert len(json.loads(run_cli("papers", "--date", DAY, "--json").output)) == 4


def test_a_day_with_no_papers_yet_says_so_and_writes_nothing(stand_in: StandIn, settings: Settings) -> None:
    result = run_cli("daily", "--date", "2025-11-01")
    assert result.exit_code == EXIT_NO_PAPERS
    assert "No papers are listed on 2025-11-01 (hf) yet; nothing was written" in result.output
    assert _written(settings.data_dir) == ["catalog.sqlite3", "daily.lock", "daily.log"]
    assert json.loads(run_cli("papers", "--json").output) == []


def test_offline_it_says_so_and_writes_nothing(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("PAPERBOY_HF_API_URL", "http://127.0.0.1:9/api/daily_papers")
    code, report = _daily()
    assert code == EXIT_UNREACHABLE
    assert "offline" in report["message"] and "Nothing was written" in report["message"]
    assert report["day"] == utc_today().isoformat()  # the default day: today, in UTC
    assert _written(settings.data_dir) == ["catalog.sqlite3", "daily.lock", "daily.log"]


def test_a_second_run_while_one_holds_the_lock_does_nothing(stand_in: StandIn, settings: Settings) -> None:
    with try_lock(settings.data_dir / "daily.lock") as mine:
        assert mine
        result = run_cli("daily", "--date", DAY)
    assert result.exit_code == EXIT_BUSY
    assert "Another `paperboy daily` is running" in result.output
    assert stand_in.requests == []


def test_stars_and_mutes_redo_only_the_digest(stand_in: StandIn, chat: ScriptedChat) -> None:
    chat.script = [topic_or_explainer]
    _daily("--date", DAY)
    run_cli("mute", "retrieval heads")
    code, report = _daily("--date", DAY, "--sort", "for-you")
    assert code == 0
    assert _statuses(report) == {**dict.fromkeys(["fetch", "ingest", "explain", "topics"], "skipped"), "digest": "done"}
    markdown = Path(report["files"]["md"]).read_text()
    folded = markdown.split("## Folded away (muted or hidden)", 1)
    assert len(folded) == 2 and "Sparse Mixtures of Retrieval Heads" in folded[1]
    assert "in your order (for you)" in markdown


def test_print_schedule_gives_a_cron_line_and_a_systemd_timer(settings: Settings) -> None:
    result = run_cli("daily", "--print-schedule", "08:05")
    assert result.exit_code == 0
    assert f"5 8 * * * PAPERBOY_DATA_DIR={settings.data_dir.resolve()} " in result.output
    assert "OnCalendar=*-*-* 08:05:00" in result.output and "Persistent=true" in result.output
    assert run_cli("daily", "--print-schedule", "25:00").exit_code == 2


def test_refetch_downloads_the_day_again_once(stand_in: StandIn, chat: ScriptedChat) -> None:
    chat.script = [topic_or_explainer]
    _daily("--date", DAY)
    code, report = _daily("--date", DAY, "--refetch")
    assert code == 0 and _statuses(report)["fetch"] == "done"
    assert _statuses(report)["ingest"] == "skipped"  # the same list: nothing new to ingest
    code, report = _daily("--date", DAY)
    assert set(_statuses(report).values()) == {"skipped"}
    assert len(stand_in.requests) == 2


def test_an_arxiv_day_lists_its_papers_on_the_day_asked(stand_in: StandIn, chat: ScriptedChat) -> None:
    chat.script = [topic_or_explainer]
    stand_in.arxiv_feed = (FIXTURES / "arxiv_feed.xml").read_bytes()
    code, report = _daily("--date", DAY, "--source", "arxiv", "--category", "cs.CL")
    assert code == 0, report
    assert report["source"] == "arxiv cs.CL" and report["papers"] == 3
    assert "cat:cs.CL" in stand_in.requests[0]
    assert len(json.loads(run_cli("papers", "--date", DAY, "--json").output)) == 3
