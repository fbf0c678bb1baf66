"""`paperboy daily`: the morning's routine, fetch -> ingest -> explainers -> topics -> digest (-> email).

Each step records in the catalog what it did and what it depended on (its fingerprint: the files, the
day's papers, the model, the prompts, the reader's interests). A step whose record matches is skipped,
so a second run the same day does nothing, and a run stopped anywhere (a kill, a crash, the network)
resumes at the step it was in: explainers are saved one by one, the store's writes are ordered (see
rag.store), and the digest's files are written whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from rag.catalog import Catalog
from rag.errors import FetchError, PaperboyError
from rag.locks import try_lock, write_atomically
from rag.models import STRICT, Paper

if TYPE_CHECKING:
    from rag.chains import ModelCalls
    from rag.digest import Digest
    from rag.settings import Settings
    from rag.store import Store

STEPS = ("fetch", "ingest", "explain", "topics", "digest", "email")
# Exit codes, for cron and scripts (2 is click's, for a bad option).
EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_NO_PAPERS = 3
EXIT_UNREACHABLE = 4
EXIT_BUSY = 5
EXIT_CODES = {
    EXIT_DONE: "every step done (or already done)",
    EXIT_FAILED: "a step failed (the message says which and why); the next run resumes there",
    EXIT_NO_PAPERS: "the source lists no papers for the day yet; nothing written, try later",
    EXIT_UNREACHABLE: "the source could not be reached or refused; nothing written, try later",
    EXIT_BUSY: "another `paperboy daily` holds the lock; this run did nothing",
}


class DailyOptions(BaseModel):
    """What the user asked of this run."""

    model_config = STRICT

    day: date = Field(description="The Daily Papers day (UTC)")
    source: Literal["hf", "arxiv"] = Field(default="hf", description="Where the day's list comes from")
    category: str = Field(default="cs.LG", description="arXiv category, with source arxiv")
    email: bool = Field(default=False, description="Also send the digest by email (once a day)")
    for_you: bool = Field(default=False, description="Order the digest for the reader instead of by upvotes")
    refetch: bool = Field(default=False, description="Download the day's list again even if it was fetched")


class StepResult(BaseModel):
    """One step of a run."""

    model_config = STRICT

    step: str = Field(description="fetch, ingest, explain, topics, digest or email")
    status: Literal["done", "skipped", "failed", "not run"] = Field(description="skipped: already done before")
    seconds: float = Field(default=0.0, description="Wall time of the step in this run")
    detail: str = Field(default="", description="What it did, in words")


class DailyReport(BaseModel):
    """What a run did: the `paperboy daily --json` summary."""

    model_config = STRICT

    day: date
    source: str
    steps: list[StepResult] = Field(default_factory=list)
    papers: int = Field(default=0, description="Papers listed on the day")
    files: dict[str, str] = Field(default_factory=dict, description="The digest's files by kind: md, html, json, feed")
    exit_code: int = EXIT_DONE
    message: str = ""


Log = Callable[[str], None]


class _Stop(Exception):
    """Ends a run early with an exit code and a message (no papers yet, the source unreachable)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def digest_dir(settings: Settings) -> Path:
    """Where `paperboy daily` keeps each day's digest and the feed."""
    return settings.data_dir / "digests"


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:16]


