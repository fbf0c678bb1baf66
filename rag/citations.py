"""The citation grammar: answers cite their sources with [n] or [n, m] markers after the claim.

Everything that reads, moves, checks or writes a marker is here, so prompts, checks, evals and
pages agree on what a citation is.
"""

import re
from collections.abc import Container, Iterable

# [1], [2, 3]: the one marker grammar that prompts ask for, checks read and pages render.
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# A marker citing one source, as a pattern to build others from: "the paper [1]", "is [2].".
ONE_MARKER = r"\[(\d+)\]"
# "... in real time. [1] It also ...": a marker after the full stop belongs to the sentence before it.
_AFTER_STOP = re.compile(r"([.!?])\s*(" + MARKER.pattern + r")")
# "[1] Vision-R1 uses ...": a marker opening a sentence labels the source, as the prompt's blocks do.
_LEADING = re.compile(r"^\s*" + MARKER.pattern + r"\s*")


def markers(text: str) -> list[int]:
    """Every source number the text cites, in order, repeats kept."""
    return [int(n) for group in MARKER.findall(text) for n in group.split(",")]


def without_markers(text: str) -> str:
    """The text with its markers (and the space before each) removed."""
    return re.sub(r"\s*" + MARKER.pattern, "", text).strip()


def marker(numbers: Iterable[int]) -> str:
    """[1, 3]: one marker citing every number."""
    return f"[{', '.join(str(n) for n in numbers)}]"


def cited_at_end(text: str, numbers: list[int]) -> str:
    """'X does Y [2]' cited to [1, 3] -> 'X does Y [1, 3].': the claim, then its one marker."""
    return f"{without_markers(text).rstrip(' .')} {marker(numbers)}."


def recited_at_end(text: str, numbers: Iterable[int]) -> str:
    """'X does Y [2].' cited to [1, 3] -> 'X does Y [1][3].': markers replaced by one per source, at the end."""
    return MARKER.sub("", text).rstrip(" .") + " " + "".join(marker([n]) for n in numbers) + "."


def markers_before_stops(text: str) -> str:
    """'... in real time. [1] It also' -> '... in real time [1]. It also'."""
    return _AFTER_STOP.sub(r" \2\1", text)


def markers_last(sentence: str) -> str:
    """'[1] X does Y.' -> 'X does Y [1].': a marker opening a sentence moves to its end, unless it has one there."""
    opening = _LEADING.match(sentence)
    if not opening:
        return sentence
    rest = sentence[opening.end() :]
    return rest if markers(rest) else f"{rest.rstrip(' .')} {opening.group(0).strip()}."


def only_valid(text: str, valid: Container[int]) -> str:
    """'[2, 7]' with sources 1-3 -> '[2]': every marker keeps the numbers that name a source, or goes."""

    def kept(match: re.Match[str]) -> str:
        numbers = [n.strip() for n in match.group(1).split(",") if int(n) in valid]
        return f"[{', '.join(numbers)}]" if numbers else ""

    return MARKER.sub(kept, text)
