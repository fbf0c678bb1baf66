"""The `paperboy` command: the product's front door, and the one place errors become messages.

Each command imports the heavy parts it needs (LangChain, Chroma, ONNX: ~2 s of CPU) when it runs,
so `--help` and `papers` answer at once.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

import rag
from evals.pipelines import PIPELINES
from rag import cli_daily, cli_interests
from rag.catalog import Catalog, Days
from rag.citations import marker
from rag.cli_shared import digest_order_option
from rag.cli_shared import echo_json as _echo_json
from rag.cli_shared import parse_day as _day
from rag.errors import PaperboyError, storage_failure
from rag.models import DayRange
from rag.retrieval import MODES
from rag.sources import MAX_BYTES, READERS, ReadOptions, utc_today

if TYPE_CHECKING:
    from rag.chains import ModelCalls
    from rag.digest import Digest
    from rag.models import Answer, Explainer, IngestReport, Paper
    from rag.settings import Settings
    from rag.store import Store


class PaperboyGroup(click.Group):
    """Shows a PaperboyError, or a file that cannot be written (a full disk, a read-only or misplaced
    folder), as one line and exit 1; PAPERBOY_DEBUG=1 shows the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (PaperboyError, OSError) as ex:
            # PAPERBOY_DEBUG as the settings read it (environment or .env); settings that failed to load
            # (ctx.obj still None) are a one-line SettingsError whatever it says.
            debug = getattr(ctx.obj, "debug", False)
            if debug or isinstance(ex, BrokenPipeError | ConnectionError):
                raise
            error = storage_failure(ex, ex.filename or "a file") if isinstance(ex, OSError) else ex
            raise click.ClickException(str(error)) from None


class WaitNotice:
    """On a terminal, "Waiting for MODEL: N s" until the first word comes, so a model still loading or
    a slow endpoint is not silence; nothing when stderr is not a terminal (pipes, --json readers, tests)."""

    def __init__(self, model: str, out: TextIO | None = None, every_s: float = 1.0) -> None:
        self._model = model
        self._out = out or sys.stderr
        self._every_s = every_s
        self._stop = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._count, daemon=True)

    def __enter__(self) -> WaitNotice:
        if self._out.isatty():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _count(self) -> None:
        seconds = 0.0
        while not self._stop.wait(self._every_s):
            seconds += self._every_s
            if seconds >= 2 * self._every_s:  # a quick answer shows no notice at all
                self._out.write(f"\rWaiting for {self._model}: {seconds:.0f} s")
                self._out.flush()
                self._shown = True

    def stop(self) -> None:
        """Stop counting and clear the line (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._shown:
            self._out.write("\r\033[K")
            self._out.flush()
            self._shown = False


@click.group(cls=PaperboyGroup)
@click.version_option(package_name="paperboy")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Paperboy: ask questions across the day's papers, with answers that cite them."""
    # Imported here: pydantic-settings takes ~0.1 s to import, which `paperboy --help` need not pay.
    from rag.settings import get_settings

    ctx.obj = get_settings()


def _print_ingest(report: IngestReport, as_json: bool) -> None:
    if as_json:
        _echo_json(report.model_dump())
    else:
        click.echo(report.summary())
        for listing_day in report.listing_days:  # in JSON, listing_days says it
            click.echo(listing_day.message(), err=True)
    for failure in report.failed_files:
        click.echo(f"Error: {failure}", err=True)
    if report.failed_files:
        click.echo(f"{len(report.failed_files)} file(s) not ingested; fix them and re-run (safe to repeat).", err=True)
        sys.exit(1)


def _run_ingest(settings: Settings, paths: list[Path], fmt: str, options: ReadOptions, as_json: bool) -> None:
    from tqdm import tqdm

    from rag.ingest import ingest_files
    from rag.store import open_store

    store = open_store(settings)
    with tqdm(desc="Embedding", unit="chunk", disable=None, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        report = ingest_files(paths, store, fmt, options, progress)
    _print_ingest(report, as_json)


@cli.command(name="ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", *READERS]),
    default="auto",
    show_default=True,
    help="Input format; auto detects it from the name and content.",
)
@click.option("--year", type=click.IntRange(1990, 2100), help="Year of a Daily Papers page whose dates have none.")
@click.option("--date", "day", callback=_day, help="The list's date (YYYY-MM-DD); overrides the file's.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def cli_ingest(
    settings: Settings, paths: tuple[Path, ...], fmt: str, year: int | None, day: date | None, as_json: bool
) -> None:
    """Add papers from files (Daily Papers page text, HF API JSON, arXiv Atom, JSONL, CSV).

    Re-running is safe: unchanged papers are skipped, changed ones replaced.
    """
    _run_ingest(
        settings, list(paths), fmt, ReadOptions(year=year or (day.year if day else None), listed_on=day), as_json
    )