class DailyRun:
    """One run of the routine for one day and source; `run` does the steps that are not done yet."""

    def __init__(self, settings: Settings, options: DailyOptions, log: Log, progress: Any = None) -> None:
        self.settings = settings
        self.options = options
        self.log = log
        self.progress = progress  # a tqdm bar, or None
        self.catalog = Catalog(settings.catalog_path)
        self.report = DailyReport(day=options.day, source=self._source_name())
        self._store: Store | None = None
        self._calls: ModelCalls | None = None
        self._digest: Digest | None = None

    def _source_name(self) -> str:
        return "hf" if self.options.source == "hf" else f"arxiv {self.options.category}"

    # State, per day and source, in the catalog.

    def _key(self, step: str) -> str:
        return f"daily:{self.options.day}:{self._source_name()}:{step}"

    def _record(self, step: str) -> dict[str, Any] | None:
        saved = self.catalog.state(self._key(step))
        return json.loads(saved) if saved else None

    def _save(self, step: str, fingerprint: str, **detail: Any) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        self.catalog.set_state(self._key(step), json.dumps({"fingerprint": fingerprint, "at": at, **detail}))

    # Lazily opened parts: a run with nothing to do never loads the store or a model.

    @property
    def store(self) -> Store:
        if self._store is None:
            from rag.store import open_store

            self._store = open_store(self.settings)
        return self._store

    @property
    def calls(self) -> ModelCalls:
        if self._calls is None:
            from rag.chains import ModelCalls
            from rag.providers import get_chat

            self._calls = ModelCalls(get_chat(self.settings), self.settings.cache_dir)
        return self._calls

    # The run.

    def run(self) -> DailyReport:
        """Every step not yet done, in order; stops at the first failure with its exit code."""
        steps = [s for s in STEPS if s != "email" or self.options.email]
        for index, step in enumerate(steps):
            try:
                self._run_step(step)
            except _Stop as stop:
                return self._stopped(steps[index:], stop.code, str(stop))
            except PaperboyError as ex:
                return self._stopped(steps[index:], EXIT_FAILED, f"{step} failed: {ex}")
        done = [s.step for s in self.report.steps if s.status == "done"]
        self.report.message = f"{self.options.day} ({self._source_name()}): " + (
            f"did {', '.join(done)}." if done else "nothing to do."
        )
        return self.report

    def _stopped(self, left: list[str], code: int, message: str) -> DailyReport:
        first, *rest = left
        self.report.steps.append(StepResult(step=first, status="failed", detail=message))
        self.report.steps += [StepResult(step=s, status="not run") for s in rest]
        self.report.exit_code = code
        self.report.message = message
        self.log(f"{first}: stopped: {message}")
        return self.report

    def _run_step(self, step: str) -> None:
        started = time.perf_counter()
        fingerprint = getattr(self, f"_fingerprint_{step}")()
        record = self._record(step)
        again = step == "fetch" and self.options.refetch
        if record and record["fingerprint"] == fingerprint and self._still_there(record) and not again:
            detail = record.get("detail", "")
            self.report.steps.append(StepResult(step=step, status="skipped", detail=detail))
            self._after(step, record)
            self.log(f"{step}: already done ({detail})")
            return
        self.log(f"{step}: started")
        detail, extra = getattr(self, f"_do_{step}")()
        self._save(step, fingerprint, detail=detail, **extra)
        seconds = round(time.perf_counter() - started, 2)
        self.report.steps.append(StepResult(step=step, status="done", seconds=seconds, detail=detail))
        self._after(step, {"detail": detail, **extra})
        self.log(f"{step}: done in {seconds:.1f} s ({detail})")

    def _still_there(self, record: dict[str, Any]) -> bool:
        return all(Path(path).is_file() for path in [*record.get("files", []), *record.get("outputs", {}).values()])

    def _after(self, step: str, record: dict[str, Any]) -> None:
        if step == "digest":
            self.report.files = dict(record.get("outputs", {}))
        if step == "ingest":
            self.report.papers = len(self._day_papers())

    # Fingerprints: what each step's result depends on.

    def _fingerprint_fetch(self) -> str:
        return _hash(self.options.category if self.options.source == "arxiv" else "")

    def _fetched_files(self) -> list[str]:
        record = self._record("fetch")
        return list(record.get("files", [])) if record else []

    def _fingerprint_ingest(self) -> str:
        return _hash([(path, _file_hash(Path(path))) for path in self._fetched_files()])

    def _day_papers(self) -> list[Paper]:
        return self.catalog.papers(self.options.day)

    def _model_and_papers(self) -> tuple[str, list[tuple[str, str]]]:
        from rag.providers import chat_endpoint

        return chat_endpoint(self.settings)[0], sorted((p.id, p.content_hash) for p in self._day_papers())

    def _fingerprint_explain(self) -> str:
        from rag.explain import explain_prompt

        return _hash(self._model_and_papers(), explain_prompt().id)

    def _fingerprint_topics(self) -> str:
        from rag.prompts import load_prompt

        return _hash(self._model_and_papers(), load_prompt("topic").id)

    def _interests(self) -> tuple[Any, ...]:
        keywords = [self.catalog.keywords(kind) for kind in ("follow", "mute")]
        marks = [sorted(self.catalog.marked(mark)) for mark in ("star", "hidden")]
        return *keywords, *marks, self.options.for_you

    def _fingerprint_digest(self) -> str:
        return _hash(self._fingerprint_topics(), self._fingerprint_explain(), self._interests())

    def _fingerprint_email(self) -> str:
        # Sent once a day: a changed digest later that day is not sent again.
        return _hash(self.settings.mail_to)

    # The steps. Each returns (what it did, in words; what to record besides).

    def _do_fetch(self) -> tuple[str, dict[str, Any]]:
        from rag.fetch import fetch_day

        options = self.options
        try:
            files = fetch_day(options.day, options.source, options.category, self.settings)
        except FetchError as ex:
            raise _Stop(EXIT_UNREACHABLE, f"{ex} Nothing was written.") from None
        if not files:
            raise _Stop(
                EXIT_NO_PAPERS,
                f"No papers are listed on {options.day} ({self._source_name()}) yet; nothing was written. "
                "Run it again later.",
            )
        return f"{len(files)} file{'s' if len(files) != 1 else ''}", {"files": [str(f) for f in files]}

    def _do_ingest(self) -> tuple[str, dict[str, Any]]:
        from rag.ingest import ingest_files
        from rag.sources import ReadOptions

        fmt = "hf-json" if self.options.source == "hf" else "arxiv"
        paths = [Path(p) for p in self._fetched_files()]
        self._bar("ingest", None)
        report = ingest_files(paths, self.store, fmt, ReadOptions(listed_on=self.options.day), self._chunk_progress)
        if report.failed_files:
            raise PaperboyError("; ".join(report.failed_files))
        return report.summary(), {}

    def _chunk_progress(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.total = total
            self.progress.n = done
            self.progress.refresh()

    def _do_explain(self) -> tuple[str, dict[str, Any]]:
        from rag.explain import explain_paper
        from rag.model_service import background_work

        papers = self._day_papers()
        self._bar("explain", len(papers))
        generated = flagged = 0
        with background_work():
            for paper in papers:
                explainer = explain_paper(paper, self.calls, self.catalog)
                generated += not explainer.cached
                flagged += explainer.flagged
                self._tick()
        return f"{len(papers)} explainers, {generated} written now, {flagged} flagged", {}

    def _do_topics(self) -> tuple[str, dict[str, Any]]:
        from rag.digest import group_by_topic, name_topic
        from rag.model_service import background_work

        papers = self._day_papers()
        groups = group_by_topic(self.store, papers)
        self._bar("topics", len(groups))
        with background_work():
            names = []
            for group in groups:
                names.append(name_topic(group, self.calls, papers, self.catalog))
                self._tick()
        return f"{len(groups)} topic{'s' if len(groups) != 1 else ''}: {'; '.join(names)}", {}

    def _do_digest(self) -> tuple[str, dict[str, Any]]:
        digest = self.digest()
        folder = digest_dir(self.settings)
        outputs = write_digest_files(digest, folder, self.settings)
        papers, topics = sum(len(t.papers) for t in digest.topics), len(digest.topics)
        return f"{papers} papers in {topics} topic{'s' if topics != 1 else ''}", {"outputs": outputs}

    def _do_email(self) -> tuple[str, dict[str, Any]]:
        from rag.mail import send_digest

        sent_to = send_digest(self.digest(), self.settings)
        return f"sent to {', '.join(sent_to)}", {}

    def digest(self) -> Digest:
        """The day's digest as the reader wants it: built once a run (explainers and names are cached)."""
        if self._digest is None:
            self._digest = build_reader_digest(self.store, self.calls, self.options.day, self.options.for_you)
        return self._digest

    # One progress display when run by hand: the bar is reused by each step.

    def _bar(self, step: str, total: int | None) -> None:
        if self.progress is not None:
            self.progress.reset(total=total)
            self.progress.set_description(step)

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress.update(1)


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


def build_reader_digest(
    store: Store,
    calls: ModelCalls,
    day: date | None,
    for_you: bool,
    on_change: Callable[[Digest], None] = lambda digest: None,
) -> Digest:
    """The day's digest (explainers written where missing; on_change sees each state, as build_digest
    says) with the reader's interests applied: muted and hidden papers folded into a last topic; with
    for_you, papers and topics in the reader's order."""
    from rag.digest import build_digest
    from rag.explain import explain_paper
    from rag.interests import arrange_digest, rank_for_you
    from rag.model_service import background_work

    with background_work():
        digest = build_digest(store, calls, day, lambda paper: explain_paper(paper, calls, store.catalog), on_change)
    papers = [p for topic in digest.topics for p in topic.papers]
    return arrange_digest(digest, rank_for_you(store, papers), for_you)


def write_digest_files(digest: Digest, folder: Path, settings: Settings) -> dict[str, str]:
    """The day's digest as Markdown, HTML and JSON, and the feed of the last FEED_DAYS digests, each
    written whole; returns their paths by kind."""
    from rag.digest import Digest, render_html, render_markdown
    from rag.feed import FEED_DAYS, render_feed

    name = digest.day.isoformat() if digest.day else "all"
    outputs = {
        "md": write_atomically(folder / f"{name}.md", render_markdown(digest).encode()),
        "html": write_atomically(folder / f"{name}.html", render_html(digest).encode()),
        "json": write_atomically(folder / f"{name}.json", digest.model_dump_json().encode()),
    }
    snapshots = sorted(folder.glob("????-??-??.json"), reverse=True)[:FEED_DAYS]
    digests = [Digest.model_validate_json(path.read_text(encoding="utf-8")) for path in snapshots]
    feed_path = folder / "feed.xml"
    feed_id = f"urn:paperboy:{_hash(str(settings.data_dir.resolve()))}"
    outputs["feed"] = write_atomically(feed_path, render_feed(digests, feed_id, feed_path.resolve().as_uri()))
    return {kind: str(path) for kind, path in outputs.items()}


def run_daily(settings: Settings, options: DailyOptions, log: Log, progress: Any = None) -> DailyReport:
    """The routine under the data dir's daily lock: two runs never overlap; a second one exits EXIT_BUSY."""
    with try_lock(settings.data_dir / "daily.lock") as mine:
        if not mine:
            report = DailyReport(day=options.day, source=options.source, exit_code=EXIT_BUSY)
            report.message = f"Another `paperboy daily` is running on {settings.data_dir}; this run did nothing."
            log(report.message)
            return report
        return DailyRun(settings, options, log, progress).run()


def log_line(settings: Settings, options: DailyOptions, write: Callable[[str], None] = print) -> Log:
    """A logger that writes one timestamped line to stderr (through write) and appends it to DATA_DIR/daily.log."""
    log_path = settings.data_dir / "daily.log"

    def log(text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{stamp} daily {options.day} {options.source}: {text}"
        write(line)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    return log


def schedule(at: str, paperboy: str, data_dir: Path) -> str:
    """A crontab line and a systemd user service and timer that run `paperboy daily` every day at `at` (HH:MM)."""
    hour, minute = (int(part) for part in at.split(":"))
    env = f"PAPERBOY_DATA_DIR={data_dir}"
    return f"""# crontab -e  (times are the machine's local time; the Daily Papers day is UTC)
{minute} {hour} * * * {env} {paperboy} daily >> {data_dir}/cron.log 2>&1

# or a systemd user timer:
# ~/.config/systemd/user/paperboy-daily.service
[Unit]
Description=Paperboy: the day's papers, explainers and digest

[Service]
Type=oneshot
Environment={env}
ExecStart={paperboy} daily

# ~/.config/systemd/user/paperboy-daily.timer
[Unit]
Description=Run paperboy daily at {hour:02d}:{minute:02d}

[Timer]
OnCalendar=*-*-* {hour:02d}:{minute:02d}:00
Persistent=true

[Install]
WantedBy=timers.target

# then: systemctl --user daemon-reload && systemctl --user enable --now paperboy-daily.timer
"""


def stderr_line(text: str) -> None:
    """Write one line to stderr."""
    print(text, file=sys.stderr, flush=True)
