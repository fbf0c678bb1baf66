"""The vector index: the only module that talks to Chroma.

Chroma (0.5-1 s of imports) and NumPy are imported where they are used: `paperboy stats` counts an
embedded store's vectors from Chroma's own file without either.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from rag.errors import PaperboyError, StoreError, storage_failure
from rag.models import Chunk
from rag.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from rag.providers import TextEmbeddings

# Chroma caps metadata filters, so large id lists go in slices of this size.
_BATCH = 500


@cache
def _embedding_function_type() -> type:
    """Paperboy's embedding function as Chroma knows it, defined on first use and registered, so
    stores reopen by name."""
    from chromadb.api.types import Documents, EmbeddingFunction
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class PaperboyEmbeddingFunction(EmbeddingFunction[Documents]):
        """Adapts the configured LangChain embeddings to Chroma."""

        def __init__(self, embeddings: TextEmbeddings | None, model_id: str) -> None:
            self._embeddings = embeddings
            self._model_id = model_id

        def _loaded(self) -> TextEmbeddings:
            if self._embeddings is None:
                from rag.embeddings import MiniLMEmbeddings

                self._embeddings = MiniLMEmbeddings()
            return self._embeddings

        def __call__(self, input: Documents) -> Any:
            return self._loaded().embed_documents(list(input))

        def embed_query(self, input: Documents) -> Any:
            return [self._loaded().embed_query(text) for text in input]

        @staticmethod
        def name() -> str:
            return "paperboy"

        def get_config(self) -> dict[str, Any]:
            return {"model_id": self._model_id}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> PaperboyEmbeddingFunction:
            # Chroma rebuilds the function from the stored config on every open and upsert, though
            # Paperboy always passes its own vectors; the model loads only if such a copy is really asked
            # to embed (a store opened by Chroma's own tools), and then it is the local one, which needs
            # no settings.
            return PaperboyEmbeddingFunction(None, config.get("model_id", ""))

        def default_space(self) -> Any:
            return "cosine"

    return PaperboyEmbeddingFunction


def collection_name(model_id: str, library_id: str | None = None) -> str:
    """One collection per embedding model, so vectors of different sizes never mix; on a Chroma server,
    one per library too (see Catalog.library_id)."""
    slug = "".join(c if c.isalnum() else "-" for c in model_id.lower()).strip("-")
    suffix = f"-{library_id}" if library_id else ""
    return f"papers-{slug}"[: 512 - len(suffix)] + suffix


# Chroma's count of a collection is the rows of the collection's metadata segment in its SQLite
# file (chromadb 1.5, pinned; tests/test_store.py checks that the two agree after adds, replacements
# and deletes).
_COUNT_IN_FILE = """
SELECT COUNT(e.id) FROM collections c
JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA'
LEFT JOIN embeddings e ON e.segment_id = s.id
WHERE c.name = ?
"""


def vector_count(settings: Settings, model_id: str, library_id: str | None = None) -> int:
    """Vectors in the model's collection, as Chroma counts them; for an embedded store read from its
    file, without importing Chroma (what keeps `paperboy stats` quick)."""
    if settings.chroma_host:
        return ChunkIndex(open_client(settings), None, model_id, library_id).count()
    path = settings.chroma_path / "chroma.sqlite3"
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute(_COUNT_IN_FILE, (collection_name(model_id, library_id),)).fetchone()
    except sqlite3.Error as ex:
        raise storage_failure(ex, f"the store at {settings.chroma_path}") from ex
    return row[0] if row else 0


@contextmanager
def _chroma_errors(where: str) -> Iterator[None]:
    """Chroma's failures (a full disk surfaces as "Error in compaction") as one StoreError."""
    try:
        yield
    except PaperboyError:
        raise
    except Exception as ex:  # chromadb raises InternalError, ValueError and OSError variants alike
        raise storage_failure(ex, where) from ex