@cli.command(name="fetch")
@click.option("--date", "day", callback=_day, help="Day to fetch (YYYY-MM-DD); default: today, in UTC.")
@click.option("--source", type=click.Choice(["hf", "arxiv"]), default="hf", show_default=True)
@click.option("--category", default="cs.LG", show_default=True, help="arXiv category, with --source arxiv.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def cli_fetch(settings: Settings, day: date | None, source: str, category: str, as_json: bool) -> None:
    """Download a day's papers (needs the network) and ingest them."""
    from rag.fetch import fetch_day

    day = day or utc_today()  # the Daily Papers site's "today" is UTC
    files = fetch_day(day, source, category, settings)
    if not files:
        click.echo(f"No papers were listed on {day} ({source}); nothing to ingest.")
        return
    fmt = "hf-json" if source == "hf" else "arxiv"
    _run_ingest(settings, files, fmt, ReadOptions(listed_on=day), as_json)


@cli.command(name="papers")
@click.option("--date", "day", callback=_day, help="Only papers listed on this day (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of papers.")
@click.pass_obj
def cli_papers(settings: Settings, day: date | None, as_json: bool) -> None:
    """List stored papers, most upvoted first."""
    papers = Catalog(settings.catalog_path).papers(day)
    if as_json:
        _echo_json([p.model_dump(mode="json") for p in papers])
        return
    if not papers:
        click.echo("No papers" + (f" listed on {day}" if day else "") + ". Add some with `paperboy ingest FILE`.")
    for paper in papers:
        click.echo(f"{paper.id:<14} {paper.upvotes:>4}  {paper.title}")


@cli.command(name="search")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="How many papers.")
@click.option("--date", "day", callback=_day, help="Only papers listed on this day (YYYY-MM-DD).")
@click.option(
    "--mode",
    type=click.Choice(list(MODES)),
    help="hybrid fuses meaning (dense) and keyword (BM25) rankings; default: PAPERBOY_RETRIEVAL_MODE (hybrid).",
)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.pass_obj
def cli_search(settings: Settings, query: str, k: int, day: date | None, mode: str | None, as_json: bool) -> None:
    """Find the papers that best match QUERY, one line per paper."""
    from rag.retrieval import retrieve
    from rag.store import open_store

    hits = retrieve(query, open_store(settings), k, day, mode=mode)
    if as_json:
        results = [
            {
                "paper_id": h.chunk.paper.id,
                "title": h.chunk.paper.title,
                "score": round(h.score, 4),
                "text": h.chunk.text,
            }
            for h in hits
        ]
        _echo_json({"query": query, "results": results})
        return
    for hit in hits:
        click.echo(f"{hit.score:.3f}  {hit.chunk.paper.id:<14} {hit.chunk.paper.title}")


@cli.command(name="stats")
@click.option("--json", "as_json", is_flag=True, help="Print stats as JSON.")
@click.pass_obj
def cli_stats(settings: Settings, as_json: bool) -> None:
    """What the store holds and where it lives, and which chat model answers."""
    from rag.providers import chat_endpoint
    from rag.store import store_stats

    chat_model, chat_url = chat_endpoint(settings)
    stats = {**store_stats(settings), "chat_model": chat_model, "chat_endpoint": chat_url}
    if as_json:
        _echo_json(stats)
        return
    days = stats["days"]  # newest first; an archive has hundreds, which --json lists
    stats["days"] = f"{len(days)} days, {days[-1]} to {days[0]}" if len(days) > 5 else ", ".join(days)
    for key, value in stats.items():
        if isinstance(value, dict):
            value = ", ".join(f"{name} {part}" for name, part in value.items())
        click.echo(f"{key:<16} {value}")


def _print_answer(answer: Answer, streamed: str) -> None:
    # The checks may withdraw or re-cite what streamed; the checked answer is the one that counts.
    if " ".join(streamed.split()) != answer.answer:
        click.echo(("\n" if streamed else "") + answer.answer)
    else:
        click.echo()
    if answer.abstained:
        click.echo(f"({answer.abstain_reason})", err=True)
    for citation in answer.citations:
        click.echo(f"{marker([citation.number])} {citation.title}" + (f" <{citation.url}>" if citation.url else ""))


