"""Which day a file's papers are listed on: the file's own, --date, the day in its name, else today; and the
real archive's days (before 2025-03-17 no submittedOnDailyAt; a paper on two days; non-JSON days refused)."""

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from rag.sources import day_in_name, utc_today
from tests.conftest import FIXTURES, run_cli

pytestmark = pytest.mark.usefixtures("fake_embedder")

ARCHIVE = FIXTURES / "hf-archive"
RECORD = {"title": "Sparse Heads for Long Context", "abstract": "We route a few heads. It saves memory."}


def _listed(paper_id: str) -> list[str]:
    """The days a paper is listed on, newest first, as `paperboy papers --date` shows them."""
    days = json.loads(run_cli("stats", "--json").output)["days"]
    on_day = {d: {p["id"] for p in json.loads(run_cli("papers", "--date", d, "--json").output)} for d in days}
    return [d for d in days if paper_id in on_day[d]]


def _jsonl(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_file_without_a_day_is_listed_on_the_day_in_its_name_and_says_so(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "2026-02-25.jsonl", {"id": "2602.00001", **RECORD})
    result = run_cli("ingest", str(path))
    assert result.exit_code == 0, result.output
    assert "listed on 2026-02-25 (from its name)" in result.output
    assert _listed("2602.00001") == ["2026-02-25"]


def test_without_a_day_or_a_dated_name_it_is_today_in_utc_and_json_says_so(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "tracker.jsonl", {"id": "2602.00002", **RECORD})
    report = json.loads(run_cli("ingest", str(path), "--json").stdout)
    assert report["listing_days"] == [{"file": str(path), "day": utc_today().isoformat(), "taken_from": "today"}]
    assert _listed("2602.00002") == [utc_today().isoformat()]


def test_date_wins_over_the_name_and_nothing_is_said(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "2026-02-25.jsonl", {"id": "2602.00003", **RECORD})
    result = run_cli("ingest", str(path), "--date", "2026-03-01")
    assert "listed on" not in result.output
    assert _listed("2602.00003") == ["2026-03-01"]


def test_records_with_their_own_day_keep_it_and_the_others_take_the_name(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "digest-2026-02-25.jsonl",
        {"id": "2602.00004", "listed_on": "2026-02-20", **RECORD},
        {"id": "2602.00005", "title": "Another Paper", "abstract": "Its abstract."},
    )
    run_cli("ingest", str(path))
    assert (_listed("2602.00004"), _listed("2602.00005")) == (["2026-02-20"], ["2026-02-25"])


def test_an_arxiv_feed_over_several_published_dates_is_listed_on_one_day(tmp_path: Path) -> None:
    feed = shutil.copy(FIXTURES / "arxiv_feed.xml", tmp_path / "cs.LG-2025-11-03.xml")
    result = run_cli("ingest", str(feed), "--json")
    assert json.loads(result.stdout)["listing_days"][0]["day"] == "2025-11-03"
    assert json.loads(run_cli("stats", "--json").output)["days"] == ["2025-11-03"]


def test_day_in_name_ignores_longer_numbers_and_impossible_days() -> None:
    assert day_in_name(Path("hf-2026-02-25-p0.json")) == date(2026, 2, 25)
    assert day_in_name(Path("12026-02-251.json")) is None
    assert day_in_name(Path("2026-02-30.jsonl")) is None


def test_the_archive_in_one_command_puts_every_paper_on_its_day() -> None:
    days = ["2024-12-02", "2026-04-10", "2026-04-16"]
    result = run_cli("ingest", *(str(ARCHIVE / f"{d}.json") for d in days), "--json")
    report = json.loads(result.stdout)
    assert (report["new"], report["failed_files"], report["listing_days"]) == (8, [], [])
    for day in days:
        listed = {p["id"] for p in json.loads(run_cli("papers", "--date", day, "--json").output)}
        expected = {item["paper"]["id"] for item in json.loads((ARCHIVE / f"{day}.json").read_text())}
        assert listed == expected, day
    # Posted 2024-12-01T23:12Z with no submittedOnDailyAt: its list is the day asked for, not the evening before.
    assert _listed("2411.19930") == ["2024-12-02"]
    # Listed on two days: one paper, found on both.
    assert _listed("2604.07429") == ["2026-04-16", "2026-04-10"]
    assert len(json.loads(run_cli("papers", "--json").output)) == 8


def test_a_day_archived_as_python_reprs_is_refused_naming_the_file(tmp_path: Path) -> None:
    bad = ARCHIVE / "2024-12-03-python-repr.json"
    status = tmp_path / "2024-12-04.json"
    status.write_text('{"status": "error", "message": "rate limited"}')
    result = run_cli("ingest", str(bad), str(status), str(ARCHIVE / "2024-12-02.json"))
    assert result.exit_code == 1
    assert f"{bad}: not a daily_papers answer: its items are text" in result.output
    assert f"{status}: not a daily_papers answer: an object with the keys message, status" in result.output
    assert json.loads(run_cli("stats", "--json").output)["days"] == ["2024-12-02"]  # the good file went in
