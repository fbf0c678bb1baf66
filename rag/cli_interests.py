"""`paperboy follow`, `mute`, `star`, `starred`, `read`, `hide`, `for-you` and `bibtex`: the reader's interests.

Registered on the one `paperboy` group by rag/cli.py. Each command imports the store (Chroma, ONNX)
only when it runs, so `paperboy --help` stays quick.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rag.catalog import Catalog, KeywordKind, Mark
from rag.cli_shared import echo_json, parse_day

if TYPE_CHECKING:
    from rag.models import Paper
    from rag.settings import Settings


def _keywords(settings: Settings, kind: KeywordKind, keywords: tuple[str, ...], remove: bool, as_json: bool) -> None:
    from rag.interests import keyword_phrase

    catalog = Catalog(settings.catalog_path)
    for keyword in keywords:
        text = " ".join(keyword.split())
        keyword_phrase(text)  # refuses a keyword no search could match, before anything is stored
        catalog.set_keyword(text, None if remove else kind)
    listed = catalog.keywords(kind)
    if as_json:
        echo_json(listed)
        return
    verb = "Following" if kind == "follow" else "Muting"
    click.echo(f"{verb}: {', '.join(listed)}" if listed else f"{verb} no keywords.")


@click.command(name="follow")
@click.argument("keywords", nargs=-1)
@click.option("--remove", is_flag=True, help="Stop following KEYWORDS.")
@click.option("--json", "as_json", is_flag=True, help="Print the followed keywords as a JSON list.")
@click.pass_obj
def cli_follow(settings: Settings, keywords: tuple[str, ...], remove: bool, as_json: bool) -> None:
    """Follow KEYWORDS (a word or a phrase each): papers that mention one rank higher "for you".

    Matching is by word stem ("diffusion" matches "diffusion models"). With no KEYWORDS, list them.
    Following a muted keyword unmutes it.
    """
    _keywords(settings, "follow", keywords, remove, as_json)


@click.command(name="mute")
@click.argument("keywords", nargs=-1)
@click.option("--remove", is_flag=True, help="Stop muting KEYWORDS.")
@click.option("--json", "as_json", is_flag=True, help="Print the muted keywords as a JSON list.")
@click.pass_obj
def cli_mute(settings: Settings, keywords: tuple[str, ...], remove: bool, as_json: bool) -> None:
    """Mute KEYWORDS: papers that mention one are folded away (listed apart, never deleted).

    With no KEYWORDS, list them. Muting a followed keyword unfollows it.
    """
    _keywords(settings, "mute", keywords, remove, as_json)


def _mark(settings: Settings, ids: tuple[str, ...], mark: Mark, on: bool, done: str) -> None:
    Catalog(settings.catalog_path).set_mark(list(ids), mark, on)
    click.echo(f"{done} {len(ids)} paper{'s' if len(ids) != 1 else ''}.")


@click.command(name="star")
@click.argument("paper_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--remove", is_flag=True, help="Take the star off.")
@click.pass_obj
def cli_star(settings: Settings, paper_ids: tuple[str, ...], remove: bool) -> None:
    """Star papers (ids from `paperboy papers`): "for you" learns from the starred papers."""
    _mark(settings, paper_ids, "star", not remove, "Unstarred" if remove else "Starred")


@click.command(name="read")
@click.argument("paper_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--unread", is_flag=True, help="Mark them unread again.")
@click.pass_obj
def cli_read(settings: Settings, paper_ids: tuple[str, ...], unread: bool) -> None:
    """Mark papers read (or --unread)."""
    _mark(settings, paper_ids, "read", not unread, "Marked unread" if unread else "Marked read")


@click.command(name="hide")
@click.argument("paper_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--unhide", is_flag=True, help="Show them again.")
@click.pass_obj
def cli_hide(settings: Settings, paper_ids: tuple[str, ...], unhide: bool) -> None:
    """Hide papers: they are folded away on the Today page and in the digest, never deleted."""
    _mark(settings, paper_ids, "hidden", not unhide, "Showing" if unhide else "Hid")


def _starred_papers(catalog: Catalog) -> list[Paper]:
    found = catalog.stored(catalog.marked("star"))
    return [catalog.paper(pid) for pid in catalog.marked("star") if pid in found]


@click.command(name="starred")
@click.option("--json", "as_json", is_flag=True, help="Print the starred papers as JSON.")
@click.pass_obj
def cli_starred(settings: Settings, as_json: bool) -> None:
    """List the starred papers, most recently starred first."""
    papers = _starred_papers(Catalog(settings.catalog_path))
    if as_json:
        echo_json([p.model_dump(mode="json") for p in papers])
        return
    if not papers:
        click.echo("No starred papers. Star one with `paperboy star ID`.")
    for paper in papers:
        click.echo(f"{paper.id:<14} {paper.title}")


@click.command(name="for-you")
@click.option("--date", "day", callback=parse_day, help="The day (YYYY-MM-DD); default: the latest day stored.")
@click.option("-n", "limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many to show.")
@click.option("--folded", is_flag=True, help="Also list the papers folded away (muted or hidden).")
@click.option("--json", "as_json", is_flag=True, help="Print the ranking as JSON.")
@click.pass_obj
def cli_for_you(settings: Settings, day: date | None, limit: int, folded: bool, as_json: bool) -> None:
    """The day's papers in your order: learned from your starred papers (a linear SVM over their
    embeddings) and your followed keywords, each with the reason; muted and hidden papers folded away."""
    from rag.interests import rank_for_you
    from rag.store import open_store

    store = open_store(settings)
    days = store.catalog.days()
    day = day or (days[0] if days else None)
    papers = store.catalog.papers(day) if day else []
    if not papers:
        raise click.ClickException("No papers" + (f" listed on {day}" if day else "") + "; run `paperboy daily`.")
    ranking = rank_for_you(store, papers)
    shown = ranking.shown[:limit] + (ranking.folded if folded else [])
    if as_json:
        echo_json(
            {
                "day": day,
                "learned": ranking.learned,
                "papers": [r.to_json() for r in shown],
                "folded": len(ranking.folded),
            }
        )
        return
    if not ranking.learned:
        click.echo("No starred papers yet: ordered by followed keywords, then upvotes. `paperboy star ID` teaches it.")
    for ranked in shown:
        mark = "*" if ranked.starred else " "
        reason = f"  ({ranked.reason()})" if ranked.reason() else ""
        click.echo(f"{ranked.score:6.2f} {mark} {ranked.paper.id:<14} {ranked.paper.title}{reason}")
    if ranking.folded and not folded:
        click.echo(f"{len(ranking.folded)} folded away (muted or hidden); --folded lists them.", err=True)


@click.command(name="bibtex")
@click.argument("paper_ids", metavar="[ID...]", nargs=-1)
@click.option("--starred", is_flag=True, help="Every starred paper.")
@click.option("--date", "day", callback=parse_day, help="Every paper listed on this day (YYYY-MM-DD).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.bib instead of stdout.")
@click.pass_obj
def cli_bibtex(
    settings: Settings, paper_ids: tuple[str, ...], starred: bool, day: date | None, out: Path | None
) -> None:
    """BibTeX entries for chosen papers (IDs, --starred, --date), with arXiv ids and links where known."""
    from rag.bibtex import to_bibtex

    catalog = Catalog(settings.catalog_path)
    papers = [catalog.paper(pid) for pid in paper_ids]
    papers += _starred_papers(catalog) if starred else []
    papers += catalog.papers(day) if day else []
    if not (paper_ids or starred or day):
        raise click.UsageError("Give paper IDs, --starred or --date.")
    unique = list({p.id: p for p in papers}.values())
    if not unique:
        raise click.ClickException("No papers to export" + (" (nothing is starred)" if starred else "") + ".")
    text = to_bibtex(unique)
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {out}: {len(unique)} entries.", err=True)


COMMANDS = [cli_follow, cli_mute, cli_star, cli_starred, cli_read, cli_hide, cli_for_you, cli_bibtex]
