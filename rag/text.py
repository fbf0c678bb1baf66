"""Text rules shared by ingest and retrieval: the words a keyword search indexes and looks for."""

from functools import cache
from typing import Any


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def keyword_terms(text: str) -> list[str]:
    """The text's words as BM25 sees them: lower-cased, English stop words removed, Snowball-stemmed.

    Ingest stores these terms beside each chunk and a query is cut the same way, so both sides of a
    keyword match always agree. bm25s is imported here, not at module load: `paperboy papers` and the
    app's first paint never need it.
    """
    import bm25s

    tokens = bm25s.tokenize([text], stemmer=_stemmer(), return_ids=False, show_progress=False)
    return list(tokens[0])  # type: ignore[index]
