"""Today: the day's papers as cards grouped by topic or "for you", a search box, a day picker, the
reader's marks and interests, explainers filling in."""

from datetime import date

import streamlit as st

from rag.markup import counted, md_text
from rag.models import Paper
from ui import resources
from ui.background import DayBriefing
from ui.cards import paper_card
from ui.reader import Marks, card_actions, interests_panel, marks, new_since_last_visit

# Seconds between refreshes while explainers are being written (p50 ~8 s each on the local model, README).
REFRESH_S = 3
SEARCH_RESULTS = 10
ORDERS = ["Topics", "For you"]


def _long_date(day: date) -> str:
    return day.strftime("%A %d %B %Y")


def pick_day(days: list[date], new: dict[str, list[date]]) -> date:
    """The day picker: every stored day, newest first, with its paper count and what is new since the
    last visit (new: paper id -> its new listing days); the latest until the user picks another."""
    if st.session_state.get("day") not in days:
        st.session_state.day = days[0]
    counts = resources.catalog().day_counts()
    new_on: dict[date, int] = {}
    for listed in new.values():
        for day in listed:
            new_on[day] = new_on.get(day, 0) + 1

    def label(day: date) -> str:
        fresh = f" \u00b7 {new_on[day]} new" if day in new_on else ""
        return f"{_long_date(day)} ({counted(counts.get(day, 0), 'paper')}){fresh}"

    # persist_state="session": the choice survives a visit to another page.
    return st.selectbox("Day", days, key="day", format_func=label, persist_state="session")


def feed_link() -> None:
    """The Atom feed `paperboy daily` keeps, to download or to give a feed reader on this machine."""
    from rag.daily import digest_dir

    feed = digest_dir(resources.settings()) / "feed.xml"
    if feed.is_file():
        st.download_button(
            "Atom feed", feed.read_bytes(), "paperboy.xml", "application/atom+xml", icon=":material/rss_feed:"
        )
        st.caption(f"Feed readers on this machine: `{feed.resolve().as_uri()}`")


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


def _card(briefing: DayBriefing, paper: Paper, key: str, marked: Marks, note: str | None = None) -> None:
    waiting = "Explainer on its way..." if briefing.working else "No explainer yet."
    flags = [
        *(["\u2605 starred"] if paper.id in marked.starred else []),
        *(["read"] if paper.id in marked.read else []),
        *(["new since your last visit"] if paper.id in st.session_state.get("new_ids", ()) else []),
    ]
    note = " \u00b7 ".join([*flags, *([note] if note else [])]) or None
    paper_card(
        paper,
        briefing.explainers.get(paper.id),
        waiting=waiting,
        note=note,
        actions=lambda: card_actions(paper, key, marked),
    )


def show_folded(briefing: DayBriefing, folded: list[tuple[Paper, str]], marked: Marks) -> None:
    """Muted and hidden papers, folded away at the end: out of sight, not lost."""
    if not folded:
        return
    with st.expander(f"Folded away ({len(folded)}): muted or hidden"):
        for paper, reason in folded:
            _card(briefing, paper, key=f"folded-{paper.id}", marked=marked, note=reason)


def show_topics(briefing: DayBriefing, marked: Marks) -> None:
    """Every paper once, under its topic: largest topic first, most upvoted first within it; until the
    topics are ready, every paper most upvoted first. Muted and hidden papers are folded away."""
    from rag.interests import fold_reasons

    folds = fold_reasons(resources.catalog(), briefing.papers)
    groups = [(t.name, t.papers) for t in briefing.digest.topics] if briefing.digest else [("", briefing.papers)]
    for name, papers in groups:
        shown = [p for p in papers if p.id not in folds]
        if name and shown:
            st.subheader(f"{md_text(name)} ({len(shown)})", divider="gray")
        for paper in shown:
            _card(briefing, paper, key=paper.id, marked=marked)
    show_folded(briefing, [(p, folds[p.id]) for p in briefing.papers if p.id in folds], marked)


def show_for_you(briefing: DayBriefing, marked: Marks) -> None:
    """The day in the reader's order, each card with its reason; muted and hidden papers folded away."""
    from rag.interests import rank_for_you

    ranking = rank_for_you(resources.store(), briefing.papers)
    if not ranking.learned:
        st.caption("Star papers to teach this order; until then, followed keywords first, then upvotes.")
    for ranked in ranking.shown:
        _card(briefing, ranked.paper, key=f"foryou-{ranked.paper.id}", marked=marked, note=ranked.reason())
    show_folded(briefing, [(r.paper, r.folded or "") for r in ranking.folded], marked)


def show_search(briefing: DayBriefing, query: str) -> None:
    """The day's papers that best match the query, by the product's own retrieval."""
    from rag.retrieval import retrieve

    hits = retrieve(query, resources.store(), SEARCH_RESULTS, briefing.day)
    st.caption(f"{len(hits)} best matches for \u201c{md_text(query)}\u201d")
    marked = marks()
    for hit in hits:
        _card(briefing, hit.chunk.paper, key=f"search-{hit.chunk.paper.id}", marked=marked)


def show_day(briefing: DayBriefing, query: str, order: str, refreshing: bool) -> None:
    """The part of the page that refreshes while explainers are written."""
    if refreshing and not briefing.working:
        st.rerun()  # a full run draws the finished day and drops the refresh timer
    grouped = f"in {len(briefing.digest.topics)} topics" if briefing.digest else "(grouping them by topic...)"
    order_words = "in your order" if order == "For you" and not query else "most upvoted first"
    st.caption(f"{len(briefing.papers)} papers {grouped}, {order_words}.")
    show_progress(briefing)
    if query:
        show_search(briefing, query)
    elif order == "For you":
        show_for_you(briefing, marks())
    else:
        show_topics(briefing, marks())


def show_new(day: date, new: dict[str, list[date]]) -> None:
    """How many papers came in since the reader's last visit, on this day and on others."""
    st.session_state.new_ids = set(new)
    if new:
        here = sum(day in days for days in new.values())
        st.caption(f"{counted(len(new), 'paper')} new since your last visit, {here} of them on this day.")


def render() -> None:
    """The Today page."""
    st.title("Today")
    days = resources.catalog().days()
    if not days:
        st.info("No papers yet: ingest a file or fetch a day on the Library page.", icon=":material/info:")
        st.page_link("views/library.py", label="Go to the Library", icon=":material/library_books:")
        return
    new = new_since_last_visit()  # one catalog read for the picker and the caption
    day = pick_day(days, new)
    show_new(day, new)
    briefing = resources.briefing(day)
    query = st.text_input("Search", key="today_query", placeholder="e.g. speeding up diffusion sampling")
    order = st.radio("Order", ORDERS, key="today_order", horizontal=True, persist_state="session")
    interests_panel()
    feed_link()
    refreshing = briefing.working
    # A fragment reruns alone: cards fill in as explainers arrive, without redrawing the picker and search box.
    st.fragment(run_every=REFRESH_S if refreshing else None)(show_day)(briefing, query.strip(), order, refreshing)
    briefing.start()  # after the cards: see DayBriefing.start


render()
