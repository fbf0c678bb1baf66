"""The store: the catalog of papers plus the chunk index, opened together once per process."""

from typing import Any, NamedTuple

from rag.catalog import Catalog
from rag.index import ChunkIndex, open_client
from rag.providers import Embedder, get_embedder
from rag.settings import Settings


class Store(NamedTuple):
    """Everything ingest and retrieval read or write."""

    catalog: Catalog
    index: ChunkIndex
    embedder: Embedder


def open_store(settings: Settings) -> Store:
    """Open (creating if needed) the catalog and the index for the configured embedding model."""
    embedder = get_embedder(settings)
    index = ChunkIndex(open_client(settings), embedder.embeddings, embedder.model_id)
    return Store(Catalog(settings.catalog_path), index, embedder)


def store_stats(store: Store, settings: Settings) -> dict[str, Any]:
    """What the store holds and where it lives, as `paperboy stats` and the app's Library page show it."""
    location = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.chroma_path)
    return {
        "papers": store.catalog.count(),
        "chunks": store.index.count(),
        "days": [d.isoformat() for d in store.catalog.days()],
        "embedding_model": store.embedder.model_id,
        "collection": store.index.location,
        "store": location,
        "catalog": str(settings.catalog_path),
    }
