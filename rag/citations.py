"""The citation grammar: answers cite their sources with [n] or [n, m] markers after the claim."""

import re

# [1], [2, 3]: the one marker grammar that prompts ask for, checks read and pages render.
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def markers(text: str) -> list[int]:
    """Every source number the text cites, in order, repeats kept."""
    return [int(n) for group in MARKER.findall(text) for n in group.split(",")]


def without_markers(text: str) -> str:
    """The text with its markers (and the space before each) removed."""
    return re.sub(r"\s*" + MARKER.pattern, "", text).strip()


def cited_at_end(text: str, numbers: list[int]) -> str:
    """'X does Y [2]' cited to [1, 3] -> 'X does Y [1, 3].': the claim, then its one marker."""
    return f"{without_markers(text).rstrip(' .')} [{', '.join(str(n) for n in numbers)}]."
