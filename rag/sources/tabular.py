"""Flat records: JSONL (one object per line) and CSV (a header row), plus the record-to-Paper step."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from rag.errors import SourceError
from rag.models import Paper, paper_id_for

if TYPE_CHECKING:
    from rag.sources import ReadOptions

Record = dict[str, Any]


def read_jsonl(text: str, options: ReadOptions) -> list[Paper]:
    """One JSON object per line, blank lines ignored; errors name the record and line."""
    # split("\n"), not splitlines(): JSON strings may hold a raw U+2028, which is not a line end here.
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
    papers = []
    for index, (number, line) in enumerate(numbered, start=1):
        where = f"record {index} (line {number})"
        papers.append(paper_from_record(_json_object(line, where), where, "jsonl", options))
    return papers


def _json_object(line: str, where: str) -> Record:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as err:
        raise SourceError(f"{where}: malformed JSON at column {err.colno}: {err.msg}") from err
    except (ValueError, RecursionError) as err:
        raise SourceError(f"{where}: unreadable JSON ({err})") from err
    if not isinstance(value, dict):
        raise SourceError(f"{where}: expected a JSON object, found {type(value).__name__}")
    return value


def read_csv(text: str, options: ReadOptions) -> list[Paper]:
    """A header row, then one paper per row; authors are ';'-separated; errors name the record and line."""
    return [paper_from_record(row, where, "csv", options) for where, row in _csv_rows(text)]


def _csv_rows(text: str) -> Iterator[tuple[str, Record]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        _check_header(reader.fieldnames)
        for index, row in enumerate(reader, start=1):
            where = f"record {index} (line {reader.line_num})"
            if None in row:
                raise SourceError(f"{where}: more fields than the header has (a stray comma or quote?)")
            yield where, {key.strip().lower(): value for key, value in row.items()}
    except csv.Error as err:
        raise SourceError(f"line {reader.line_num}: malformed CSV ({err})") from err


def looks_like_csv(text: str) -> bool:
    """True if the first line is a CSV header with the title and abstract (or summary) columns."""
    try:
        header = next(csv.reader([text.split("\n", 1)[0].rstrip("\r")]), [])
    except csv.Error:
        return False
    return _has_required_columns(header)


def _has_required_columns(fieldnames: Any) -> bool:
    names = {str(name).strip().lower() for name in fieldnames or []}
    return "title" in names and bool({"abstract", "summary"} & names)


def _check_header(fieldnames: Any) -> None:
    if not _has_required_columns(fieldnames):
        found = ", ".join(str(name) for name in fieldnames or []) or "nothing"
        raise SourceError(f"line 1: the header needs 'title' and 'abstract' (or 'summary'); found {found}")


def paper_from_record(record: Record, where: str, source: str, options: ReadOptions) -> Paper:
    """Turn one flat record (a JSONL object or CSV row) into a Paper; errors name `where`."""
    title = _required_text(record, ("title",), where, "title")
    authors = _names(record.get("authors"), where, "authors")
    return build_paper(
        where,
        id=paper_id_for(title, _record_id(record, where)),
        title=title,
        abstract=_required_text(record, ("abstract", "summary"), where, "abstract"),
        authors=authors,
        author_count=_first(record, "author_count", default=len(authors) or None),
        published=parse_date(record.get("published"), where, "published"),
        listed_on=options.listed_on or parse_date(record.get("listed_on"), where, "listed_on"),
        upvotes=_first(record, "upvotes", default=0),
        url=_first(record, "url"),
        source=source,
        ai_summary=_first(record, "ai_summary"),
        keywords=_names(record.get("keywords"), where, "keywords"),
    )


def _first(record: Record, *keys: str, default: Any = None) -> Any:
    # Blank strings count as absent: an empty CSV cell means "not given", not "".
    for key in keys:
        value = record.get(key)
        if isinstance(value, str):
            value = value.strip()
        if value is not None and value != "":
            return value
    return default


def _required_text(record: Record, keys: tuple[str, ...], where: str, label: str) -> str:
    value = _first(record, *keys)
    if value is None:
        raise SourceError(f"{where}: missing {label}")
    if not isinstance(value, str):
        raise SourceError(f"{where}: {label} must be text, found {type(value).__name__}")
    return value


def _record_id(record: Record, where: str) -> str | None:
    value = _first(record, "id", "arxiv_id")
    if value is None or isinstance(value, str):
        return value
    # A JSON number would lose digits: 2510.10000 reads back as 2510.1.
    raise SourceError(f'{where}: id must be text, such as "2510.12345", found {value!r}')


def _names(value: Any, where: str, field: str) -> list[Any]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    if isinstance(value, list):
        return [item.get("name") if isinstance(item, dict) else item for item in value]
    raise SourceError(f"{where}: {field} must be a list or ';'-separated text, found {type(value).__name__}")


def parse_date(value: Any, where: str, field: str) -> date | None:
    """A date from '2025-10-31' or an ISO timestamp (its own calendar day); None when absent."""
    if value is None or value == "":
        return None
    text = value.strip() if isinstance(value, str) else ""
    # "2025-10-30T17:59:59.000Z": the first ten characters are the day, whatever the Python version.
    if len(text) == 10 or text[10:11] in ("T", " "):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise SourceError(f"{where}: {field} {value!r} is not a date such as 2025-10-31")


def build_paper(where: str, **fields: Any) -> Paper:
    """A Paper from fields, or a SourceError naming `where` and the first bad field."""
    try:
        return Paper(**fields)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "record"
        raise SourceError(f"{where}: {field}: {first['msg']}") from err
