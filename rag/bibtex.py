"""Papers as BibTeX: one @misc entry each, with the arXiv id and link where known."""

import re
from collections import Counter

from rag.models import Paper

# New-style (2510.12345) and old-style (hep-th/9901001) arXiv identifiers.
ARXIV_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})$")
# Characters BibTeX or LaTeX would read as markup, written so they print as themselves.
_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _SPECIAL))
_KEY_WORD = re.compile(r"[A-Za-z0-9]+")
_SKIPPED_TITLE_WORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "towards", "toward"}


def escape(text: str) -> str:
    """Text that BibTeX prints as it is: braces, backslashes and TeX's special characters escaped."""
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m[0]], " ".join(text.split()))


def arxiv_id(paper: Paper) -> str | None:
    """The paper's arXiv identifier, if its id is one."""
    return paper.id if ARXIV_ID.match(paper.id) else None


def base_key(paper: Paper) -> str:
    """Google Scholar's style of key: first author's surname, year, first significant title word."""
    surname = _KEY_WORD.findall(paper.authors[0].split()[-1]) if paper.authors else []
    year = paper.published or paper.listed_on
    word = next((w for w in _KEY_WORD.findall(paper.title) if w.lower() not in _SKIPPED_TITLE_WORDS), "paper")
    return "".join(surname).lower() + (str(year.year) if year else "") + word.lower()


def entry(paper: Paper, key: str) -> str:
    """One @misc entry."""
    year = paper.published or paper.listed_on
    eprint = arxiv_id(paper)
    fields = [("title", "{" + escape(paper.title) + "}")]
    if paper.authors:
        fields.append(("author", " and ".join(escape(name) for name in paper.authors)))
    if year:
        fields.append(("year", str(year.year)))
    if eprint:
        fields += [("eprint", eprint), ("archivePrefix", "arXiv")]
    url = f"https://arxiv.org/abs/{eprint}" if eprint else paper.url
    if url:
        # A URL stays as it is (the url package reads it verbatim), except what would end the field.
        fields.append(("url", url.replace("{", "%7B").replace("}", "%7D").replace("\\", "%5C")))
    if paper.listed_on:
        fields.append(("note", f"Listed on {paper.listed_on.isoformat()}"))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}"


def to_bibtex(papers: list[Paper]) -> str:
    """Every paper as an entry, keys made unique with a, b, c... in the order given."""
    keys = [base_key(p) for p in papers]
    repeated = Counter(keys)
    seen: Counter[str] = Counter()
    entries = []
    for paper, key in zip(papers, keys, strict=True):
        if repeated[key] > 1:
            seen[key] += 1
            key += "abcdefghijklmnopqrstuvwxyz"[(seen[key] - 1) % 26] * ((seen[key] - 1) // 26 + 1)
        entries.append(entry(paper, key))
    return "\n\n".join(entries) + ("\n" if entries else "")
