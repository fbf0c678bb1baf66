"""Question -> the best matching chunks, one per paper, best first."""

from datetime import date

from rag.errors import IndexNotFoundError
from rag.models import Chunk, Hit
from rag.store import Store


def _paper_filter(store: Store, day: date | None, paper_id: str | None) -> list[str] | None:
    if paper_id:
        return [store.catalog.paper(paper_id).id]
    if day:
        return [p.id for p in store.catalog.papers(day)]
    return None


def search(query: str, store: Store, k: int = 5, day: date | None = None, paper_id: str | None = None) -> list[Hit]:
    """Dense search; the best chunk of each paper, so one long paper cannot fill every slot."""
    if store.index.count() == 0:
        raise IndexNotFoundError("Nothing is ingested yet; run `paperboy ingest FILE` first.")
    allowed = _paper_filter(store, day, paper_id)
    # Over-fetch: several chunks of one paper may rank together, and they collapse to one hit.
    rows = store.index.query(store.embedder.query(query), k * 4, allowed)
    best: dict[str, tuple[str, dict, float]] = {}
    for _, text, meta, score in rows:
        pid = str(meta["paper_id"])
        if pid not in best or score > best[pid][2]:
            best[pid] = (text, meta, score)
    papers = store.catalog.stored(list(best))
    hits = [
        Hit(
            chunk=Chunk(paper=papers[pid], index=int(meta["chunk_index"]), text=text, tokens=int(meta["tokens"])),
            score=score,
        )
        for pid, (text, meta, score) in best.items()
        if pid in papers
    ]
    return sorted(hits, key=lambda h: -h.score)[:k]