def _days_asked(day: date | None, since: date | None, until: date | None) -> Days | None:
    if day and (since or until):
        raise click.UsageError("Give --date, or --since/--until, not both.")
    if since and until and since > until:
        raise click.BadParameter(f"--since {since} is after --until {until}", param_hint="--since")
    return day or (DayRange(since=since, until=until) if since or until else None)


@cli.command(name="ask")
@click.argument("question")
@click.option("--k", "k", type=click.IntRange(1, 20), help="Papers to consider (default 3; 8 for 'which papers').")
@click.option("--date", "day", callback=_day, help="Only papers listed on this day (YYYY-MM-DD).")
@click.option("--since", callback=_day, help="Only papers listed on this day or later (YYYY-MM-DD).")
@click.option("--until", callback=_day, help="Only papers listed on this day or earlier (YYYY-MM-DD).")
@click.option("--paper", "paper_id", help="Only this paper (an id from `paperboy papers`).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object when done instead of streaming.")
@click.pass_obj
def cli_ask(
    settings: Settings,
    question: str,
    k: int | None,
    day: date | None,
    since: date | None,
    until: date | None,
    paper_id: str | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from the stored papers, citing them, or say they do not answer it.

    By default it reads every day; --date reads one, --since and --until a range.
    """
    from rag.answer import Asker
    from rag.chains import ModelCalls
    from rag.model_service import person_waiting
    from rag.providers import get_chat
    from rag.store import open_store

    days = _days_asked(day, since, until)
    store = open_store(settings)
    if paper_id:
        store.catalog.paper(paper_id)  # a wrong id is said before a model is built or waited for
    calls = ModelCalls(get_chat(settings), settings.cache_dir)
    asker = Asker(store, calls, settings)
    streamed: list[str] = []

    with person_waiting(settings), WaitNotice(calls.model) as waiting:

        def show(piece: str) -> None:
            waiting.stop()
            streamed.append(piece)
            click.echo(piece, nl=False)

        answer = asker.ask(question, k=k, day=days, paper_id=paper_id, on_token=None if as_json else show)
    if as_json:
        _echo_json(answer.to_json())
    else:
        _print_answer(answer, "".join(streamed))
    _keep_warm(settings, calls)


def _keep_warm(settings: Settings, calls: ModelCalls) -> None:
    """After a command that used the local model, keep its imports warm for the next one (rag.resident)."""
    from rag.providers import is_local
    from rag.resident import start_resident

    if is_local(calls.llm):
        start_resident(settings)


def _print_explainer(explainer: Explainer) -> None:
    click.echo(click.style(explainer.title, bold=True))
    click.echo(f"{click.style(explainer.tldr, bold=True)} {explainer.after_tldr}")
    if explainer.flagged:
        click.echo(f"(flagged: {explainer.flag_reason})", err=True)


def _explain_with_progress(papers: list[Paper], calls: ModelCalls, store: Store, refresh: bool) -> list[Explainer]:
    from tqdm import tqdm

    from rag.explain import explain_papers
    from rag.model_service import background_work

    with tqdm(total=len(papers), desc="Explaining", unit="paper", disable=None) as bar:

        def progress(done: list[Explainer]) -> None:
            bar.update(1)
            bar.set_postfix(cached=sum(e.cached for e in done), flagged=sum(e.flagged for e in done))

        with background_work():
            return explain_papers(papers, calls, store.catalog, refresh, progress)


@cli.command(name="explain")
@click.argument("paper_id", required=False)
@click.option("--all", "every", is_flag=True, help="Explain every paper (of --date, if given).")
@click.option("--date", "day", callback=_day, help="With --all: only papers listed on this day.")
@click.option("--refresh", is_flag=True, help="Write new explainers even when cached ones exist.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object, or a list with --all).")
@click.pass_obj
def cli_explain(
    settings: Settings, paper_id: str | None, every: bool, day: date | None, refresh: bool, as_json: bool
) -> None:
    """A one-paragraph plain-language explainer of PAPER_ID, or of every paper with --all; its opening
    sentence is the TL;DR.

    Explainers are checked (length, one paragraph, own words, the method named, no number the
    abstract lacks), regenerated once when a check fails, and cached: asking again is instant until
    the abstract or prompt changes.
    """
    from rag.chains import ModelCalls
    from rag.explain import explain_paper
    from rag.model_service import person_waiting
    from rag.providers import get_chat
    from rag.store import open_store

    if bool(paper_id) == every:
        raise click.UsageError("Give one PAPER_ID or --all (ids: `paperboy papers`).")
    store = open_store(settings)
    papers = [store.catalog.paper(paper_id)] if paper_id else store.catalog.papers(day)
    calls = ModelCalls(get_chat(settings), settings.cache_dir)
    if paper_id:
        with person_waiting(settings):
            explainer = explain_paper(papers[0], calls, store.catalog, refresh)
        _echo_json(explainer.to_json()) if as_json else _print_explainer(explainer)
        _keep_warm(settings, calls)
        return
    if not papers:
        raise click.ClickException(
            "No papers" + (f" listed on {day}" if day else "") + "; run `paperboy ingest` first."
        )
    explainers = _explain_with_progress(papers, calls, store, refresh)
    if as_json:
        _echo_json([e.to_json() for e in explainers])
    else:
        for explainer in explainers:
            _print_explainer(explainer)
            click.echo()
    cached = sum(e.cached for e in explainers)
    flagged = sum(e.flagged for e in explainers)
    click.echo(f"{len(explainers) - cached} generated, {cached} cached, {flagged} flagged.", err=True)


@cli.command(name="digest")
@click.option("--date", "day", callback=_day, help="The day (YYYY-MM-DD); default: the latest day stored.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write FILE.md (Markdown) or FILE.html (a self-contained page); default: Markdown to stdout.",
)
@click.option("--feed", type=click.Path(dir_okay=False, path_type=Path), help="Also write the day as an Atom feed.")
@digest_order_option("Order within topics; muted and hidden papers are folded into a last topic either way.")
@click.option("--email", is_flag=True, help="Also send it by email (SMTP settings: .env.example).")
@click.pass_obj
def cli_digest(
    settings: Settings, day: date | None, out: Path | None, feed: Path | None, sort: str, email: bool
) -> None:
    """The day in one page: papers grouped by topic, most upvoted first, each with TL;DR and explainer.

    Explainers not written yet are generated first (cached, so a second digest is quick).
    """
    from tqdm import tqdm

    from rag.chains import ModelCalls
    from rag.daily import build_reader_digest
    from rag.providers import get_chat
    from rag.store import open_store

    if email:
        from rag.mail import check_mail_settings

        check_mail_settings(settings)
    store = open_store(settings)
    days = store.catalog.days()
    day = day or (days[0] if days else None)
    calls = ModelCalls(get_chat(settings), settings.cache_dir)
    with tqdm(total=len(store.catalog.papers(day)), desc="Explaining", unit="paper", disable=None) as bar:

        def progress(state: Digest) -> None:
            bar.n = sum(len(t.explainers) for t in state.topics)
            bar.refresh()

        digest = build_reader_digest(store, calls, day, sort == "for-you", progress)
    _write_digest(digest, out, feed, settings)
    if email:
        from rag.mail import send_digest

        click.echo(f"Sent the digest to {', '.join(send_digest(digest, settings))}.", err=True)


def _write_digest(digest: Digest, out: Path | None, feed: Path | None, settings: Settings) -> None:
    from rag.digest import render_html, render_markdown
    from rag.feed import render_feed
    from rag.locks import write_atomically

    papers = sum(len(t.papers) for t in digest.topics)
    if feed is not None:
        write_atomically(feed, render_feed([digest], f"urn:paperboy:digest:{digest.day}", feed.resolve().as_uri()))
        click.echo(f"Wrote {feed}: the Atom feed of {papers} papers.", err=True)
    html = out is not None and out.suffix.lower() in {".html", ".htm"}
    page = render_html(digest) if html else render_markdown(digest)
    if out is None:
        click.echo(page)
        return
    out.write_text(page, encoding="utf-8")
    click.echo(f"Wrote {out}: {papers} papers in {len(digest.topics)} topics.", err=True)


def _bars(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    bars = {}
    for value in values:
        metric, _, number = value.partition("=")
        try:
            bars[metric.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not METRIC=VALUE, e.g. accuracy=0.8") from None
    return bars


def missed_bars(aggregate: dict[str, float | None], bars: dict[str, float]) -> list[str]:
    """Each bar the run misses; for lower-is-better metrics (latency, ...) the bar is a maximum."""
    from evals.metrics import find_metric

    missed = []
    for metric, bar in bars.items():
        value = aggregate.get(metric)
        known = find_metric(metric)
        upper = known is not None and known.higher_is_better is False
        if value is None or (value > bar if upper else value < bar):
            missed.append(f"{metric} = {value} is {'above' if upper else 'below'} the bar {bar}")
    return missed


@cli.command(name="eval")
@click.argument("suite_args", metavar="SUITE...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--pipeline",
    type=click.Choice(PIPELINES),
    default="default",
    show_default=True,
    help="naive is the textbook chain (dense top-4, one stuffed prompt, no checks).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for run.json, report.md and report.html (default: under the data dir); "
    "with several suites, each suite's reports go in a subfolder and the combined run at the top.",
)
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), help="A run.json to compare against.")
@click.option(
    "--fail-under",
    "bars",
    multiple=True,
    callback=_bars,
    metavar="METRIC=VALUE",
    help="Exit 1 if the (combined) aggregate METRIC is below VALUE (above, for latency_* and other "
    "lower-is-better metrics). Repeatable.",
)
@click.option("--judge", is_flag=True, help="Also have the model check each answer sentence against its sources.")
@click.option("--json", "as_json", is_flag=True, help="Print the aggregate and each case's pass/fail as JSON.")
@click.pass_obj
def cli_eval(
    settings: Settings,
    suite_args: tuple[Path, ...],
    pipeline: str,
    out_dir: Path | None,
    baseline: Path | None,
    bars: dict[str, float],
    judge: bool,
    as_json: bool,
) -> None:
    """Run eval SUITEs (files, or folders of them such as evals/suites/test) in fresh stores built from
    their corpora, score every case, write reports: per suite, and all suites together."""
    from tqdm import tqdm

    from evals.metrics import metric_keys
    from evals.report import load_run, write_reports
    from evals.run import combine_runs, eval_run_dir, run_suite, suite_paths
    from evals.suite import load_suite
    from rag.providers import get_chat

    suites = [load_suite(path) for path in suite_paths(list(suite_args))]
    kinds = {suite.kind for suite in suites}
    if len(kinds) > 1:
        raise click.BadParameter(
            "answer and explainer suites score differently; run them separately", param_hint="SUITE"
        )
    kind = kinds.pop()
    unknown = set(bars) - set(metric_keys(kind, judge))
    if unknown:
        known = ", ".join(metric_keys(kind, judge))
        raise click.BadParameter(
            f"unknown metric {', '.join(sorted(unknown))}; known: {known}", param_hint="--fail-under"
        )
    before = load_run(baseline) if baseline else None
    chat = get_chat(settings)
    runs = []
    for suite in suites:
        with tqdm(total=len(suite.cases), desc=f"{suite.name} ({pipeline})", unit="case", disable=None) as bar:
            runs.append(run_suite(suite, settings, chat, pipeline, judge, lambda done, total: bar.update(1)))
    run = runs[0] if len(runs) == 1 else combine_runs(runs, kind)
    folder = out_dir or eval_run_dir(settings, run)
    if len(runs) > 1:
        for one in runs:
            write_reports(one, folder / one.suite)
    paths = write_reports(run, folder, before)
    missed = missed_bars(run.aggregate, bars)
    if as_json:
        cases = [{"id": c.id, "passed": c.correct, "tags": c.tags} for c in run.cases]
        _echo_json(
            {
                "aggregate": run.aggregate,
                "suites": {one.suite: one.aggregate for one in runs},
                "cases": cases,
                "reports": {k: str(v) for k, v in paths.items()},
                "failed_bars": missed,
            }
        )
    else:
        for case in run.cases:
            click.echo(f"{'PASS' if case.correct else 'FAIL'}  {case.id:<20} {case.question[:70]}")
        click.echo()
        if len(runs) > 1:
            for one in runs:
                click.echo(f"{one.suite:<28} accuracy {one.aggregate.get('accuracy')}  ({len(one.cases)} cases)")
            click.echo()
        for metric, value in run.aggregate.items():
            click.echo(f"{metric:<24} {'-' if value is None else value}")
        click.echo(f"\n{sum(c.correct for c in run.cases)}/{len(run.cases)} cases passed; reports in {folder}")
    if missed:
        for line in missed:
            click.echo(f"Failed bar: {line}", err=True)
        sys.exit(1)


@cli.group(name="model")
def cli_model() -> None:
    """The machine's local model service: one llama.cpp server that every paperboy process shares.

    The first command that needs the local model starts it; it stops by itself after
    PAPERBOY_LOCAL_KEEP_ALIVE seconds (default 600) without a request.
    """


def _service_json(settings: Settings) -> dict[str, Any]:
    from rag.model_service import idle_seconds, read_state
    from rag.resident import resident_pid

    state = read_state(settings)
    resident = {"resident_pid": resident_pid(settings)}
    if state is None:
        return {"running": False, **resident}
    idle = idle_seconds(settings)
    return {
        "running": True,
        "pid": state.pid,
        "url": state.base_url,
        "model": state.model_name,
        "idle_seconds": None if idle is None else round(idle),
        "keep_alive_seconds": state.keep_alive_s,
        **resident,
    }


def _print_service(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _echo_json(status)
        return
    if not status["running"]:
        click.echo("The local model service is not running; the next command that needs it starts it.")
    else:
        click.echo(
            f"{status['model']} on {status['url']} (pid {status['pid']}), idle {status['idle_seconds']} s; "
            f"stops after {status['keep_alive_seconds']} s idle."
        )
    if status["resident_pid"]:
        click.echo(f"A resident paperboy (pid {status['resident_pid']}) keeps ask, search and explain warm.")


@cli_model.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def cli_model_status(settings: Settings, as_json: bool) -> None:
    """Whether the service runs, where, and how long it has been idle."""
    _print_service(_service_json(settings), as_json)


@cli_model.command(name="start")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def cli_model_start(settings: Settings, as_json: bool) -> None:
    """Start the service now (and wait until it answers), so the next question starts at once."""
    from rag.model_service import ensure_service, touch
    from rag.resident import start_resident

    ensure_service(settings)
    touch(settings)
    start_resident(settings)
    _print_service(_service_json(settings), as_json)


@cli_model.command(name="stop")
@click.pass_obj
def cli_model_stop(settings: Settings) -> None:
    """Stop the service and free its memory; the next command that needs it starts it again."""
    from rag.model_service import stop_service
    from rag.resident import stop_resident

    stop_resident(settings)
    stopped = stop_service(settings)
    click.echo(f"Stopped the local model service (pid {stopped.pid})." if stopped else "It was not running.")


def app_path() -> Path:
    """The Streamlit app's entry script, in the checkout next to the rag package."""
    return Path(rag.__file__).resolve().parents[1] / "ui" / "app.py"


def streamlit_argv(app: Path, host: str, port: int) -> list[str]:
    """`streamlit run` for the app, through ui/server.py (which imports the app's modules first): no
    browser opened, no usage statistics, uploads capped like the readers."""
    return [
        sys.executable,
        str(app.with_name("server.py")),
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.maxUploadSize",
        str(MAX_BYTES // 2**20),
        # No "Deploy" button: the app is a local tool, not a Community Cloud project.
        "--client.toolbarMode",
        "minimal",
    ]


@cli.command(name="ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; 0.0.0.0 exposes the app.")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
def cli_ui(host: str, port: int) -> None:
    """Start the web app (Today, Ask, Evals, Library) and print its address; no browser is opened."""
    app = app_path()
    if not app.is_file():
        raise click.ClickException(
            f"The app is not at {app}: `paperboy ui` runs from a source checkout (pip install -e .)."
        )
    argv = streamlit_argv(app, host, port)
    # exec, not a child process: Ctrl-C and a kill reach the server itself, and no orphan is left behind.
    os.execv(argv[0], argv)


# Commands past the core ones live in their own modules (STYLE.md: split a CLI past ~500 lines).
for _command in [cli_daily.cli_daily, *cli_interests.COMMANDS]:
    cli.add_command(_command)


def main() -> None:
    """The `paperboy` command.

    A process that wrote nothing to the index exits without tearing down what it imported: Chroma's
    and ONNX Runtime's objects took 0.2-0.3 s to free after a 1.5 s search, and there is nothing to
    save (the catalog commits as it goes; files are written whole). A process that wrote leaves the
    orderly way.
    """
    try:
        cli()
    except SystemExit as done:
        # A command that never imported the store wrote nothing to it (and `--help` need not import it).
        store = sys.modules.get("rag.store")
        written = store is not None and store.index_written()
        if isinstance(done.code, int | None) and not written:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except OSError:  # a closed pipe: Python's own exit reports it
                raise done from None
            logging.shutdown()
            os._exit(done.code or 0)
        raise
