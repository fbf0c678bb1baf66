"""What every module of the `paperboy` command shares: reading a day option, the digest's order, printing JSON."""

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import click


def parse_day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """A click callback: YYYY-MM-DD as a date, or a BadParameter that shows the expected form."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2025-10-31") from None


def digest_order_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--sort`: the order of a digest's papers, for `digest` and `daily` alike ("for-you" is the reader's)."""
    return click.option(
        "--sort", type=click.Choice(["upvotes", "for-you"]), default="upvotes", show_default=True, help=help_text
    )


def echo_json(data: Any) -> None:
    """Print data as indented JSON, dates and paths as strings."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
