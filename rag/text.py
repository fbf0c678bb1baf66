"""Text rules shared by every stage: where a sentence ends, what a word is, stems and stop words.

Two stems live here, each for its own comparison. Keyword search (BM25 over the catalog's keyword
postings) uses Lucene's English stop words and PyStemmer's Snowball stems, written at ingest. The
word-overlap checks of the answer pipeline (evidence scores, where a figure came from, what a count
counts) cut words to their first five letters, so "distil" meets "distillation" and "speeds" meets
"speedup", which Snowball keeps apart: the answer figures in the README were measured on that rule.
"""

import re
from functools import cache
from typing import Any

# A sentence ends at . ! or ? followed by a space and a capital, digit or quote; "e.g. the" and
# "5.75x" stay whole because a lower-case letter or digit follows the dot, and "Dr. Zero",
# "et al. Show" or "vs. LoRA" because the dot ends an abbreviation.
_ABBREVIATIONS = ("Dr", "Mr", "Ms", "Prof", "vs", "al", "Fig", "Eq", "No", "approx")
_SENTENCE_END = re.compile("".join(rf"(?<!\b{a}\.)" for a in _ABBREVIATIONS) + r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
# A rule ("---", "***", "===") standing alone between words sets off a block (a YAML header, a table)
# that is no part of the sentence before or after it, even where the next block starts in lower case.
# None of the archive's ~9,500 real abstracts has one.
_RULE = re.compile(r"(?:^|\s)[-*=_~]{3,}(?=\s|$)")
# The last character of a finished sentence: . ! or ? (and any closing quote, bracket or emphasis)
# before a space or the end of the text; "5.75x" has none.
_FULL_STOP = re.compile(r"[.!?][\"')*]*(?=\s|$)")
# A word keeps its inner dots, hyphens and apostrophes: "5.75x", "SwinV2-MoE" and "don't" are one word.
_WORD = re.compile(r"\w+(?:[.'-]\w+)*")
# Letters only, as reading-grade formulas count words: "GPT-4" is the word "GPT", "5.75x" none.
_LETTER_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
# Letters and digits only, lower-cased: the words the overlap checks compare ("vision-r1" is two).
_PLAIN_WORD = re.compile(r"[a-z0-9]+")
STEM_LETTERS = 5
# A keyword token is two or more word characters, and a stop word of Lucene's English list is no
# keyword: the rule bm25s.tokenize applied when it cut the terms, kept here word for word so stores
# written then still match (checked on the archive's 9,527 titles and abstracts), without the 0.3 s
# of scipy that importing bm25s cost every search.
_KEYWORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# fmt: off
_KEYWORD_STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
        "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
        "will", "with",
    }
)
# fmt: on
# Words that say nothing about what a question or a sentence is about, for the overlap checks and
# for naming a topic by its titles' words.
# fmt: off
STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how", "in",
        "is", "it", "its", "of", "on", "or", "that", "the", "their", "this", "to", "was", "what", "when", "which",
        "who", "why", "with", "we", "our", "paper", "papers",
    }
)
# fmt: on


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract or an answer, whitespace collapsed; a rule standing alone ends one."""
    collapsed = " ".join(text.split())
    return [s.strip() for block in _RULE.split(collapsed) for s in _SENTENCE_END.split(block) if s.strip()]


def finished_part(text: str) -> str:
    """The text up to the end of its last finished sentence: a reply cut off mid-sentence loses the cut."""
    ends = [m.end() for m in _FULL_STOP.finditer(text)]
    return text[: ends[-1]] if ends else text


def sentence_count(text: str) -> int:
    """How many sentences the text finishes (at least one when it has any words)."""
    return max(1, len(_FULL_STOP.findall(text)))


def words(text: str) -> list[str]:
    """The text's words as written, each kept whole (see _WORD)."""
    return _WORD.findall(text)


def letter_words(text: str) -> list[str]:
    """The text's words of letters only (see _LETTER_WORD), for syllable counts."""
    return _LETTER_WORD.findall(text)


def word_stems(text: str) -> set[str]:
    """Every word lower-cased and cut to its first five letters, the common ones ("papers") kept."""
    return {w[:STEM_LETTERS] for w in _PLAIN_WORD.findall(text.lower())}


def content_words(text: str) -> set[str]:
    """The stems of the words that carry meaning: word_stems without the stop words."""
    return {w[:STEM_LETTERS] for w in _PLAIN_WORD.findall(text.lower()) if w not in STOP_WORDS}


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
    """keyword_terms of each text, in one call."""
    stem = _stemmer().stemWords
    return [
        stem([token for token in _KEYWORD_TOKEN.findall(text.lower()) if token not in _KEYWORD_STOP_WORDS])
        for text in texts
    ]
