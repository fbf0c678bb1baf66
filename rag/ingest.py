"""Files -> papers -> chunks -> store. Each file is all-or-nothing; re-ingest is a no-op."""

import time
from pathlib import Path

from rag.chunks import chunk_papers
from rag.errors import PaperboyError, SourceError
from rag.models import IngestReport, Paper
from rag.settings import Settings
from rag.sources import ReadOptions, list_on_a_day, read_papers
from rag.store import Progress, Store


def _needs_embedding(papers: list[Paper], stored: dict[str, Paper], store: Store) -> list[Paper]:
    has_chunks = set(store.catalog.chunk_ids([p.id for p in papers]).values())
    return [
        p for p in papers if p.id not in has_chunks or p.id not in stored or stored[p.id].content_hash != p.content_hash
    ]


def ingest_papers(papers: list[Paper], store: Store, progress: Progress | None = None) -> IngestReport:
    """Store papers: embed only new or changed text, then write index and catalog.

    Everything that can fail on bad input or a dead endpoint (parsing, chunking, embedding) runs
    before the first write, so a failure leaves the store as it was; the write itself is ordered so
    that a crash inside it is repaired on the next open (see rag.store).
    """
    stored = store.catalog.stored([p.id for p in papers])
    to_embed = _needs_embedding(papers, stored, store)
    chunks = chunk_papers(to_embed, store.settings)
    vectors = store.embed([c.text for c in chunks], progress)
    store.write(papers, chunks, vectors)
    new = sum(p.id not in stored for p in papers)
    unchanged = sum(p.id in stored and _same_record(stored[p.id], p) for p in papers)
    return IngestReport(new=new, updated=len(papers) - new - unchanged, unchanged=unchanged, chunks=len(chunks))


def _same_record(old: Paper, new: Paper) -> bool:
    # listed_on is a listing, not a property of the paper: a second day's list changes nothing.
    return old.model_dump(exclude={"listed_on"}) == new.model_dump(exclude={"listed_on"})


def check_sizes(papers: list[Paper], path: Path, settings: Settings) -> None:
    """Refuse the file if a record's title or abstract is past its cap, naming the record and the setting."""
    for paper in papers:
        for field, text, cap, variable in (
            ("title", paper.title, settings.max_title_chars, "PAPERBOY_MAX_TITLE_CHARS"),
            ("abstract", paper.abstract, settings.max_abstract_chars, "PAPERBOY_MAX_ABSTRACT_CHARS"),
        ):
            if len(text) > cap:
                raise SourceError(
                    f"{path}: record {paper.id} ({paper.title[:60]!r}): its {field} is {len(text):,} characters, "
                    f"over the {cap:,} allowed; fix the record, or raise {variable} if it is real."
                )


def ingest_files(
    paths: list[Path],
    store: Store,
    fmt: str = "auto",
    options: ReadOptions | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest each file on its own; a failing file is reported and the others still go in."""
    started = time.perf_counter()
    total = IngestReport()
    for path in paths:
        try:
            papers, listing_day = list_on_a_day(read_papers(path, fmt, options), path)
            check_sizes(papers, path, store.settings)
            report = ingest_papers(papers, store, progress)
        except PaperboyError as ex:
            total.failed_files.append(str(ex))
            continue
        total.listing_days += [listing_day] if listing_day else []
        total.new += report.new
        total.updated += report.updated
        total.unchanged += report.unchanged
        total.chunks += report.chunks
    total.seconds = round(time.perf_counter() - started, 2)
    return total
