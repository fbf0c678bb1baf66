"""Reading grade (Flesch-Kincaid) with syllables from pyphen's hyphenation dictionaries.

textstat counts syllables with NLTK's cmudict, which it downloads on first use: that fails offline,
so the grade is computed here from the published formula instead.
"""

from functools import cache

import pyphen

from rag.text import letter_words, sentence_count


@cache
def _dictionary() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    """Syllables in one word: hyphenation points plus one."""
    return len(_dictionary().positions(word.lower())) + 1


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade level: 0.39 words/sentence + 11.8 syllables/word - 15.59."""
    words = letter_words(text)
    if not words:
        return 0.0
    per_word = sum(syllables(w) for w in words) / len(words)
    return round(0.39 * len(words) / sentence_count(text) + 11.8 * per_word - 15.59, 1)
