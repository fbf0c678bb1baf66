"""arXiv API answers: an Atom feed of entries with id, published, title, summary, authors and categories."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from datetime import date
from typing import TYPE_CHECKING

from rag.errors import SourceError
from rag.models import Paper, paper_id_for
from rag.sources.tabular import build_paper, parse_date

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from rag.sources import ReadOptions

# A feed is untrusted: defusedxml refuses entity expansion, external entities and DTDs (ValueErrors).
from defusedxml.ElementTree import fromstring

API_URL = "http://export.arxiv.org/api/query"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
NAME = f"{ATOM}name"
ABS_URL = "https://arxiv.org/abs/{id}"
# "http://arxiv.org/abs/2510.12345v2" -> 2510.12345; old style "hep-th/9901001v1" -> hep-th/9901001.
ID_RE = re.compile(r"arxiv\.org/abs/(?P<id>[^?#\s]+?)(?:v\d+)?$")
CATEGORY_RE = re.compile(r"^[a-z-]+(?:\.[A-Za-z-]+)?$")
# arXiv serves at most 2000 results per request.
MAX_RESULTS = 2000


def build_query_url(day: date, category: str, start: int = 0, max_results: int = 200, api_url: str = API_URL) -> str:
    """API URL for one category's submissions on one day, sorted by submission date."""
    if not CATEGORY_RE.match(category):
        raise SourceError(f"bad arXiv category {category!r}; expected a name such as cs.LG or hep-th")
    if start < 0 or not 1 <= max_results <= MAX_RESULTS:
        raise SourceError(f"bad page: start must be >= 0 and max_results 1-{MAX_RESULTS}")
    stamp = day.strftime("%Y%m%d")
    query = f"cat:{category}+AND+submittedDate:[{stamp}0000+TO+{stamp}2359]"
    return f"{api_url}?search_query={query}&start={start}&max_results={max_results}&sortBy=submittedDate"


def read_arxiv(text: str, options: ReadOptions) -> list[Paper]:
    """Parse an arXiv API Atom feed; errors name the entry."""
    root = parse_feed(text)
    entries = root.findall(f"{ATOM}entry")
    return [entry_to_paper(entry, f"entry {index}", options) for index, entry in enumerate(entries, start=1)]


def parse_feed(text: str) -> Element:
    """The feed's root element, or a SourceError naming the line of malformed XML."""
    try:
        root = fromstring(text)
    except ElementTree.ParseError as err:
        line, column = err.position
        raise SourceError(f"malformed XML at line {line}, column {column}") from err
    except ValueError as err:  # defusedxml's refusals (entities, DTDs) are ValueErrors
        raise SourceError(f"unsafe XML refused ({type(err).__name__})") from err
    if root.tag != f"{ATOM}feed":
        raise SourceError(f"not an Atom feed: the root element is <{root.tag}>")
    return root


def entry_to_paper(entry: Element, where: str, options: ReadOptions) -> Paper:
    """One Atom entry as a Paper: id and url without the version, categories as keywords."""
    raw_id = _child_text(entry, f"{ATOM}id") or ""
    if "/api/errors" in raw_id:  # how the API reports a bad query: an entry titled "Error"
        raise SourceError(f"the arXiv API answered an error: {_child_text(entry, f'{ATOM}summary')}")
    match = ID_RE.search(raw_id)
    arxiv_id = match["id"] if match else None
    where = f"{where} ({arxiv_id})" if arxiv_id else where
    title = _required(entry, "title", where)
    published = parse_date(_child_text(entry, f"{ATOM}published"), where, "published")
    authors = [name for author in entry.findall(f"{ATOM}author") if (name := _child_text(author, NAME))]
    return build_paper(
        where,
        id=paper_id_for(title, arxiv_id),
        title=title,
        abstract=_required(entry, "summary", where),
        authors=authors,
        author_count=len(authors) or None,
        published=published,
        # One query's answer spans several published dates: the day it lists is the one asked for.
        listed_on=options.listed_on,
        url=ABS_URL.format(id=arxiv_id) if arxiv_id else None,
        source="arxiv",
        keywords=_categories(entry),
    )


def _child_text(element: Element, tag: str) -> str | None:
    text = element.findtext(tag)
    return text.strip() if text and text.strip() else None


def _required(entry: Element, field: str, where: str) -> str:
    text = _child_text(entry, f"{ATOM}{field}")
    if text is None:
        raise SourceError(f"{where}: missing {field}")
    return text


def _categories(entry: Element) -> list[str]:
    # Primary category first; it is usually repeated among the <category> elements.
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term")] if primary is not None else []
    terms += [category.get("term") for category in entry.findall(f"{ATOM}category")]
    return list(dict.fromkeys(term for term in terms if term))
