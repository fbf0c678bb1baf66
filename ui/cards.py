"""A paper as a card, the same on every page: title and link, upvotes, date, TL;DR and explainer, abstract."""

from collections.abc import Callable

import streamlit as st

from rag.markup import counted, md_explainer, md_text, safe_url
from rag.models import Explainer, Paper


def _title(paper: Paper) -> str:
    url = safe_url(paper.url)
    title = md_text(paper.title)
    return f"**[{title}]({url})**" if url else f"**{title}**"


def _facts(paper: Paper) -> str:
    day = paper.listed_on or paper.published
    return " · ".join([counted(paper.upvotes, "upvote"), *([f"listed {day.isoformat()}"] if day else []), paper.id])


def _explainer(explainer: Explainer | None, waiting: str) -> None:
    if explainer is None:
        st.caption(waiting)
        return
    st.markdown(md_explainer(explainer))
    if explainer.flagged:
        st.caption(f"This explainer failed a check ({md_text(explainer.flag_reason or '')}); read the abstract too.")


def paper_card(
    paper: Paper,
    explainer: Explainer | None,
    waiting: str = "Explainer on its way...",
    note: str | None = None,
    actions: Callable[[], None] | None = None,
) -> None:
    """One paper in a bordered box: the plain-language explainer, and the original abstract folded under it.
    A note (why it is shown where it is) goes under the facts; actions draw the reader's buttons at the end.

    The abstract is an expander, not a toggle that redraws the card: it opens in the browser without a
    rerun, and the page shows its first card ~0.5 s sooner, since Streamlit's toggle is a widget whose
    script the browser fetches and draws after the rest of the card (bench/ui.py, README)."""
    with st.container(border=True):
        st.markdown(_title(paper))
        st.caption(_facts(paper))
        if note:
            st.caption(md_text(note))
        _explainer(explainer, waiting)
        with st.expander("Original abstract"):
            st.markdown(md_text(paper.abstract))
        if actions:
            actions()
