"""Ask: a chat over the chosen day(s). Answers stream in, cite papers as chips and show the passages used."""

import queue
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import streamlit as st

from rag.answer import Asker
from rag.catalog import Days
from rag.chains import ModelCalls
from rag.citations import marker
from rag.errors import PaperboyError
from rag.explain import cached_explainer
from rag.markup import md_text
from rag.models import Answer, Citation, DayRange, Turn
from ui import resources
from ui.cards import paper_card

ALL_DAYS = "All days"
THIS_WEEK = "This week"
CHIP_TITLE_CHARS = 60


def conversation() -> list[Answer]:
    """This session's answers, oldest first; each holds its question, so the history is derived from them."""
    return st.session_state.setdefault("answers", [])


def history(answers: list[Answer]) -> list[Turn]:
    """The earlier exchanges, as Asker.ask takes them for follow-up questions."""
    return [Turn(question=a.question, answer=a.answer) for a in answers]


def this_week(days: list[date]) -> DayRange:
    """The seven days up to the latest stored day: this week, for a library `paperboy daily` keeps up."""
    latest = days[0] if days else date.today()
    return DayRange(since=latest - timedelta(days=6), until=latest)


def _day_label(choice: date | str, week: DayRange) -> str:
    if choice == THIS_WEEK:
        return f"{THIS_WEEK} ({week.since} to {week.until})"
    return choice if isinstance(choice, str) else choice.isoformat()


def pick_days() -> Days | None:
    """The day filter: one day (the one chosen on Today, else the latest), this week, or every day."""
    days = resources.store().catalog.days()
    week = this_week(days)
    options: list[date | str] = [*days, THIS_WEEK, ALL_DAYS]
    if st.session_state.get("ask_day") not in options:
        st.session_state.ask_day = st.session_state.get("day", days[0] if days else ALL_DAYS)
    choice = st.selectbox(
        "Papers from",
        options,
        key="ask_day",
        format_func=lambda option: _day_label(option, week),
        persist_state="session",
    )
    return None if choice == ALL_DAYS else week if choice == THIS_WEEK else choice  # type: ignore[return-value]


def _chip(citation: Citation) -> str:
    title = citation.title if len(citation.title) <= CHIP_TITLE_CHARS else citation.title[:CHIP_TITLE_CHARS] + "..."
    return f"{marker([citation.number])} {md_text(title)}"


def show_citations(answer: Answer, key: str) -> None:
    """One chip per cited paper; the chosen chip opens the paper's card under the answer."""
    by_number = {c.number: c for c in answer.citations}
    chosen = st.pills("Cited papers", list(by_number), format_func=lambda n: _chip(by_number[n]), key=key)
    if chosen is None:
        return
    store = resources.store()
    paper = store.catalog.paper(by_number[chosen].paper_id)
    model = resources.chat().name
    explainer = cached_explainer(paper, store.catalog, model) if model else None
    paper_card(paper, explainer, waiting="No explainer yet; the Today page writes them.")


def show_sources(answer: Answer) -> None:
    """The passages the model was shown, with their retrieval scores."""
    if not answer.sources:
        return
    with st.expander(f"Sources ({len(answer.sources)})"):
        for source in answer.sources:
            st.markdown(f"**{marker([source.number])} {md_text(source.paper.title)}** \u00b7 score {source.score:.3f}")
            st.markdown(md_text(source.text))


def show_reply(answer: Answer) -> None:
    """An answer as text; an abstention as a notice with its reason, so the two never look alike."""
    if answer.abstained:
        reason = f"  \n*Why: {md_text(answer.abstain_reason)}*" if answer.abstain_reason else ""
        st.info(md_text(answer.answer) + reason, icon=":material/search_off:")
    else:
        st.markdown(md_text(answer.answer))
    st.caption(f"{answer.model} \u00b7 {answer.timings.total_ms / 1000:.1f} s")


def show_exchange(answer: Answer, key: str) -> None:
    """One question and its answer, citations and sources."""
    with st.chat_message("user"):
        st.markdown(md_text(answer.question))
    with st.chat_message("assistant"):
        show_reply(answer)
        if answer.citations:
            show_citations(answer, key)
        show_sources(answer)


def show_stream(pieces: "queue.Queue[str | None]") -> None:
    """The model's words as they come, until None; escaped like every other model or paper text."""
    placeholder = st.empty()
    with st.spinner("Reading the papers..."):
        piece = pieces.get()
    text = ""
    while piece is not None:
        text += piece
        placeholder.markdown(md_text(text) + " \u258c")
        piece = pieces.get()


def ask(question: str, day: Days | None, turns: list[Turn]) -> Answer:
    """Answer in a worker thread (Asker.ask blocks while the model writes) and stream its words onto the page."""
    store, chat, settings = resources.store(), resources.chat(), resources.settings()
    pieces: queue.Queue[str | None] = queue.Queue()

    def work() -> Answer:
        with chat.priority():
            asker = Asker(store, ModelCalls(chat.model(), settings.cache_dir), settings)
            return asker.ask(question, turns, day=day, on_token=pieces.put)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ask")
    try:
        future = pool.submit(work)
        future.add_done_callback(lambda _: pieces.put(None))
        show_stream(pieces)
        return future.result()
    finally:
        pool.shutdown(wait=False)  # a rerun mid-answer must not wait here for the model to finish


def render() -> None:
    """The Ask page."""
    st.title("Ask")
    answers = conversation()
    day = pick_days()
    # A new round after clearing gives the chips new keys, so no old selection carries over.
    if st.button("Clear conversation", icon=":material/delete:", disabled=not answers):
        answers.clear()
        st.session_state.chat_round = st.session_state.get("chat_round", 0) + 1
    round_key = st.session_state.get("chat_round", 0)
    for number, answer in enumerate(answers):
        show_exchange(answer, key=f"cite-{round_key}-{number}")
    question = st.chat_input("Ask about the papers, e.g. which papers concern grokking?")
    if not question:
        return
    with st.chat_message("user"):
        st.markdown(md_text(question))
    with st.chat_message("assistant"):
        try:
            answer = ask(question, day, history(answers))
        except PaperboyError as ex:  # a dead endpoint, a missing store: said in the reply's place
            st.error(str(ex), icon=":material/error:")
            return
    answers.append(answer)
    st.rerun()  # drawn again from the conversation, with its chips and sources


render()
