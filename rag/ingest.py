"""Files -> papers -> chunks -> store. Each file is all-or-nothing; re-ingest is a no-op.

An archive of many files goes in at the rate of the embedding model. Every file is read and checked
first, so a bad file is refused before anything is written and the work is known (progress can say
the time left). Then the files go in by groups of about GROUP_CHUNKS chunks: one embedding call and
one write per group, so batches are sorted by length across files and a kill loses at most the group
in flight; the next run skips what is stored.
"""

import time
from pathlib import Path
from typing import NamedTuple

from rag.chunks import chunk_papers
from rag.errors import PaperboyError, SourceError
from rag.models import Chunk, IngestReport, ListingDay, Paper
from rag.settings import Settings
from rag.sources import ReadOptions, list_on_a_day, read_papers
from rag.store import Progress, Store

# ~20 s of embedding on 2 cores: what a kill can cost, and enough chunks that sorting them by length
# leaves little padding (a day's file alone, ~17 chunks, embedded at 0.90 of a sorted 500).
GROUP_CHUNKS = 256


class FilePlan(NamedTuple):
    """What storing one file's papers changes, judged as if every earlier file were already stored."""

    source: str  # the file, for messages
    papers: list[Paper]
    chunks: list[Chunk]  # of the papers that are new or whose text changed
    report: IngestReport  # its new, updated and unchanged papers
    changes: bool  # a new or changed record, new text or a new listing day: something to write


def plan_files(files: list[tuple[str, list[Paper]]], store: Store) -> list[FilePlan]:
    """Each file's plan, in order: a paper an earlier file brings counts as stored for the later ones."""
    ids = sorted({p.id for _, papers in files for p in papers})
    current = store.catalog.stored(ids)
    has_chunks = set(store.catalog.chunk_ids(ids).values())
    listed = store.catalog.listed(ids)
    plans = []
    for source, papers in files:
        to_embed = [
            p
            for p in papers
            if p.id not in has_chunks or p.id not in current or current[p.id].content_hash != p.content_hash
        ]
        new = sum(p.id not in current for p in papers)
        unchanged = sum(p.id in current and _same_record(current[p.id], p) for p in papers)
        report = IngestReport(new=new, updated=len(papers) - new - unchanged, unchanged=unchanged)
        listings = {(p.id, p.listed_on) for p in papers if p.listed_on} - listed
        changes = bool(to_embed or listings) or unchanged < len(papers)
        plans.append(FilePlan(source, papers, chunk_papers(to_embed, store.settings), report, changes))
        current.update((p.id, p) for p in papers)
        has_chunks.update(p.id for p in to_embed)
        listed |= listings
    return plans


def _same_record(old: Paper, new: Paper) -> bool:
    # listed_on is a listing, not a property of the paper: a second day's list changes nothing.
    return old.model_dump(exclude={"listed_on"}) == new.model_dump(exclude={"listed_on"})


def _next_group(plans: list[FilePlan]) -> tuple[list[FilePlan], list[FilePlan]]:
    """(group, the plans after it): whole files, until the group holds GROUP_CHUNKS chunks."""
    size = 0
    for end, plan in enumerate(plans, 1):
        size += len(plan.chunks)
        if size >= GROUP_CHUNKS:
            return plans[:end], plans[end:]
    return plans, []


def write_group(group: list[FilePlan], store: Store, progress: Progress | None = None) -> int:
    """Embed and store the group's files in one write; returns the chunks written.

    A paper that two files of the group bring with different text is stored as the later file has it,
    as it would be if the files went in one by one.
    """
    changed = [plan for plan in group if plan.changes]
    if not changed:
        return 0
    latest: dict[str, list[Chunk]] = {}
    for plan in changed:
        of_file: dict[str, list[Chunk]] = {}
        for chunk in plan.chunks:
            of_file.setdefault(chunk.paper.id, []).append(chunk)
        latest.update(of_file)
    chunks = [c for paper_chunks in latest.values() for c in paper_chunks]
    vectors = store.embed([c.text for c in chunks], progress)
    store.write([p for plan in changed for p in plan.papers], chunks, vectors)
    return len(chunks)


def _add(total: IngestReport, report: IngestReport) -> None:
    total.new += report.new
    total.updated += report.updated
    total.unchanged += report.unchanged


def ingest_papers(papers: list[Paper], store: Store, progress: Progress | None = None) -> IngestReport:
    """Store papers: embed only new or changed text, then write index and catalog in one ordered write.

    Everything that can fail on bad input or a dead endpoint (chunking, embedding) runs before the
    first write, so a failure leaves the store as it was; the write itself is ordered so that a crash
    inside it is repaired on the next open (see rag.store).
    """
    (plan,) = plan_files([("", papers)], store)
    report = plan.report.model_copy()
    report.chunks = write_group([plan], store, progress)
    return report


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
    """Ingest files, each all-or-nothing; a failing file is reported and the others still go in.

    progress is told the chunks embedded so far out of all the files' chunks to embed.
    """
    started = time.perf_counter()
    total = IngestReport()
    files = []
    listing_days: dict[str, ListingDay] = {}  # the files that gave no listing day: the day used instead
    for path in paths:
        try:
            papers, listing_day = list_on_a_day(read_papers(path, fmt, options), path)
            check_sizes(papers, path, store.settings)
        except PaperboyError as ex:
            total.failed_files.append(str(ex))
            continue
        files.append((str(path), papers))
        if listing_day:
            listing_days[str(path)] = listing_day
    queue = plan_files(files, store)
    embedded, to_embed = 0, sum(len(plan.chunks) for plan in queue)
    if progress:
        progress(0, to_embed)
    while queue:
        group, queue = _next_group(queue)
        try:
            written = write_group(group, store, _offset(progress, embedded, to_embed) if progress else None)
        except PaperboyError as ex:
            total.failed_files.extend(f"{plan.source}: {ex}" for plan in group)
            # The files after it were judged as if this group had gone in: judge them again.
            queue = plan_files([(plan.source, plan.papers) for plan in queue], store)
            to_embed = embedded + sum(len(plan.chunks) for plan in queue)
            continue
        embedded += written
        total.chunks += written
        for plan in group:
            _add(total, plan.report)
            total.listing_days += [listing_days[plan.source]] if plan.source in listing_days else []
    total.seconds = round(time.perf_counter() - started, 2)
    return total


def _offset(progress: Progress, before: int, total: int) -> Progress:
    """progress for one group's embedding, counted within the whole run."""
    return lambda done, _: progress(before + done, total)
