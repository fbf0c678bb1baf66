"""Read one file of a day's papers, in any supported format, into `Paper`s: the registry and entry point."""

import json
import re
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import SourceError
from rag.models import ListingDay, Paper
from rag.sources import arxiv, hf_json, hf_page, tabular


class ReadOptions(BaseModel):
    """What a file may not say about itself: the year of its dates and the day it was listed."""

    model_config = ConfigDict(extra="forbid")

    year: int | None = Field(
        default=None, ge=1900, le=2999, description="Year of the page date on an hf-page (default: see today)"
    )
    listed_on: date | None = Field(default=None, description="Date of the list; overrides what the file says")
    name_day: date | None = Field(
        default=None,
        description="The day in the file's name (2026-02-25.jsonl): an API answer saved under the day asked for",
    )
    today: date = Field(
        default_factory=date.today,
        description="Picks the default page year: this year, or last year if the page date would be future",
    )


Reader = Callable[[str, ReadOptions], list[Paper]]

READERS: dict[str, Reader] = {
    "hf-page": hf_page.read_hf_page,
    "hf-json": hf_json.read_hf_json,
    "arxiv": arxiv.read_arxiv,
    "jsonl": tabular.read_jsonl,
    "csv": tabular.read_csv,
}

# Checked before reading, so a runaway file (a log, a dump) fails fast instead of filling memory.
MAX_BYTES = 50 * 1024 * 1024

# "2026-02-25.jsonl", "hf-2026-02-25-p0.json": a day in a file name, not part of a longer number.
_DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")

EXTENSIONS = {".jsonl": "jsonl", ".csv": "csv", ".xml": "arxiv", ".atom": "arxiv", ".json": "hf-json"}


def format_names() -> str:
    """The accepted --format values, for messages."""
    return ", ".join(["auto", *READERS])


def read_papers(path: Path, fmt: str = "auto", options: ReadOptions | None = None) -> list[Paper]:
    """Read one file's papers, or raise one SourceError that names the file and the bad line or record."""
    if fmt != "auto" and fmt not in READERS:
        raise SourceError(f"{path}: unknown format {fmt!r}; use one of: {format_names()}")
    text = read_text(path)
    name = detect_format(text, path) if fmt == "auto" else fmt
    options = (options or ReadOptions()).model_copy(update={"name_day": day_in_name(path)})
    try:
        papers = READERS[name](text, options)
    except SourceError as err:
        raise SourceError(f"{path}: {err}") from err
    if not papers:
        raise SourceError(f"{path}: no papers found (read as {name})")
    return drop_duplicates(papers)


def utc_today() -> date:
    """Today as the Daily Papers site counts days: in UTC."""
    return datetime.now(UTC).date()


def day_in_name(path: Path) -> date | None:
    """The day a file's name gives, if it gives a real one."""
    for match in _DAY_IN_NAME.finditer(path.name):
        try:
            return date.fromisoformat(match[1])
        except ValueError:
            continue
    return None


def list_on_a_day(papers: list[Paper], path: Path, today: date | None = None) -> tuple[list[Paper], ListingDay | None]:
    """Papers whose file gave them no listing day, listed on the day in the file's name, else today; and
    which day that was, for the user to be told. A paper is never listed on no day."""
    if all(p.listed_on for p in papers):
        return papers, None
    named = day_in_name(path)
    chosen = ListingDay(file=str(path), day=named or today or utc_today(), taken_from="file name" if named else "today")
    placed = [p if p.listed_on else p.model_copy(update={"listed_on": chosen.day}) for p in papers]
    return placed, chosen


def read_text(path: Path) -> str:
    """The file's text, or a SourceError if it is missing, not a regular file, too large, binary or empty."""
    _check_file(path)
    text = decode_text(path, _read_bounded(path))
    if not text.strip():
        raise SourceError(f"{path}: empty file")
    return text


def _check_file(path: Path) -> None:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError) as err:
        raise SourceError(f"{path}: no such file") from err
    except OSError as err:
        raise SourceError(f"{path}: cannot read ({err.strerror or err})") from err
    if stat.S_ISDIR(info.st_mode):
        raise SourceError(f"{path}: is a directory; pass a file")
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(f"{path}: not a regular file")
    if info.st_size > MAX_BYTES:
        raise SourceError(f"{path}: too large (over {MAX_BYTES // 2**20} MB); split it into smaller files")


def _read_bounded(path: Path) -> bytes:
    # Read one byte past the limit: st_size can be stale (a growing file), the read length cannot.
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise SourceError(f"{path}: cannot read ({err.strerror or err})") from err
    if len(data) > MAX_BYTES:
        raise SourceError(f"{path}: too large (over {MAX_BYTES // 2**20} MB); split it into smaller files")
    return data


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8 text (a BOM is dropped), or a SourceError for binary or other encodings."""
    if b"\x00" in data:
        raise SourceError(f"{path}: binary file (NUL bytes; UTF-16?); expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SourceError(f"{path}: line {line}: not UTF-8 text; save the file as UTF-8") from err


def detect_format(text: str, path: Path) -> str:
    """The reader name for a file: by extension first, then by content; SourceError if nothing fits."""
    by_extension = EXTENSIONS.get(path.suffix.lower())
    if by_extension:
        return by_extension
    by_content = _format_from_content(text.lstrip("\ufeff \t\r\n"))
    if by_content is None:
        raise SourceError(f"{path}: cannot tell the format; pass --format (one of: {format_names()})")
    return by_content


def _format_from_content(head: str) -> str | None:
    if head.startswith("<"):
        return "arxiv" if "<feed" in head[:4096] else None
    if head.startswith("["):
        return "hf-json"
    if head.startswith("{"):
        # A complete object on the first line is a JSONL record; anything else is one (maybe broken) document.
        return "jsonl" if _is_record_line(head.split("\n", 1)[0]) else "hf-json"
    if tabular.looks_like_csv(head):
        return "csv"
    return "hf-page" if hf_page.looks_like_page(head) else None


def _is_record_line(line: str) -> bool:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and "paper" not in value


def drop_duplicates(papers: list[Paper]) -> list[Paper]:
    """Keep the first paper of each id, in file order."""
    first: dict[str, Paper] = {}
    for paper in papers:
        first.setdefault(paper.id, paper)
    return list(first.values())
