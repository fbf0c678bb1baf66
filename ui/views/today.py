"""Today: the day's papers as cards grouped by topic, a search box, a day picker, explainers filling in."""

from datetime import date

import streamlit as st

from rag.markup import md_text
from rag.models import Paper
from ui import resources
from ui.background import DayBriefing
from ui.cards import paper_card

# Seconds between refreshes while explainers are being written (p50 ~8 s each on the local model, README).
REFRESH_S = 3
SEARCH_RESULTS = 10


def _long_date(day: date) -> str:
    return day.strftime("%A %d %B %Y")


def pick_day(days: list[date]) -> date:
    """The day picker: days with listings, newest first; the latest until the user picks another."""
    if st.session_state.get("day") not in days:
        st.session_state.day = days[0]
    # persist_state="session": the choice survives a visit to another page.
    return st.selectbox("Day", days, key="day", format_func=_long_date, persist_state="session")


def show_progress(briefing: DayBriefing) -> None:
    """How many explainers are ready, and why none are coming when the model is unavailable."""
    ready, total = len(briefing.explainers), len(briefing.papers)
    if briefing.error:
        st.warning(f"Explainers and topic names stopped: {briefing.error}", icon=":material/warning:")
        if st.button("Try again", icon=":material/refresh:"):
            resources.briefing.clear(briefing.day)  # the next run starts a fresh briefing for the day
            st.rerun(scope="app")
    elif briefing.model is None:
        st.caption("Starting the chat model for the explainers...")
    st.progress(ready / total if total else 1.0, text=f"{ready}/{total} explainers ready")


def _card(briefing: DayBriefing, paper: Paper, key: str) -> None:
    waiting = "Explainer on its way..." if briefing.working else "No explainer yet."
    paper_card(paper, briefing.explainers.get(paper.id), key=key, waiting=waiting)


def show_topics(briefing: DayBriefing) -> None:
    """Every paper once, under its topic: largest topic first, most upvoted first within it; until the
    topics are ready, every paper most upvoted first."""
    if briefing.digest is None:
        for paper in briefing.papers:
            _card(briefing, paper, key=paper.id)
        return
    for topic in briefing.digest.topics:
        st.subheader(f"{md_text(topic.name)} ({len(topic.papers)})", divider="gray")
        for paper in topic.papers:
            _card(briefing, paper, key=paper.id)


def show_search(briefing: DayBriefing, query: str) -> None:
    """The day's papers that best match the query, by the product's own retrieval."""
    from rag.retrieval import retrieve

    hits = retrieve(query, resources.store(), SEARCH_RESULTS, briefing.day)
    st.caption(f"{len(hits)} best matches for \u201c{md_text(query)}\u201d")
    for hit in hits:
        _card(briefing, hit.chunk.paper, key=f"search-{hit.chunk.paper.id}")


def show_day(briefing: DayBriefing, query: str, refreshing: bool) -> None:
    """The part of the page that refreshes while explainers are written."""
    if refreshing and not briefing.working:
        st.rerun()  # a full run draws the finished day and drops the refresh timer
    grouped = f"in {len(briefing.digest.topics)} topics" if briefing.digest else "(grouping them by topic...)"
    st.caption(f"{len(briefing.papers)} papers {grouped}, most upvoted first.")
    show_progress(briefing)
    if query:
        show_search(briefing, query)
    else:
        show_topics(briefing)


def render() -> None:
    """The Today page."""
    st.title("Today")
    days = resources.catalog().days()
    if not days:
        st.info("No papers yet: ingest a file or fetch a day on the Library page.", icon=":material/info:")
        st.page_link("views/library.py", label="Go to the Library", icon=":material/library_books:")
        return
    day = pick_day(days)
    briefing = resources.briefing(day)
    query = st.text_input("Search", key="today_query", placeholder="e.g. speeding up diffusion sampling")
    refreshing = briefing.working
    # A fragment reruns alone: cards fill in as explainers arrive, without redrawing the picker and search box.
    st.fragment(run_every=REFRESH_S if refreshing else None)(show_day)(briefing, query.strip(), refreshing)


render()