def open_client(settings: Settings) -> ClientAPI:
    """The embedded store in data_dir, or the server at CHROMA_HOST:CHROMA_PORT."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as ex:  # chromadb raises bare ValueError/ConnectionError variants here
            raise StoreError(
                f"Cannot open the Chroma server at {settings.chroma_host}:{settings.chroma_port}: {ex}. "
                "Check CHROMA_HOST/CHROMA_PORT and that the server is up."
            ) from ex
    with _chroma_errors(f"the store at {settings.chroma_path}"):
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


class ChunkIndex:
    """The embedding of every chunk, in one Chroma collection per embedding model (and per library on a
    server, which several machines' libraries may share).

    It holds vectors and the paper id (for the day filter), not text: the catalog is the store of
    record for chunks, and a vector whose id the catalog does not hold is never shown.
    """

    def __init__(
        self, client: ClientAPI, embeddings: TextEmbeddings | None, model_id: str, library_id: str | None = None
    ) -> None:
        self.model_id = model_id
        name = collection_name(model_id, library_id)
        self._described = f"the vector index {name}"
        with _chroma_errors(self._described):
            self._collection: Collection = client.get_or_create_collection(
                name,
                embedding_function=_embedding_function_type()(embeddings, model_id),
                configuration={"hnsw": {"space": "cosine"}},
            )

    @property
    def location(self) -> str:
        """Collection name, for stats."""
        return self._collection.name

    def count(self) -> int:
        """Number of vectors stored."""
        with _chroma_errors(self._described):
            return self._collection.count()

    def ids(self) -> set[str]:
        """Every chunk id with a vector: what repair compares with the catalog."""
        with _chroma_errors(self._described):
            return set(self._collection.get(include=[])["ids"])

    def paper_vectors(self, chunk_ids: dict[str, str]) -> dict[str, list[float]]:
        """Each paper's unit-length mean of its chunks' vectors (chunk id -> paper id); papers with no
        vector are left out."""
        import numpy as np

        sums: dict[str, np.ndarray] = {}
        ids, matrix = self._vectors(sorted(chunk_ids))
        for cid, vector in zip(ids, matrix, strict=True):
            paper_id = chunk_ids[cid]
            sums[paper_id] = sums.get(paper_id, 0.0) + vector.astype(np.float64)
        return {paper_id: (total / max(np.linalg.norm(total), 1e-12)).tolist() for paper_id, total in sums.items()}

    def _vectors(self, chunk_ids: list[str]) -> tuple[list[str], np.ndarray]:
        """(the ids that have a vector, their vectors one per row), read in slices."""
        import numpy as np

        ids: list[str] = []
        rows: list[np.ndarray] = []
        for start in range(0, len(chunk_ids), _BATCH):
            with _chroma_errors(self._described):
                found = self._collection.get(ids=chunk_ids[start : start + _BATCH], include=["embeddings"])
            # Chroma returns the embeddings as one numpy array, whose truth value is ambiguous: no `or []`.
            if found["embeddings"] is not None and len(found["ids"]):
                ids.extend(found["ids"])
                rows.append(np.asarray(found["embeddings"], dtype=np.float32))
        return ids, np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def add(self, chunks: list[Chunk], vectors: list[list[float]]) -> None:
        """Upsert the vectors of these chunks."""
        for start in range(0, len(chunks), _BATCH):
            part = chunks[start : start + _BATCH]
            with _chroma_errors(self._described):
                self._collection.upsert(
                    ids=[c.id for c in part],
                    embeddings=vectors[start : start + _BATCH],  # type: ignore[arg-type]
                    metadatas=[_metadata(c) for c in part],
                )

    def delete(self, chunk_ids: list[str]) -> None:
        """Drop these chunks' vectors; ids it does not hold are ignored."""
        for start in range(0, len(chunk_ids), _BATCH):
            with _chroma_errors(self._described):
                self._collection.delete(ids=chunk_ids[start : start + _BATCH])

    def query(self, vector: list[float], k: int, chunk_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as (chunk id, cosine similarity), best first; only among chunk_ids when given.

        A day's (or a paper's) chunks are ranked exactly, from their vectors: at 100k chunks Chroma's
        `where` filter on their paper ids took 43 ms a query and a list of their ids 26 ms, and both
        missed a nearer chunk in 7 of 180 questions, where reading the day's ~200 vectors and ranking
        them here takes 5 ms (bench/scale.py measure).
        """
        import numpy as np

        if chunk_ids is not None:
            ids, matrix = self._vectors(chunk_ids)
            if not ids:
                return []
            query = np.asarray(vector, dtype=np.float32)
            cosine = matrix @ query / np.clip(np.linalg.norm(matrix, axis=1) * np.linalg.norm(query), 1e-12, None)
            return [(ids[i], float(cosine[i])) for i in np.argsort(-cosine, kind="stable")[:k]]
        with _chroma_errors(self._described):
            found = self._collection.query(
                query_embeddings=[vector],  # type: ignore[arg-type]
                n_results=k,
                include=["distances"],
            )
        return [(cid, 1.0 - dist) for cid, dist in zip(found["ids"][0], found["distances"][0], strict=True)]  # type: ignore[index]


def _metadata(chunk: Chunk) -> dict[str, Any]:
    return {"paper_id": chunk.paper.id, "chunk_index": chunk.index}
