"""Work the app does off the page: the one chat model of the process, and each day's digest.

The Today page draws its papers from the catalog alone. The store (Chroma, MiniLM) and the model
stack (LangChain, openai), ~3 s to import and open, are loaded here, in the background.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rag.catalog import Catalog
from rag.errors import PaperboyError
from rag.model_service import background_work, person_waiting, wait_for_people
from rag.models import Explainer
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from rag.digest import Digest
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


# How long the app's exit waits for briefings to leave their current step before it ends the process.
_EXIT_WAIT_S = 1.0
_briefings: weakref.WeakSet[DayBriefing] = weakref.WeakSet()


def _end_briefings_at_exit() -> None:
    """Stop every briefing; if one is still inside a call after _EXIT_WAIT_S, end the process here.

    Python's exit kills daemon threads where they stand, and one inside native code that catches all
    exceptions (tiktoken's or Chroma's Rust, through pyo3) aborts the whole process instead: "FATAL:
    exception not rethrown", SIGABRT, about one SIGTERM in eight while explainers were being written.
    Nothing is lost by not finishing: the catalog commits per explainer and files are written whole.
    """
    running = [b for b in list(_briefings) if b.working]
    for briefing in running:
        briefing.stop()
    deadline = time.monotonic() + _EXIT_WAIT_S
    for briefing in running:
        briefing.join(max(0.0, deadline - time.monotonic()))
    if any(b.working for b in running):
        logging.shutdown()
        with suppress(OSError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(0)


atexit.register(_end_briefings_at_exit)


class DayBriefing:
    """One day's digest, built in a background thread by the digest service the CLI uses (rag.digest):
    papers grouped by topic, topics named, missing explainers written; each state shown as it comes.

    Until the papers are grouped (the store is opened first, off the page), `digest` is None and the
    page lists the papers most upvoted first.
    """

    def __init__(
        self,
        day: date,
        catalog: Catalog,
        open_store: Callable[[], Store],
        chat: SharedChat,
        cache_dir: Path,
        settle_s: float = 0.0,
    ) -> None:
        self.day = day
        self._settle_s = settle_s
        self.papers = catalog.papers(day)
        self.digest: Digest | None = None
        self.model: str | None = None
        self.error: str | None = None
        self._open_store = open_store
        self._chat = chat
        self._cache_dir = cache_dir
        self._stop = threading.Event()
        self._starting = threading.Lock()  # several sessions may open the day at once
        self._thread = threading.Thread(target=self._run, name=f"briefing-{day}", daemon=True)

    def start(self) -> DayBriefing:
        """Start the background work, unless it has started; returns self. Its first act is to wait
        settle_s (see ui.resources.briefing)."""
        with self._starting:
            if self._thread.ident is None:
                _briefings.add(self)
                self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the background work to stop after the current model call."""
        self._stop.set()

    def join(self, timeout_s: float) -> None:
        """Wait up to timeout_s for the background work to end."""
        self._thread.join(timeout_s)

    @property
    def working(self) -> bool:
        """True until the topics and explainers are written (also before the work has started)."""
        return self._thread.ident is None or self._thread.is_alive()

    @property
    def explainers(self) -> dict[str, Explainer]:
        """The explainers ready so far, by paper id."""
        return {pid: e for topic in self.digest.topics for pid, e in topic.explainers.items()} if self.digest else {}

    def _run(self) -> None:
        if self._stop.wait(self._settle_s):
            return
        with background_work():
            self._write()

    def _write(self) -> None:
        from rag.chains import ModelCalls
        from rag.digest import complete_digest, draft_digest
        from rag.explain import explain_paper

        if not self.papers:
            return
        try:
            store = self._open_store()
            # Title-word names at once; the model's names replace them when ready.
            self.digest = draft_digest(store, self.day)
            calls = ModelCalls(self._chat.model(), self._cache_dir)
            self.model = calls.model
            complete_digest(
                self.digest,
                store,
                calls,
                lambda paper: explain_paper(paper, calls, store.catalog),
                self._show,
                self._proceed,
            )
        except PaperboyError as ex:  # a dead endpoint or a broken model file: shown on the page, not raised
            self.error = str(ex)

    def _show(self, digest: Digest) -> None:
        # Swapped whole, so a page drawing the digest never sees a half-updated one.
        self.digest = digest

    def _proceed(self) -> bool:
        """Before each model call: wait while a user waits for an answer; False once the briefing is stopped."""
        self._chat.wait_for_users(self._stop)
        return not self._stop.is_set()
