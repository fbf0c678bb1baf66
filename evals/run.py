"""Run a suite: a fresh store from its corpus, every case through the same code as `paperboy ask`."""

import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field

from evals.judge import judge_answer
from evals.metrics import CaseResult, metrics_of, score_case, score_explainer, summarise
from evals.naive import naive_answer
from evals.pipelines import NAIVE, pipeline_mode
from evals.suite import ROOT, Case, ExplainerCase, Suite, SuiteError
from rag.answer import Asker
from rag.chains import ModelCalls
from rag.explain import explain_paper
from rag.ingest import ingest_files
from rag.models import Answer, Turn
from rag.providers import chat_model_name
from rag.retrieval import retrieve
from rag.settings import Settings, shown_url
from rag.sources import ReadOptions
from rag.store import Store, open_store


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


def eval_runs_dir(settings: Settings) -> Path:
    """Where eval runs are saved by default, so the CLI and the app list the same runs."""
    return settings.data_dir / "evals"


def eval_run_dir(settings: Settings, run: Run) -> Path:
    """The default folder of one run: its suite, pipeline and start time, e.g. smoke-default-2025-10-31T120000."""
    stamp = run.started.replace(":", "").replace("+0000", "")
    return eval_runs_dir(settings) / f"{run.suite}-{run.pipeline}-{stamp}"


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
    report = ingest_files(suite.corpus_paths(), store, options=ReadOptions(listed_on=suite.date))
    if report.failed_files:
        raise ValueError(f"suite {suite.name}: corpus failed to ingest: {report.failed_files}")
    return store


def _by_title(store: Store) -> dict[str, str]:
    return {p.title: p.id for p in store.catalog.papers()}


def answer_case(case: Case, store: Store, calls: ModelCalls, settings: Settings, pipeline: str) -> Answer:
    """The case's question through the pipeline, exactly as `paperboy ask` would answer it."""
    if pipeline == NAIVE:
        return naive_answer(case.question, store, calls)
    history = [Turn(**t.model_dump()) for t in case.history]
    return Asker(store, calls, settings).ask(case.question, history=history, mode=pipeline_mode(pipeline))


def run_answer_case(
    case: Case, store: Store, llm: BaseChatModel, settings: Settings, pipeline: str, judge: bool
) -> CaseResult:
    """Ask one case and score it; retrieval is scored on the question the pipeline searched with."""
    answer = answer_case(case, store, ModelCalls(llm, settings.cache_dir), settings, pipeline)
    found = retrieve(answer.standalone_question, store, 5, mode=pipeline_mode(pipeline))
    ranking = [h.chunk.paper.id for h in found]
    titles = _by_title(store)
    result = score_case(case, {titles.get(ref, ref) for ref in case.expected_papers}, answer, ranking)
    if judge:
        result.metrics["judge_supported"] = judge_answer(answer, ModelCalls(llm, settings.cache_dir))
    return result


def run_explainer_case(case: ExplainerCase, store: Store, llm: BaseChatModel, settings: Settings) -> CaseResult:
    """Explain one paper, as `paperboy explain` would, and score the explainer."""
    paper = store.catalog.paper(_by_title(store).get(case.paper, case.paper))
    explainer = explain_paper(paper, ModelCalls(llm, settings.cache_dir), store.catalog)
    return score_explainer(case.id, case.key_terms, paper, explainer)


def suite_paths(paths: list[Path]) -> list[Path]:
    """The suite files named, a folder standing for every suite in it (sorted, so runs compare)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".jsonl"))
            if not inside:
                raise SuiteError(f"{path}: no suite files (*.yaml, *.jsonl) in this folder")
            found.extend(inside)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def combine_runs(runs: list[Run], kind: str) -> Run:
    """Several suites' runs as one, each case id prefixed with its suite: what all days together score."""
    cases = [case.model_copy(update={"id": f"{run.suite}/{case.id}"}) for run in runs for case in run.cases]
    tags = sorted({t for c in cases for t in c.tags})
    return runs[0].model_copy(
        update={
            "suite": "+".join(run.suite for run in runs),
            "seconds": round(sum(run.seconds for run in runs), 1),
            "cases": cases,
            "aggregate": summarise(cases, metrics_of(kind)),
            "by_tag": {tag: summarise([c for c in cases if tag in c.tags], metrics_of(kind)) for tag in tags},
        }
    )


def _recorded(settings: Settings) -> dict[str, Any]:
    """The settings a run.json keeps: no key, no local paths, no credentials inside a URL."""
    recorded = settings.model_dump(mode="json", exclude={"openai_api_key", "data_dir", "cache_dir"})
    if recorded.get("openai_base_url"):
        recorded["openai_base_url"] = shown_url(recorded["openai_base_url"])
    return recorded


def run_suite(
    suite: Suite,
    settings: Settings,
    llm: BaseChatModel,
    pipeline: str = "default",
    judge: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Run:
    """Every case of suite through the pipeline, in a store of its own that is deleted afterwards."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="paperboy-eval-") as tmp:
        run_settings = settings.model_copy(update={"data_dir": Path(tmp), "chroma_host": None})
        store = build_store(suite, run_settings)
        results = []
        for done, case in enumerate(suite.cases, start=1):
            if isinstance(case, ExplainerCase):
                results.append(run_explainer_case(case, store, llm, run_settings))
            else:
                results.append(run_answer_case(case, store, llm, run_settings, pipeline, judge))
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
        settings=_recorded(settings),
        cases=results,
        aggregate=summarise(results, metrics_of(suite.kind)),
        by_tag={tag: summarise([r for r in results if tag in r.tags], metrics_of(suite.kind)) for tag in tags},
    )
