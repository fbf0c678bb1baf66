"""The store: the catalog of papers and chunks plus the vector index, written so neither is ever ahead.

A write goes in this order, each step safe to stop after:
1. the catalog marks the new chunk ids unsettled;
2. the index receives their vectors (invisible: retrieval shows only chunks the catalog holds);
3. one catalog transaction saves the papers and chunks (visible now), deletes the papers' older
   chunk rows and marks those ids unsettled;
4. the index drops the older vectors, and the catalog settles their ids.
After a crash or a failed write the unsettled ids the catalog does not hold are exactly the
leftovers in the index; the next open removes them. The write lock keeps that repair away from a
write that is still running.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rag.catalog import Catalog
from rag.locks import file_lock, try_lock
from rag.models import Chunk, Paper
from rag.providers import Embedder, embedding_model_id, get_embedder
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.index import ChunkIndex

log = logging.getLogger(__name__)

# Called with (chunks embedded so far, chunks to embed).
Progress = Callable[[int, int], None]
# Embedding in slices keeps a progress bar moving: 64 chunks are ~6 s on 2 cores (10.4 abstracts/s, README).
_EMBED_SLICE = 64


class Store(NamedTuple):
    """Everything ingest and retrieval read or write."""

    catalog: Catalog
    index: ChunkIndex
    embedder: Embedder
    settings: Settings

    def embed(self, texts: list[str], progress: Progress | None = None) -> list[list[float]]:
        """Document vectors of texts, in slices so progress moves.

        The texts go in order of length, so each batch pads to texts of about its own length: embedding
        a day's files one by one, in calls of ~17 chunks, ran at 0.90 of the rate of one sorted call.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), _EMBED_SLICE):
            part = order[start : start + _EMBED_SLICE]
            for i, vector in zip(part, self.embedder.documents([texts[i] for i in part]), strict=True):
                vectors[i] = vector
            if progress:
                progress(start + len(part), len(texts))
        return vectors

    def write(self, papers: list[Paper], chunks: list[Chunk], vectors: list[list[float]]) -> None:
        """Save papers, and replace the chunks of every paper in chunks, in the order the module describes."""
        with file_lock(_write_lock(self.settings)):
            _write_holding_the_lock(self, papers, chunks, vectors)


# Set once this process has written to an index (a write or a repair): until then it has nothing of
# the store's to save on the way out, and `paperboy` exits without tearing down its imports.
_index_written = threading.Event()


def index_written() -> bool:
    """Whether this process has written to any index."""
    return _index_written.is_set()


def _write_holding_the_lock(store: Store, papers: list[Paper], chunks: list[Chunk], vectors: list[list[float]]) -> None:
    _index_written.set()
    store.catalog.unsettle([c.id for c in chunks])
    # If this fails the ids stay unsettled and the next open drops whatever vectors went in. Not
    # here: on a full disk Chroma's delete blocks forever (seen on a 6 MB tmpfs), its add does not.
    store.index.add(chunks, vectors)
    stale = store.catalog.save(papers, chunks)
    if stale:
        store.index.delete(stale)
        store.catalog.settle(stale)


def _write_lock(settings: Settings) -> Path:
    # An flock, not a row in the catalog: it is released by the kernel when its process dies.
    return settings.data_dir / "write.lock"


def open_store(settings: Settings) -> Store:
    """Open (creating if needed) the catalog and the index for the configured embedding model, and
    finish whatever an earlier process left half-written."""
    embedder = get_embedder(settings)
    # Chroma's imports (0.5-1 s) come after the embedder, whose local model builds meanwhile.
    from rag.index import ChunkIndex, open_client

    catalog = Catalog(settings.catalog_path)
    index = ChunkIndex(open_client(settings), embedder.embeddings, embedder.model_id, _library_id(settings, catalog))
    store = Store(catalog, index, embedder, settings)
    with try_lock(_write_lock(settings)) as nobody_writing:
        if nobody_writing:
            repair(store)
    return store


def _library_id(settings: Settings, catalog: Catalog) -> str | None:
    # Embedded, the store is this data dir's alone; a server may hold several libraries' collections.
    return catalog.library_id if settings.chroma_host else None


