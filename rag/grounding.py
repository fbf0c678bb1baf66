"""Checks that generated text says nothing its sources do not: numbers and names."""

import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from rag.citations import MARKER
from rag.text import content_words, word_stems

# A number, optionally with thousands separators and decimals: 5.75, 1,000, 0.611. It may carry a
# unit letter (5.75x, 0.8B, 15.7M) but is not part of a name: the 3 of "3D", the 20 of "ResNet20".
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\d])(?=[xXBMKkGT]?(?![A-Za-z]))")
# LaTeX debris in abstracts glues numbers to words: "sim7 seconds", "64times64", "4-5times", "16times".
_DEBRIS = re.compile(r"\bsim(?=\d)|(?<=\d)(?=(?:times|fold|percent)\b)|(?<=\d)times(?=\d)")
# Figures written as words. "one" is left out: "one of the", "one-step" are rarely a claimed figure.
_CARDINALS = {
    **{w: n for n, w in enumerate(["two", "three", "four", "five", "six", "seven", "eight", "nine"], start=2)},
    **{w: n for n, w in enumerate(["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen"], start=10)},
    **{w: n for n, w in enumerate(["sixteen", "seventeen", "eighteen", "nineteen"], start=16)},
    **{w: 10 * n for n, w in enumerate(["twenty", "thirty", "forty", "fifty", "sixty"], start=2)},
    **{w: 10 * n for n, w in enumerate(["seventy", "eighty", "ninety"], start=7)},
}
_WORD_VALUES = {
    **_CARDINALS,
    "hundred": 100,
    "thousand": 1000,
    "dozen": 12,
    **{f"{w}fold": n for w, n in _CARDINALS.items() if n <= 10},  # "twofold" ... "tenfold"
    "hundredfold": 100,
    "twice": 2,
    "double": 2,
    "doubles": 2,
    "triple": 3,
    "half": Decimal("0.5"),
    "halves": Decimal("0.5"),
}
# "the two papers" counts the answer's own sources, not a finding; "half-finished", "two-stage" are words.
_NUMBER_WORD = re.compile(
    r"\b(" + "|".join(_WORD_VALUES) + r")\b(?!-|\s+(?:papers?|studies|works|sources|abstracts)\b)", re.I
)
# Capitalised words inside a sentence (not its first word): names of methods, datasets, places; and
# coined names that start lower-case ("miniF2F", "xLSTM", "mT5").
_NAME = re.compile(r"(?<=[a-z0-9,;:)] )([A-Z][\w-]*[A-Za-z0-9]|[a-z]+[A-Z][\w-]*[A-Za-z0-9])")
# "AI-made", "US-based": a plain word made an adjective is plain too ("DESI-like" stays a name a paper writes).
_ADJECTIVE_TAIL = re.compile(r"(?:-[a-z]+)+$")
# Plain words of a question or an answer, not names a paper must use: "AI systems", "the US", "desktop PC chips".
_WORDS_OK_CAPITALISED = {"I", "The", "This", "These", "It", "In", "A", "An", "AI", "ML", "US", "UK", "EU", "PC"}


_PERCENT_AFTER = re.compile(r"\s*(?:\\?%|percent\b)")
# "178K samples" is "178,000 samples", "1.2M pairs" "1.2 million pairs", "7B" 7 billion: the scale
# written after a number (rag.evidence reads such a number as a figure too).
SCALE = r"([kKMB])(?![A-Za-z])|\s+(thousand|million|billion)\b"
_SCALE_AFTER = re.compile(SCALE, re.I)
# The unit after a number that makes it a measured figure and is not a scale: "1.5 seconds", "20%", "3x"
# (rag.evidence reads a number with one as a figure).
UNIT = r"%|x\b|\u00d7|times\b|fold\b|percent|seconds?\b|minutes?\b|hours?\b|fps\b|ms\b|points?\b"
_UNIT_AFTER = re.compile(rf"\s*\\?(?:{UNIT})")
_SCALES = {"k": 1000, "thousand": 1000, "m": 10**6, "million": 10**6, "b": 10**9, "billion": 10**9}
# Enough of what follows a figure to read the few words it counts ("7 established medical datasets");
# the whole rest of the text would be kept once per figure, quadratic in a long abstract.
_AFTER_CHARS = 80
# "ten of the most capable open- and closed-source LMs": a count's noun may come eight words on.
_COUNTED_WORDS = 8
_CLAUSE_END = re.compile(r"[,;:.()]")


class Figure(NamedTuple):
    """A figure as written, its value, every value it may be stated as elsewhere, and the words around it."""

    written: str
    value: Decimal
    forms: frozenset[Decimal]
    after: str = ""
    before: str = ""
    scaled: bool = False  # written with a scale: "1.5B", "178K", "2 million"


def _around(text: str, match: re.Match[str]) -> tuple[str, str]:
    """The text after a figure and before it, enough of each to read what it counts."""
    return text[match.end() : match.end() + _AFTER_CHARS], text[max(match.start() - _AFTER_CHARS, 0) : match.start()]


