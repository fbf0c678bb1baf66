"""The Daily Papers page copied out of a browser: per paper a title, abstract, '• N authors', '·', date."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from rag.errors import SourceError
from rag.models import Paper, paper_id_for

if TYPE_CHECKING:
    from rag.sources import ReadOptions

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, start=1)}
# "Jun 3", "Jun 12, 2022", "Mar 19, 2024 1" (1 upvote), "Mar 13 2". Digit caps keep int() cheap and bounded.
DATE_RE = re.compile(
    r"^(?P<month>" + "|".join(MONTHS) + r") (?P<day>\d{1,2})(?:, (?P<year>\d{4}))?(?: (?P<upvotes>\d{1,7}))?$"
)
AUTHORS_RE = re.compile(r"^•\s*(?P<count>\d{1,6}) authors?$")
SEPARATOR_RE = re.compile(r"^·$")
HEADER = frozenset(
    {
        "new",
        "get trending papers in your email inbox!",
        "subscribe",
        "daily papers",
        "byak and the research community",
        "by ak and the research community",
    }
)


class Line(NamedTuple):
    """A non-blank, stripped line and its 1-based number in the file."""

    number: int
    text: str


@dataclass
class Cursor:
    """Walks the page's non-blank lines."""

    lines: list[Line]
    pos: int = 0

    def done(self) -> bool:
        """True when every line is consumed."""
        return self.pos >= len(self.lines)

    def peek(self) -> Line | None:
        """The next line, not consumed."""
        return None if self.done() else self.lines[self.pos]

    def take(self, pattern: re.Pattern[str]) -> tuple[Line, re.Match[str]] | None:
        """Consume the next line if it matches pattern."""
        line = self.peek()
        match = pattern.match(line.text) if line else None
        if line is None or match is None:
            return None
        self.pos += 1
        return line, match


def looks_like_page(text: str) -> bool:
    """True if text has the page's 'Daily Papers' header or its '• N authors' lines."""
    lines = [line.strip() for line in text.split("\n")]
    return "Daily Papers" in lines or any(AUTHORS_RE.match(line) for line in lines)


def read_hf_page(text: str, options: ReadOptions) -> list[Paper]:
    """Parse a copied Daily Papers page; errors name the line."""
    cursor = Cursor(content_lines(text))
    page_date = read_header(cursor, options)
    # Year-less paper dates count back from the page's date; without one, from what the options give.
    reference = page_date or options.listed_on or _reference_without_page_date(options)
    listed_on = options.listed_on or page_date
    papers = []
    while not cursor.done():
        papers.append(read_paper(cursor, reference, listed_on))
    return papers


def content_lines(text: str) -> list[Line]:
    """Non-blank lines, stripped, with their numbers."""
    # split("\n"), not splitlines(): an abstract may hold U+2028 or a form feed, which must not end a line.
    numbered = enumerate(text.split("\n"), start=1)
    return [Line(number, raw.strip()) for number, raw in numbered if raw.strip()]


def read_header(cursor: Cursor, options: ReadOptions) -> date | None:
    """Skip the page header; return the page's date if it shows one."""
    page_date = None
    while (line := cursor.peek()) is not None:
        match = DATE_RE.match(line.text)
        if match and page_date is None and not match["upvotes"]:
            page_date = _header_date(line, match, options)
        elif line.text.lower() not in HEADER:
            break
        cursor.pos += 1
    return page_date


def _header_date(line: Line, match: re.Match[str], options: ReadOptions) -> date:
    month, day = MONTHS[match["month"]], int(match["day"])
    year = int(match["year"]) if match["year"] else options.year
    if year:
        return _make_date(line, year, month, day)
    return _on_or_before(line, month, day, options.today)


def _reference_without_page_date(options: ReadOptions) -> date:
    # With only a year, Dec 31 of it puts every year-less date in that year.
    return date(options.year, 12, 31) if options.year else options.today


def read_paper(cursor: Cursor, reference: date, listed_on: date | None) -> Paper:
    """Consume one paper: title, abstract, then the optional authors, '·' and date lines."""
    title, abstract = _read_title_and_abstract(cursor)
    authors = cursor.take(AUTHORS_RE)
    cursor.take(SEPARATOR_RE)
    dated = cursor.take(DATE_RE)
    return Paper(
        id=paper_id_for(title),
        title=title,
        abstract=abstract,
        author_count=int(authors[1]["count"]) if authors else None,
        published=_paper_date(*dated, reference) if dated else None,
        listed_on=listed_on,
        upvotes=int(dated[1]["upvotes"] or 0) if dated else 0,
        source="hf-page",
    )


def _read_title_and_abstract(cursor: Cursor) -> tuple[str, str]:
    title = cursor.lines[cursor.pos]
    if _is_meta(title.text):
        raise SourceError(f"line {title.number}: expected a paper title, found {title.text!r}")
    cursor.pos += 1
    abstract = cursor.peek()
    if abstract is None or _is_meta(abstract.text):
        raise SourceError(
            f"line {title.number}: title {title.text[:60]!r} is not followed by an abstract (truncated page?)"
        )
    cursor.pos += 1
    return title.text, abstract.text


def _is_meta(text: str) -> bool:
    return any(pattern.match(text) for pattern in (AUTHORS_RE, SEPARATOR_RE, DATE_RE))


def _paper_date(line: Line, match: re.Match[str], reference: date) -> date:
    month, day = MONTHS[match["month"]], int(match["day"])
    if match["year"]:
        return _make_date(line, int(match["year"]), month, day)
    return _on_or_before(line, month, day, reference)


def _on_or_before(line: Line, month: int, day: int, reference: date) -> date:
    # The page never lists a date after its own: "Dec 5" on an Oct 31 2025 page is Dec 5 2024.
    late = (month, day) > (reference.month, reference.day)
    year = reference.year - 1 if late else reference.year
    while (month, day) == (2, 29) and not calendar.isleap(year):
        year -= 1  # Feb 29 exists only in leap years: the latest one on or before the reference
    return _make_date(line, year, month, day)


def _make_date(line: Line, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as err:
        raise SourceError(f"line {line.number}: no such date {line.text!r} in {year}") from err
