"""The Hugging Face daily_papers API answer: a JSON list of {"paper": {...}, "title", "summary"} items."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

from rag.errors import SourceError
from rag.models import Paper, paper_id_for
from rag.sources.tabular import build_paper, parse_date

if TYPE_CHECKING:
    from rag.sources import ReadOptions

PAPER_URL = "https://huggingface.co/papers/{id}"


def read_hf_json(text: str, options: ReadOptions) -> list[Paper]:
    """Parse a daily_papers answer (a list of items, or one item); errors name the record."""
    items = load_items(text)
    return [item_to_paper(item, f"record {index}", options) for index, item in enumerate(items, start=1)]


def load_items(text: str) -> list[Any]:
    """The JSON document as a list of items; SourceError naming the line and column if malformed."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise SourceError(f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}") from err
    except (ValueError, RecursionError) as err:
        raise SourceError(f"unreadable JSON ({err})") from err
    if isinstance(value, dict) and not {"paper", "title"} & set(value):
        keys = ", ".join(sorted(value)[:5]) or "none"
        raise SourceError(f"not a daily_papers answer: an object with the keys {keys}; fetch the day again")
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise SourceError(f"expected a JSON list of daily papers, found {type(value).__name__}")
    if value and all(isinstance(item, str) for item in value):
        # Some archives saved each item with str(): a list of Python reprs, which JSON cannot read back.
        raise SourceError(
            "not a daily_papers answer: its items are text (Python reprs of the records?), not JSON objects; "
            "fetch the day again with `paperboy fetch --date DAY`"
        )
    return value


def item_to_paper(item: Any, where: str, options: ReadOptions) -> Paper:
    """One daily_papers item as a Paper; `paper.*` fields win over the item's own."""
    record = _object(item, where, "record")
    paper = _object(record.get("paper") or {}, where, "paper")
    arxiv_id = _text(paper.get("id"))
    where = f"{where} ({arxiv_id})" if arxiv_id else where
    title = _required(where, "title", paper.get("title"), record.get("title"))
    raw_authors = paper.get("authors")
    return build_paper(
        where,
        id=paper_id_for(title, arxiv_id),
        title=title,
        abstract=_required(where, "summary", paper.get("summary"), record.get("summary")),
        authors=_author_names(raw_authors, where),
        author_count=len(raw_authors) if isinstance(raw_authors, list) else None,
        published=parse_date(paper.get("publishedAt"), where, "paper.publishedAt"),
        listed_on=options.listed_on or _listed_on(paper, record, where, options),
        upvotes=paper.get("upvotes") or 0,
        url=PAPER_URL.format(id=arxiv_id) if arxiv_id else None,
        source="hf-json",
        ai_summary=paper.get("ai_summary"),
        keywords=paper.get("ai_keywords") or [],
    )


def _object(value: Any, where: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SourceError(f"{where}: {name} must be a JSON object, found {type(value).__name__}")
    return value


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _required(where: str, field: str, *candidates: Any) -> str:
    for value in candidates:
        if text := _text(value):
            return text
    raise SourceError(f"{where}: missing {field}")


def _author_names(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SourceError(f"{where}: paper.authors must be a list, found {type(raw).__name__}")
    # Count every author, but keep only the names the API gives (an entry may lack one).
    return [name for author in raw if isinstance(author, dict) and (name := _text(author.get("name")))]


def _listed_on(paper: dict[str, Any], record: dict[str, Any], where: str, options: ReadOptions) -> date | None:
    # Before 2025-03-17 the API gave no submittedOnDailyAt. The item's own publishedAt is when it was
    # posted, which was the day before its list for 415 of the archive's 2,504 such items (posted
    # 21:00-23:59 UTC), so the day asked for, kept in the file's name, comes first.
    featured = parse_date(paper.get("submittedOnDailyAt"), where, "paper.submittedOnDailyAt")
    return featured or options.name_day or parse_date(record.get("publishedAt"), where, "publishedAt")