def figures_in(text: str) -> list[Figure]:
    """Each figure in text: 50% may also be stated as 0.5, half as 0.5 or 50 (%), five as 5."""
    text = _DEBRIS.sub(" ", MARKER.sub(" ", text))
    figures = []
    for match in _NUMBER.finditer(text):
        whole, fraction = match.groups()
        try:
            value = Decimal(whole.replace(",", "") + (fraction or "")).normalize()
        except InvalidOperation:
            continue
        share = (value / 100).normalize() if _PERCENT_AFTER.match(text, match.end()) else value
        scale = _SCALE_AFTER.match(text, match.end())
        scaled = (value * _SCALES[(scale.group(1) or scale.group(2)).lower()]).normalize() if scale else value
        forms = frozenset({value, share, scaled})
        figures.append(Figure(match.group(0), value, forms, *_around(text, match), scaled=scale is not None))
    for match in _NUMBER_WORD.finditer(text):
        value = Decimal(_WORD_VALUES[match.group(1).lower()]).normalize()
        percent = (value * 100).normalize() if value < 1 else value
        figures.append(Figure(match.group(0), value, frozenset({value, percent}), *_around(text, match)))
    return figures


def _abbreviates(word: str, noun: str) -> bool:
    """'LMs' abbreviates 'models', 'GPUs' 'units': an acronym ends with the initial of its noun."""
    letters = _singular(word)
    return len(letters) >= 2 and letters.isupper() and letters[-1].lower() == noun[:1].lower()


# Nouns that count the same thing under other names, so any of a class in the asked phrase counts for
# any other: "how many different ways of damaging the sound" is answered "nineteen degradation types",
# "how many examples did they train on" "78 training samples", and "by how many points" "29.4 pp".
_SAME_COUNT = [
    word_stems("ways kinds types sorts forms categories classes varieties variants"),
    word_stems("examples samples instances demonstrations"),
    word_stems("points pp"),
]


# Words that say the figure after them is a count of the thing named with them.
_COUNT_NOUNS = word_stems("count number total")


def counts(thing: str, text: str) -> set[Decimal]:
    """Every value (in every form) of the figures in text that count thing: '7 datasets', 'ten of the
    most capable LMs'.

    What a figure counts is in the words after it, up to the end of its clause, or before it when
    they say it is a count of it. A thing of common words only ("papers") is compared as written.
    """
    noun = thing.split()[-1]
    stems = word_stems(thing)
    counted = content_words(thing) or word_stems(noun)
    counted |= {stem for same in _SAME_COUNT if stems & same for stem in same}
    values: set[Decimal] = set()
    for figure in figures_in(text):
        words = _CLAUSE_END.split(figure.after, maxsplit=1)[0].split()[:_COUNTED_WORDS]
        # "scale the expert count to 262,144", "the number of experts is 64": the thing named before.
        before = word_stems(" ".join(_CLAUSE_END.split(figure.before)[-1].split()[-_COUNTED_WORDS:]))
        if (
            counted & word_stems(" ".join(words))
            or any(_abbreviates(word, noun) for word in words)
            or (before & _COUNT_NOUNS and counted & before)
        ):
            values |= figure.forms
    return values


def numbers_in(text: str) -> set[Decimal]:
    """Every figure in text as a value: 16% = 16 percent = 16.0, 5.75x = 5.75 times, five = 5."""
    return {figure.value for figure in figures_in(text)}


# A count of one, in the words numbers_in leaves out of figures ("one of the", "one-step" are none).
_ONE = re.compile(r"\b(?:one|single|sole)\b", re.I)


def gives_a_count(text: str) -> bool:
    """True when text states some count: a figure, or one written as "one" or "a single"."""
    return bool(numbers_in(text)) or _ONE.search(text) is not None


def unsupported_numbers(text: str, sources: str) -> list[str]:
    """Figures in text, as written there, that no source states in any form. A figure with a unit is
    not stated by a model size: "starts 1.5 seconds sooner" is not in "a 1.5B model"."""
    stated = figures_in(sources)
    known = {form for figure in stated for form in figure.forms}
    unscaled = {form for figure in stated if not figure.scaled for form in figure.forms}
    unsupported = [
        f.written for f in figures_in(text) if not f.forms & (unscaled if _UNIT_AFTER.match(f.after) else known)
    ]
    return list(dict.fromkeys(unsupported))


def names_in(text: str) -> set[str]:
    """The names inside text's sentences: capitalised words and coined names of methods, datasets, models
    ("LoRA", "K-means", "miniF2F"), not plain words ("AI", "AI-made")."""
    names = _NAME.findall(MARKER.sub(" ", text))
    return {name for name in names if _ADJECTIVE_TAIL.sub("", name) not in _WORDS_OK_CAPITALISED}


def unsupported_names(text: str, sources: str) -> list[str]:
    """Capitalised names in text that appear in no source (case-insensitive)."""
    # "Feynman-Kac" is the name an abstract writes "Feynman Kac": hyphens and spaces compare equal.
    lowered = sources.lower().replace("-", " ")
    return sorted(n for n in names_in(text) if _singular(n).lower().replace("-", " ") not in lowered)


def _singular(name: str) -> str:
    """An acronym's plural as its singular: "LLMs" is named by "LLM post-training"."""
    return name[:-1] if len(name) > 2 and name.endswith("s") and name[:-1].isupper() else name


# A coined name, not an ordinary capitalised word: "NitroFusion", "CTR", "GPT-4", "LoRA", "ResNet20".
_COINED = re.compile(r"[A-Z\d]")


def unsupported_coined_names(text: str, sources: str) -> list[str]:
    """The coined names (acronyms, CamelCase, names with digits) in text that no source mentions.

    A question's own words are no claim: "the Transformer paper" may name in other words what an
    abstract calls "attention-only network", but "NitroFusion" is a name the right paper must use.
    """
    return [name for name in unsupported_names(text, sources) if _COINED.search(name[1:])]
