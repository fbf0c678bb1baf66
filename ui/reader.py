"""The reader's own state on the pages: keywords followed and muted, stars, read and hidden marks, the
last visit. All of it lives in the catalog (rag/catalog.py), so it is the CLI's too and survives restarts."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import streamlit as st

from rag.catalog import Catalog, KeywordKind, Mark, utc_stamp
from rag.errors import PaperboyError
from rag.markup import md_text
from rag.models import Paper
from ui import resources

LAST_VISIT = "last-visit"


class Marks(NamedTuple):
    """The papers the reader marked, read once per page run."""

    starred: set[str]
    read: set[str]
    hidden: set[str]


def marks() -> Marks:
    """Starred, read and hidden paper ids."""
    catalog = resources.catalog()
    return Marks(*(set(catalog.marked(mark)) for mark in ("star", "read", "hidden")))  # type: ignore[arg-type]


def previous_visit() -> str | None:
    """When this reader last opened the app (UTC), before this session; the session's start is the new visit."""
    if "previous_visit" not in st.session_state:
        catalog = resources.catalog()
        st.session_state.previous_visit = catalog.state(LAST_VISIT)
        catalog.set_state(LAST_VISIT, utc_stamp())
    return st.session_state.previous_visit


def new_since_last_visit() -> dict[str, list[date]]:
    """Papers whose listing went in since the previous visit, with those days; none on a first visit."""
    since = previous_visit()
    return resources.catalog().listed_since(since) if since else {}


def _set_mark(paper_id: str, mark: Mark, on: bool) -> None:
    resources.catalog().set_mark([paper_id], mark, on)


def card_actions(paper: Paper, key: str, marked: Marks) -> None:
    """Star, read and hide buttons for one card; each writes the catalog before the page runs again."""
    starred, read, hidden = paper.id in marked.starred, paper.id in marked.read, paper.id in marked.hidden
    star, seen, hide = st.columns(3)
    star.button(
        "\u2605 Starred" if starred else "\u2606 Star",
        key=f"star-{key}",
        on_click=_set_mark,
        args=(paper.id, "star", not starred),
        help="Stars teach the \u201cFor you\u201d order",
    )
    seen.button(
        "Mark unread" if read else "Mark read", key=f"read-{key}", on_click=_set_mark, args=(paper.id, "read", not read)
    )
    hide.button(
        "Unhide" if hidden else "Hide", key=f"hide-{key}", on_click=_set_mark, args=(paper.id, "hidden", not hidden)
    )


def _add_keyword(kind: KeywordKind, field: str) -> None:
    from rag.interests import keyword_phrase

    keyword = " ".join(str(st.session_state.get(field, "")).split())
    st.session_state[field] = ""
    if not keyword:
        return
    try:
        keyword_phrase(keyword)
    except PaperboyError as ex:
        st.session_state.keyword_error = str(ex)
        return
    resources.catalog().set_keyword(keyword, kind)


def _keyword_column(catalog: Catalog, kind: KeywordKind, label: str, placeholder: str) -> None:
    field = f"new-{kind}"
    st.text_input(label, key=field, placeholder=placeholder, on_change=_add_keyword, args=(kind, field))
    for keyword in catalog.keywords(kind):
        st.button(
            f"\u2715 {md_text(keyword)}",
            key=f"drop-{kind}-{keyword}",
            on_click=catalog.set_keyword,
            args=(keyword, None),
            help=f"Stop {'following' if kind == 'follow' else 'muting'} it",
        )


def interests_panel() -> None:
    """Keywords to follow (they raise papers under "For you") and to mute (their papers fold away)."""
    catalog = resources.catalog()
    follows, mutes = catalog.keywords("follow"), catalog.keywords("mute")
    summary = f"{len(follows)} followed, {len(mutes)} muted" if follows or mutes else "follow or mute keywords"
    with st.expander(f"Your interests ({summary})"):
        if error := st.session_state.pop("keyword_error", None):
            st.error(error)
        left, right = st.columns(2)
        with left:
            _keyword_column(catalog, "follow", "Follow a keyword", "e.g. diffusion")
        with right:
            _keyword_column(catalog, "mute", "Mute a keyword", "e.g. benchmark")
