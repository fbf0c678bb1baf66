"""Checks that generated text says nothing its sources do not: numbers and names."""

import re
from decimal import Decimal, InvalidOperation

# A number, optionally with thousands separators and decimals: 5.75, 1,000, 0.611. It may carry a
# unit letter (5.75x, 0.8B, 15.7M) but is not part of a name: the 3 of "3D", the 20 of "ResNet20".
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\d])(?=[xXBMKkGT]?(?![A-Za-z]))")
# LaTeX debris in abstracts glues numbers to words: "sim7 seconds", "64times64".
_DEBRIS = re.compile(r"\bsim(?=\d)|(?<=\d)times(?=\d)")
# [1], [2, 3] citation markers are not claims.
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
# Capitalised words inside a sentence (not its first word): names of methods, datasets, places.
_NAME = re.compile(r"(?<=[a-z0-9,;:)] )([A-Z][\w-]*[A-Za-z0-9])")
_WORDS_OK_CAPITALISED = {"I", "The", "This", "These", "It", "In", "A", "An"}


def _number_spans(text: str) -> list[tuple[str, Decimal]]:
    spans = []
    for match in _NUMBER.finditer(_DEBRIS.sub(" ", _MARKER.sub(" ", text))):
        whole, fraction = match.groups()
        try:
            spans.append((match.group(0), Decimal(whole.replace(",", "") + (fraction or "")).normalize()))
        except InvalidOperation:
            continue
    return spans


def numbers_in(text: str) -> set[Decimal]:
    """Every number in text as a value, so 16% = 16 percent = 16.0 and 5.75x = 5.75 times."""
    return {value for _, value in _number_spans(text)}


def unsupported_numbers(text: str, sources: str) -> list[str]:
    """Numbers in text, as written there, that no source states."""
    known = numbers_in(sources)
    return list(dict.fromkeys(written for written, value in _number_spans(text) if value not in known))


def unsupported_names(text: str, sources: str) -> list[str]:
    """Capitalised names in text that appear in no source (case-insensitive)."""
    lowered = sources.lower()
    names = {m for m in _NAME.findall(_MARKER.sub(" ", text)) if m not in _WORDS_OK_CAPITALISED}
    return sorted(n for n in names if n.lower() not in lowered)
