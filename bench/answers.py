"""Benchmark answers on the sample day: retrieval per mode, then full answers on the configured model.

Prints retrieval hit@1/hit@5 for hybrid, dense and BM25, and for each answered pipeline: the share
of answers with the right figure and citation, abstention on unanswerable questions, wrong
abstentions, p50/p95 seconds per answer and time to first token. Usage:
    .venv/bin/python bench/answers.py [--pipelines default,dense,bm25] [--retrieval-only]
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

from evals.metrics import percentile, rank_metrics
from evals.run import PIPELINES, Run, build_store, run_suite
from evals.suite import ROOT, load_suite
from rag.providers import get_chat
from rag.retrieval import retrieve
from rag.settings import get_settings

OUT = Path(__file__).resolve().parent / "out"


def retrieval_table(suite_path: Path) -> None:
    """hit@1 and hit@5 of every retrieval mode over the cases that expect papers."""
    suite = load_suite(suite_path)
    with tempfile.TemporaryDirectory() as tmp:
        store = build_store(suite, get_settings(data_dir=Path(tmp)))
        by_title = {p.title: p.id for p in store.catalog.papers()}
        cases = [c for c in suite.cases if c.expected_papers and not c.history]
        print(f"\nretrieval over {len(cases)} questions that expect papers (k=5)")
        for mode in ("hybrid", "dense", "bm25"):
            scores = [
                rank_metrics(
                    {by_title[t] for t in c.expected_papers},
                    [h.chunk.paper.id for h in retrieve(c.question, store, 5, mode=mode)],
                )
                for c in cases
            ]
            hit1 = statistics.fmean(s["hit@1"] for s in scores)
            hit5 = statistics.fmean(s["hit@5"] for s in scores)
            mrr = statistics.fmean(s["mrr"] for s in scores)
            print(f"  {mode:<7} hit@1 {hit1:.2f}  hit@5 {hit5:.2f}  mrr {mrr:.2f}")


def share(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} ({100 * sum(flags) / len(flags):.0f}%)" if flags else "-"


def answer_table(run: Run) -> None:
    """The issue's targets, measured on one run."""
    cases = run.cases
    facts = [c for c in cases if "fact" in c.tags]
    paraphrases = [c for c in cases if "paraphrase" in c.tags]
    multi = [c for c in cases if "multi-paper" in c.tags]
    unanswerable = [c for c in cases if c.should_abstain]
    answerable = [c for c in cases if not c.should_abstain]
    ttft = [c.first_token_s for c in cases if c.first_token_s is not None]
    print(f"\npipeline {run.pipeline} on {run.model}, {len(cases)} cases, {run.seconds:.0f} s")
    print(f"  facts right (figure + citation)  {share([c.correct for c in facts])}")
    print(f"  paraphrases right                {share([c.correct for c in paraphrases])}")
    recall = [c.metrics["citation_recall"] or 0.0 for c in multi]
    precision = [c.metrics["citation_precision"] or 0.0 for c in multi]
    print(f"  multi-paper citation recall      {statistics.fmean(recall):.2f}")
    print(f"  multi-paper citation precision   {statistics.fmean(precision):.2f}")
    print(f"  unanswerable abstained           {share([c.abstained for c in unanswerable])}")
    print(f"  answerable wrongly abstained     {share([c.abstained for c in answerable])}")
    print(f"  all cases right (accuracy)       {share([c.correct for c in cases])}")
    latency = [c.latency_s for c in cases]
    print(f"  seconds per answer p50 / p95     {percentile(latency, 0.5)} / {percentile(latency, 0.95)}")
    print(f"  time to first token p50 / p95    {percentile(ttft, 0.5)} / {percentile(ttft, 0.95)}")
    print(f"  prompt tokens per case (mean)    {statistics.fmean(c.prompt_tokens for c in cases):.0f}")
    failed = [c.id for c in cases if not c.correct]
    print(f"  failed cases: {', '.join(failed) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "evals" / "suites" / "dev" / "sample-day.yaml")
    parser.add_argument("--pipelines", default="default", help=f"comma-separated, of {', '.join(PIPELINES)}")
    parser.add_argument("--retrieval-only", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    retrieval_table(args.suite)
    if args.retrieval_only:
        return
    settings = get_settings()
    llm = get_chat(settings)
    OUT.mkdir(exist_ok=True)
    for pipeline in args.pipelines.split(","):
        run = run_suite(load_suite(args.suite), settings, llm, pipeline)
        (OUT / f"answers-{pipeline}.json").write_text(json.dumps(run.model_dump(), indent=1))
        answer_table(run)


if __name__ == "__main__":
    main()
