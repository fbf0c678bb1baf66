"""Run a suite: a fresh store from its corpus, every case through the same code as `paperboy ask`."""

import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field

from evals.metrics import CaseResult, aggregate, score_case
from evals.suite import ROOT, Case, Suite
from rag.answer import Asker
from rag.chains import ModelCalls
from rag.ingest import ingest_files
from rag.models import Turn
from rag.providers import chat_model_name
from rag.retrieval import Mode, retrieve
from rag.settings import Settings
from rag.sources import ReadOptions
from rag.store import Store, open_store

# Pipelines users can compare; each is the real answer code with one retrieval setting changed.
PIPELINES: dict[str, Mode] = {"default": "hybrid", "dense": "dense", "bm25": "bm25"}


class Run(BaseModel):
    """One suite run: its settings, every case's result and the aggregate metrics."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    pipeline: str
    model: str
    commit: str
    started: str
    seconds: float
    settings: dict
    cases: list[CaseResult]
    aggregate: dict[str, float | None]
    by_tag: dict[str, dict[str, float | None]] = Field(description="Aggregate over each tag's cases")


def git_commit() -> str:
    """The commit the code ran at, or 'unknown' outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def build_store(suite: Suite, settings: Settings) -> Store:
    """Ingest the suite's corpus into the (fresh) store the settings point at."""
    store = open_store(settings)
    report = ingest_files(suite.corpus_paths(), store, settings, options=ReadOptions(listed_on=suite.date))
    if report.failed_files:
        raise ValueError(f"suite {suite.name}: corpus failed to ingest: {report.failed_files}")
    return store


def _expected_ids(case: Case, store: Store) -> set[str]:
    by_title = {p.title: p.id for p in store.catalog.papers()}
    return {by_title.get(ref, ref) for ref in case.expected_papers}


def run_case(case: Case, store: Store, asker: Asker, mode: Mode) -> CaseResult:
    """Ask one case and score it; retrieval is scored on the question the pipeline searched with."""
    answer = asker.ask(case.question, history=[Turn(**t.model_dump()) for t in case.history], mode=mode)
    ranking = [h.chunk.paper.id for h in retrieve(answer.standalone_question, store, 5, mode=mode)]
    return score_case(case, _expected_ids(case, store), answer, ranking)


def run_suite(
    suite: Suite,
    settings: Settings,
    llm: BaseChatModel,
    pipeline: str = "default",
    progress: Callable[[int, int], None] | None = None,
) -> Run:
    """Every case of suite through the pipeline, in a store of its own that is deleted afterwards."""
    started = time.perf_counter()
    mode = PIPELINES[pipeline]
    with tempfile.TemporaryDirectory(prefix="paperboy-eval-") as tmp:
        run_settings = settings.model_copy(update={"data_dir": Path(tmp), "chroma_host": None})
        store = build_store(suite, run_settings)
        results = []
        for done, case in enumerate(suite.cases, start=1):
            asker = Asker(store, ModelCalls(llm, settings.cache_dir), run_settings)
            results.append(run_case(case, store, asker, mode))  # type: ignore[arg-type]
            if progress:
                progress(done, len(suite.cases))
    tags = sorted({t for r in results for t in r.tags})
    return Run(
        suite=suite.name,
        pipeline=pipeline,
        model=chat_model_name(llm),
        commit=git_commit(),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - started, 1),
        settings=settings.model_dump(mode="json", exclude={"openai_api_key", "data_dir", "cache_dir"}),
        cases=results,
        aggregate=aggregate(results),
        by_tag={tag: aggregate([r for r in results if tag in r.tags]) for tag in tags},
    )
