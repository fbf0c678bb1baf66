"""What every session shares, created once per process: settings, the store, the chat model, day briefings.

Per-user state (the conversation, chosen day, last eval run) lives in st.session_state, never here.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import streamlit as st

from rag.catalog import Catalog
from rag.settings import Settings, get_settings
from ui.background import DayBriefing, SharedChat

if TYPE_CHECKING:
    from rag.store import Store


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The same settings the CLI reads: environment, then .env in the working directory."""
    return get_settings()


@st.cache_resource(show_spinner=False)
def catalog() -> Catalog:
    """The catalog alone (SQLite): enough to list a day's papers before the store is open."""
    return Catalog(settings().catalog_path)


@st.cache_resource(show_spinner="Opening the library...")
def store() -> Store:
    """The one store of the process, shared by every session: embedded Chroma is not safe across processes."""
    from rag.store import open_store

    return open_store(settings())


@st.cache_resource(show_spinner=False)
def chat() -> SharedChat:
    """The one chat model of the process, started on first use (the local server takes seconds)."""
    return SharedChat(settings())


# The Today page starts the day's work once it has sent its cards, and the work waits this long more:
# its first seconds (importing Chroma and LangChain, which hold the interpreter and a core) slowed
# the browser drawing the cards by about a second (bench/ui.py, README).
BRIEFING_SETTLE_S = 1.5


@st.cache_resource(show_spinner=False, on_release=DayBriefing.stop)
def briefing(day: date) -> DayBriefing:
    """The day's topics and explainers, written once per process in the background, whoever opens the
    day; the Today page starts the work after drawing its papers."""
    return DayBriefing(day, catalog(), store, chat(), settings().cache_dir, BRIEFING_SETTLE_S)