# Below this much free space repair waits for a later open: Chroma's delete blocks forever on a full
# disk, and a store left unrepaired is still correct to read (only chunks the catalog holds are shown).
_REPAIR_MIN_FREE_BYTES = 16 * 1024 * 1024


def repair(store: Store) -> dict[str, int]:
    """Bring the index back in line with the catalog; returns what it changed (all zeros when nothing).
    The caller holds the write lock.

    Leftover vectors of an unfinished write are dropped. The full id sets are compared only when the
    counts differ (a cheap check on every open): vectors the catalog does not hold are dropped, and
    chunks whose vectors are missing are embedded again from the catalog's text. The collection is
    this library's alone, on a server too (see Catalog.library_id). Papers with no chunk rows (a
    store written before the catalog held chunks) are chunked and indexed again.
    """
    done = {"dropped": 0, "embedded": 0, "reindexed_papers": 0}
    leftovers = store.catalog.unsettled()
    old_papers = store.catalog.papers_without_chunks()
    if not (leftovers or old_papers or store.catalog.chunk_count() != store.index.count()):
        return done
    local = not store.settings.chroma_host  # a server's disk is the server's business
    if local and shutil.disk_usage(store.settings.data_dir).free < _REPAIR_MIN_FREE_BYTES:
        log.warning(
            "The store needs tidying after an unfinished write, but the disk holding %s is nearly full. "
            "It is still correct to read; the first command after space is freed tidies it.",
            store.settings.data_dir,
        )
        return done
    _index_written.set()
    if leftovers:
        store.index.delete(leftovers)
        done["dropped"] += len(leftovers)
    store.catalog.settle(leftovers)
    if old_papers:
        from rag.chunks import chunk_papers  # LangChain's splitters: 0.16 s of imports that search never needs

        chunks = chunk_papers(old_papers, store.settings)
        _write_holding_the_lock(store, old_papers, chunks, store.embed([c.text for c in chunks]))
        done["reindexed_papers"] = len(old_papers)
    if store.catalog.chunk_count() != store.index.count():
        held, indexed = set(store.catalog.chunk_ids()), store.index.ids()
        extra = sorted(indexed - held)
        store.index.delete(extra)
        missing = list(store.catalog.chunks(sorted(held - indexed)).values())
        store.index.add(missing, store.embed([c.text for c in missing]))
        done["dropped"] += len(extra)
        done["embedded"] += len(missing)
    if any(done.values()):
        log.warning(
            "Repaired the store: dropped %(dropped)d stray vectors, embedded "
            "%(embedded)d missing ones, re-indexed %(reindexed_papers)d papers.",
            done,
        )
    return done


def consistency(settings: Settings, catalog: Catalog) -> dict[str, Any]:
    """Whether the catalog and the index agree, as `paperboy stats` reports it; the vectors are counted
    without opening the index (see rag.index.vector_count)."""
    from rag.index import vector_count

    catalog_chunks = catalog.chunk_count()
    index_chunks = vector_count(settings, embedding_model_id(settings), _library_id(settings, catalog))
    unsettled = len(catalog.unsettled())
    return {
        "catalog_chunks": catalog_chunks,
        "index_chunks": index_chunks,
        "unsettled_chunks": unsettled,
        "consistent": unsettled == 0 and index_chunks == catalog_chunks,
    }


def store_stats(settings: Settings) -> dict[str, Any]:
    """What the store holds and where it lives, as `paperboy stats` and the app's Library page show it.

    Read from the catalog, without loading the embedding model or Chroma. When the catalog and the index
    disagree the store is opened, which tidies what an unfinished write left (unless a write is still
    running), and they are compared again.
    """
    from rag.index import collection_name

    catalog = Catalog(settings.catalog_path)
    agreement = consistency(settings, catalog)
    if not agreement["consistent"]:
        open_store(settings)
        agreement = consistency(settings, catalog)
    model_id = embedding_model_id(settings)
    location = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.chroma_path)
    return {
        "papers": catalog.count(),
        "chunks": catalog.chunk_count(),
        "days": [d.isoformat() for d in catalog.days()],
        "embedding_model": model_id,
        "collection": collection_name(model_id, _library_id(settings, catalog)),
        "store": location,
        "catalog": str(settings.catalog_path),
        "keyword_index": catalog.keyword_index(),
        "consistency": agreement,
    }
