"""Text rules shared by every stage: where a sentence ends, the words a keyword search indexes."""

import re
from functools import cache
from typing import Any

# A sentence ends at . ! or ? followed by a space and a capital, digit or quote; "e.g. the" and
# "5.75x" stay whole because a lower-case letter or digit follows the dot, and "Dr. Zero",
# "et al. Show" or "vs. LoRA" because the dot ends an abbreviation.
_ABBREVIATIONS = ("Dr", "Mr", "Ms", "Prof", "vs", "al", "Fig", "Eq", "No", "approx")
_SENTENCE_END = re.compile("".join(rf"(?<!\b{a}\.)" for a in _ABBREVIATIONS) + r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract or an answer, whitespace collapsed."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def keyword_terms(text: str) -> list[str]:
    """The text's words as BM25 sees them: lower-cased, English stop words removed, Snowball-stemmed.

    Ingest stores these terms beside each chunk and a query is cut the same way, so both sides of a
    keyword match always agree.
    """
    return keyword_terms_of([text])[0]


def keyword_terms_of(texts: list[str]) -> list[list[str]]:
    """keyword_terms of each text, in one call: bm25s's set-up per call cost ingest 0.5 ms a chunk.

    bm25s is imported here, not at module load: `paperboy papers` and the app's first paint never need it.
    """
    import bm25s

    if not texts:
        return []
    tokens = bm25s.tokenize(texts, stemmer=_stemmer(), return_ids=False, show_progress=False)
    return [list(terms) for terms in tokens]  # type: ignore[union-attr]
