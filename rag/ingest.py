"""Files -> papers -> chunks -> store. Each file is all-or-nothing; re-ingest is a no-op."""

import time
from collections.abc import Callable
from pathlib import Path

from rag.chunks import chunk_papers
from rag.errors import PaperboyError
from rag.models import IngestReport, Paper
from rag.settings import Settings
from rag.sources import ReadOptions, read_papers
from rag.store import Store

# Called with (chunks embedded so far, chunks to embed in this file).
Progress = Callable[[int, int], None]
# Embedding in slices keeps the progress bar moving: 64 chunks are ~1.3 s on 2 cores.
_EMBED_SLICE = 64


def _needs_embedding(papers: list[Paper], stored: dict[str, Paper], store: Store) -> list[Paper]:
    indexed = set(store.index.chunk_ids([p.id for p in papers]).values())
    return [
        p for p in papers if p.id not in indexed or p.id not in stored or stored[p.id].content_hash != p.content_hash
    ]


def _embed(texts: list[str], store: Store, progress: Progress | None) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(texts), _EMBED_SLICE):
        vectors.extend(store.embedder.documents(texts[start : start + _EMBED_SLICE]))
        if progress:
            progress(len(vectors), len(texts))
    return vectors


def ingest_papers(
    papers: list[Paper], store: Store, settings: Settings, progress: Progress | None = None
) -> IngestReport:
    """Store papers: embed only new or changed text, then write index and catalog.

    Everything that can fail on bad input or a dead endpoint (parsing, chunking, embedding) runs
    before the first write, so a failure leaves the store as it was.
    """
    stored = store.catalog.stored([p.id for p in papers])
    to_embed = _needs_embedding(papers, stored, store)
    chunks = chunk_papers(to_embed, settings)
    vectors = _embed([c.text for c in chunks], store, progress)
    store.index.replace(chunks, vectors)
    store.catalog.save(papers)
    new = sum(p.id not in stored for p in papers)
    unchanged = sum(p.id in stored and _same_record(stored[p.id], p) for p in papers)
    return IngestReport(new=new, updated=len(papers) - new - unchanged, unchanged=unchanged, chunks=len(chunks))


def _same_record(old: Paper, new: Paper) -> bool:
    # listed_on is a listing, not a property of the paper: a second day's list changes nothing.
    return old.model_dump(exclude={"listed_on"}) == new.model_dump(exclude={"listed_on"})


def ingest_files(
    paths: list[Path],
    store: Store,
    settings: Settings,
    fmt: str = "auto",
    options: ReadOptions | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest each file on its own; a failing file is reported and the others still go in."""
    started = time.perf_counter()
    total = IngestReport()
    for path in paths:
        try:
            report = ingest_papers(read_papers(path, fmt, options), store, settings, progress)
        except PaperboyError as ex:
            total.failed_files.append(str(ex))
            continue
        total.new += report.new
        total.updated += report.updated
        total.unchanged += report.unchanged
        total.chunks += report.chunks
    total.seconds = round(time.perf_counter() - started, 2)
    return total
