"""Pages from templates: paper and answer text (untrusted) written into HTML and Markdown as inert text.

HTML templates (*.html) escape every value (Jinja2 autoescape); Markdown templates (*.md) escape
with md_text or md_cell. Templates live in rag/templates and evals/templates.
"""

import re
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

from rag.models import Explainer

# Inline Markdown control: escaped so paper text cannot open a link, code span, emphasis or table cell.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(?:([#+=-])|(\d+)([.)]))")
# In a table cell only what could end the cell, open a link or start code: metric names keep their "_".
_MD_CELL = re.compile(r"([\\|`\[\]])")
_URL_SAFE = ":/?#@!$&*+,;=%~-._"


def _inert(text: str) -> str:
    return " ".join(str(text).split()).replace("<", "&lt;").replace(">", "&gt;")


def md_text(text: str) -> str:
    """Untrusted text as inert Markdown: one line, HTML as entities, link/emphasis/code marks escaped."""
    # "](" is also broken up, for renderers that ignore the escaped bracket.
    text = _MD_INLINE.sub(r"\\\1", _inert(text)).replace("\\](", "\\]\\(")
    # At the start of a line "#", "-" or "1." would open a heading or a list.
    return _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def md_cell(text: object) -> str:
    """Untrusted text as one inert table cell: one line, no raw HTML, links or code, pipes escaped."""
    # Backslashes are escaped in the same pass, so a "\\|" already in the text cannot end the cell.
    return _MD_CELL.sub(r"\\\1", _inert(str(text)))


def md_explainer(explainer: Explainer) -> str:
    """The explainer as one inert Markdown paragraph whose opening sentence, the TL;DR, is in bold."""
    lede = f"**{md_text(explainer.tldr)}** " if explainer.tldr else ""  # "****" would be a rule
    return lede + md_text(explainer.after_tldr)


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), with anything that could end a Markdown link or HTML attribute encoded."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return quote(parts.geturl(), safe=_URL_SAFE)


def counted(n: int, noun: str) -> str:
    """'1 paper', '2 papers', '1 upvote', '0 upvotes'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@cache
def _environment() -> Any:
    import jinja2

    loader = jinja2.ChoiceLoader([jinja2.PackageLoader("rag"), jinja2.PackageLoader("evals")])
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(md=md_text, cell=md_cell, explainer=md_explainer, url=safe_url, counted=counted)
    return env


def render(template: str, **context: Any) -> str:
    """A page from one of the templates (e.g. digest.html), every value escaped for its kind of page."""
    return _environment().get_template(template).render(**context)
