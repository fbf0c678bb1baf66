"""How a paper is named in words: its method's name, its title's short head, its title.

Answers name the papers they cite, questions name the papers they ask about, and an abstract may
name another paper of the day: each reads names through these functions.
"""

import re

from rag.models import Paper

# "We present Flex, a ...", "we propose a new method called OptFS to ...": a one-word name the abstract
# gives its method. Only these openings: "named SwinV2-MoE" later in an abstract is often a baseline.
_NAMED_IN_ABSTRACT = re.compile(
    r"\b(?:[Ww]e (?:present|propose|introduce)|[Tt]his (?:paper|work) (?:presents|proposes|introduces))\s+"
    r"(?:(?:a|an|the)\s+(?:[\w-]+\s+){0,6}?(?:called|named|dubbed|termed)\s+)?"
    r"([A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)(?=[,:.]|\s?\(|\s+(?:a|an|which|that|to|for)\b)"
)


def method_name(paper: Paper) -> str | None:
    """The name of the paper's method: the title's ("SlimFlow: Training ...") when the abstract uses it
    too, else the one the abstract introduces ("We present Flex, ...")."""
    head, colon, _ = paper.title.partition(":")
    head = head.strip()
    # "From Similarity to Superiority: ..." is a slogan, not a name: names are one or two words.
    if colon and len(head.split()) <= 2 and head in paper.abstract:
        return head
    named = _NAMED_IN_ABSTRACT.search(paper.abstract)
    return named.group(1) if named else None


def names_of(paper: Paper) -> list[str]:
    """The ways an answer may name a paper: its method's name, its title's short head ("X-Coder: ..."), its title."""
    head, colon, _ = paper.title.partition(":")
    short = head.strip() if colon and len(head.split()) <= 3 else None
    return [name for name in dict.fromkeys((method_name(paper), short, paper.title)) if name]


def named_in(name: str, text: str) -> bool:
    """True when text names name as a whole word: "MoS" is not in "most", nor MedAgentsBench in "MedAgentsBench-Pro".

    An all-capitals name is often a plain word too ("ARE", "SCALE", "POINTS", "FAST": 15 method names of
    the Daily Papers days), so a lower-case word never names it ("What are ...", "at scale"), and a short
    one only in capitals; a longer one may be written as a name is ("Acadreason" for ACADREASON).
    """
    matches = re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w]|-\w)", text, re.I)
    if not name.isupper():
        return next(matches, None) is not None
    return any(m.group() == name or (len(name) >= 5 and not m.group().islower()) for m in matches)


def is_named(paper: Paper, text: str) -> bool:
    """True when text names the paper in words, by its method's name or its title."""
    return any(named_in(name, text) for name in names_of(paper))
