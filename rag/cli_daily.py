"""`paperboy daily`: the morning's routine in one command, safe under cron. Registered by rag/cli.py."""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rag.cli_shared import digest_order_option, echo_json, parse_day
from rag.daily import EXIT_CODES
from rag.sources import utc_today

if TYPE_CHECKING:
    from rag.settings import Settings

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _CLOCK.match(value):
        raise click.BadParameter(f"{value!r} is not a time like 08:00")
    return value


def _paperboy_path() -> str:
    beside = Path(sys.executable).with_name("paperboy")
    return str(beside if beside.exists() else Path(sys.argv[0]).resolve())


# \b keeps click from re-wrapping the list.
_EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())


@click.command(name="daily", epilog=_EPILOG)
@click.option("--date", "day", callback=parse_day, help="The day (YYYY-MM-DD); default: today, in UTC.")
@click.option("--source", type=click.Choice(["hf", "arxiv"]), default="hf", show_default=True)
@click.option("--category", default="cs.LG", show_default=True, help="arXiv category, with --source arxiv.")
@click.option("--email", is_flag=True, help="Also send the digest by email, once a day (SMTP settings: .env.example).")
@digest_order_option("Order of the digest's papers; muted and hidden papers are folded away either way.")
@click.option("--refetch", is_flag=True, help="Download the day's list again (papers added since are ingested).")
@click.option(
    "--print-schedule",
    "at",
    metavar="HH:MM",
    callback=_clock,
    help="Print a crontab line and a systemd user timer that run this every day at HH:MM, and exit.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
@click.pass_obj
def cli_daily(
    settings: Settings,
    day: date | None,
    source: str,
    category: str,
    email: bool,
    sort: str,
    refetch: bool,
    at: str | None,
    as_json: bool,
) -> None:
    """The morning in one command: fetch the day's papers, ingest them, write the explainers, name the
    topics and write the digest (Markdown, HTML, and an Atom feed) into DATA_DIR/digests/; --email
    sends it too.

    A second run the same day does only what is missing, a run stopped anywhere resumes where it was,
    and a lock keeps two runs from overlapping. One log line per step goes to stderr and to
    DATA_DIR/daily.log; a progress bar shows only on a terminal.
    """
    from tqdm import tqdm

    from rag.daily import DailyOptions, log_line, run_daily

    if at:
        from rag.daily import schedule

        click.echo(schedule(at, _paperboy_path(), settings.data_dir.resolve()))
        return
    if email:
        from rag.mail import check_mail_settings

        check_mail_settings(settings)  # before any work: an email that cannot go fails now, not at the end
    options = DailyOptions(
        day=day or utc_today(),
        source=source,  # type: ignore[arg-type]
        category=category,
        email=email,
        for_you=sort == "for-you",
        refetch=refetch,
    )
    with tqdm(disable=None, leave=False, unit="item") as bar:
        log = log_line(settings, options, lambda line: tqdm.write(line, file=sys.stderr))
        report = run_daily(settings, options, log, bar)
    if as_json:
        echo_json(report.model_dump(mode="json"))
    elif report.exit_code == 0:
        click.echo(report.message)
        for kind, path in report.files.items():
            click.echo(f"  {kind:<5} {path}")
    else:
        click.echo(f"Error: {report.message}", err=True)
    sys.exit(report.exit_code)
