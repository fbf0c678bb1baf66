"""Work the app does off the page: the one chat model of the process, and each day's topics and explainers.

The Today page draws its papers from the catalog alone. The store (Chroma, MiniLM) and the model
stack (LangChain, openai), ~3 s to import and open, are loaded here, in the background.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rag.catalog import Catalog
from rag.digest import fallback_topic_name, name_topic
from rag.errors import PaperboyError
from rag.model_service import background_work, person_waiting, wait_for_people
from rag.models import Explainer, Paper
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from rag.chains import ModelCalls
    from rag.store import Store


class SharedChat:
    """The chat model every session shares, built on first use; a user's question goes before background work."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._build = threading.Lock()
        self._llm: BaseChatModel | None = None

    def model(self) -> BaseChatModel:
        """The chat model; the first call imports the model stack (seconds), so call it off the page."""
        from rag.providers import get_chat

        with self._build:
            if self._llm is None:
                self._llm = get_chat(self._settings)
            return self._llm

    @property
    def name(self) -> str | None:
        """The model's name once it is built, else None."""
        if self._llm is None:
            return None
        from rag.providers import chat_model_name

        return chat_model_name(self._llm)

    @contextmanager
    def priority(self) -> Iterator[None]:
        """Mark work a user is waiting for (an answer, an eval run): background explainers pause meanwhile,
        in this app and in every other process."""
        with person_waiting(self._settings):
            yield

    def wait_for_users(self, stop: threading.Event) -> None:
        """Block background work while a user waits: the local model answers one request at a time."""
        wait_for_people(self._settings, stop)


class DayBriefing:
    """One day's papers; a background thread groups them by topic, names the topics and writes missing explainers.

    Until the papers are grouped (the store opens in ~3 s on a fresh app), `topics` is empty and the
    page lists the papers most upvoted first.
    """

    def __init__(
        self, day: date, catalog: Catalog, open_store: Callable[[], Store], chat: SharedChat, cache_dir: Path
    ) -> None:
        self.day = day
        self.papers = catalog.papers(day)
        self.topics: list[tuple[str, list[Paper]]] = []
        self.explainers: dict[str, Explainer] = {}
        self.model: str | None = None
        self.error: str | None = None
        self._catalog = catalog
        self._open_store = open_store
        self._chat = chat
        self._cache_dir = cache_dir
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"briefing-{day}", daemon=True)

    def start(self) -> DayBriefing:
        """Start the background work; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the background work to stop after the current model call."""
        self._stop.set()

    @property
    def working(self) -> bool:
        """True while topics or explainers are still being written."""
        return self._thread.is_alive()

    def _run(self) -> None:
        with background_work():
            self._write()

    def _write(self) -> None:
        from rag.chains import ModelCalls
        from rag.digest import group_by_topic

        try:
            groups = group_by_topic(self._open_store(), self.papers) if self.papers else []
            # Title-word names at once; the model's names replace them when ready.
            self.topics = [(fallback_topic_name(g, self.papers), g) for g in groups]
            calls = ModelCalls(self._chat.model(), self._cache_dir)
            self.model = calls.model
            self._load_cached(calls.model)
            self._name_topics(calls)
            self._explain_missing(calls)
        except PaperboyError as ex:  # a dead endpoint or a broken model file: shown on the page, not raised
            self.error = str(ex)

    def _load_cached(self, model: str) -> None:
        from rag.explain import cached_explainer

        for paper in self.papers:
            if explainer := cached_explainer(paper, self._catalog, model):
                self.explainers[paper.id] = explainer

    def _name_topics(self, calls: ModelCalls) -> None:
        named: list[tuple[str, list[Paper]]] = []
        for _, papers in self.topics:
            self._chat.wait_for_users(self._stop)
            if self._stop.is_set():
                return
            named.append((name_topic(papers, calls, self.papers, self._catalog), papers))
            # Swapped whole, so a page drawing the topics never sees a half-named list.
            self.topics = named + self.topics[len(named) :]

    def _explain_missing(self, calls: ModelCalls) -> None:
        from rag.explain import explain_paper

        # In page order: the topics shown first get their explainers first.
        for paper in (p for _, papers in self.topics for p in papers if p.id not in self.explainers):
            self._chat.wait_for_users(self._stop)
            if self._stop.is_set():
                return
            self.explainers[paper.id] = explain_paper(paper, calls, self._catalog)
