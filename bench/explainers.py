"""Benchmark explainers over the whole sample day on the configured model.

Prints seconds per explainer (p50/p95), the share passing the checks on the first try, the share
flagged, the average reading grade of explainers against the abstracts', and how much wording they
copy from the abstract. Usage:
    .venv/bin/python bench/explainers.py
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.cli import cpu
from evals.metrics import percentile
from evals.readability import reading_grade
from evals.run import build_store
from evals.suite import ROOT, load_suite
from rag.chains import ModelCalls
from rag.explain import copied_share, explain_papers
from rag.providers import get_chat
from rag.settings import get_settings

SUITE = ROOT / "evals" / "suites" / "explainers-sample-day.yaml"


def main() -> None:
    print(f"machine: {cpu()}")
    settings = get_settings()
    llm = get_chat(settings)
    with tempfile.TemporaryDirectory() as tmp:
        run_settings = settings.model_copy(update={"data_dir": Path(tmp)})
        store = build_store(load_suite(SUITE), run_settings)
        papers = store.catalog.papers()
        started = time.perf_counter()
        explainers = explain_papers(papers, ModelCalls(llm, settings.cache_dir), store.catalog)
        wall = time.perf_counter() - started
    seconds = [e.seconds for e in explainers]
    first_try = [e.attempts == 1 and not e.flagged for e in explainers]
    explainer_grade = statistics.fmean(reading_grade(e.explainer) for e in explainers)
    abstract_grade = statistics.fmean(reading_grade(p.abstract) for p in papers)
    print(f"{len(explainers)} explainers on {explainers[0].model} in {wall:.0f} s")
    print(f"  seconds per explainer p50 / p95   {percentile(seconds, 0.5)} / {percentile(seconds, 0.95)}")
    print(f"  passed the checks on first try    {sum(first_try)}/{len(first_try)}")
    print(f"  flagged after one retry           {sum(e.flagged for e in explainers)}")
    for explainer in explainers:
        if explainer.flagged:
            print(f"    {explainer.paper_id} {explainer.title[:60]}: {explainer.flag_reason}")
    print(f"  reading grade, explainers         {explainer_grade:.1f}")
    print(f"  reading grade, abstracts          {abstract_grade:.1f}")
    print(f"  words per explainer (mean)        {statistics.fmean(len(e.explainer.split()) for e in explainers):.0f}")
    by_id = {p.id: p for p in papers}
    copied = [copied_share(e.explainer, by_id[e.paper_id].abstract) for e in explainers]
    print(f"  six-word phrases from the abstract {statistics.fmean(copied):.0%} mean, {max(copied):.0%} max")


if __name__ == "__main__":
    main()
