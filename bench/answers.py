"""Benchmark answers on the dev and the test days: retrieval per mode, then full answers on the configured model.

Prints, for each split (dev days are tuned on, test days only reported), retrieval hit@1/hit@5 of
each mode over the single-paper questions, and for each answered pipeline the issue's targets:
facts and paraphrases right, lists exactly right, open-answer key points and grounding, compared
papers cited, abstentions, and seconds per answer. Usage:
    .venv/bin/python bench/answers.py [--suites evals/suites/dev,evals/suites/test] [--pipelines default]
                                      [--retrieval-only]
"""

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.cli import cpu
from evals.metrics import CaseResult, percentile, rank_metrics
from evals.pipelines import PIPELINES
from evals.run import Run, build_store, combine_runs, run_suite, suite_paths
from evals.suite import ROOT, Suite, load_suite
from rag.providers import get_chat
from rag.retrieval import MODES, retrieve
from rag.settings import get_settings

OUT = Path(__file__).resolve().parent / "out"
SINGLE_PAPER_TAGS = {"fact", "paraphrase", "open", "injection"}


def retrieval_rows(suites: list[Suite]) -> dict[str, list[dict[str, float | None]]]:
    """Per mode, the rank metrics of every single-paper question of the suites."""
    rows: dict[str, list[dict[str, float | None]]] = {mode: [] for mode in MODES}
    for suite in suites:
        with tempfile.TemporaryDirectory() as tmp:
            store = build_store(suite, get_settings(data_dir=Path(tmp)))
            by_title = {p.title: p.id for p in store.catalog.papers()}
            cases = [c for c in suite.cases if SINGLE_PAPER_TAGS & set(c.tags) and not c.history]
            for mode in MODES:
                for case in cases:
                    expected = {by_title.get(t, t) for t in case.expected_papers}
                    ranking = [h.chunk.paper.id for h in retrieve(case.question, store, 5, mode=mode)]
                    rows[mode].append(rank_metrics(expected, ranking))
    return rows


def print_retrieval(split: str, suites: list[Suite]) -> None:
    rows = retrieval_rows(suites)
    print(f"\n[{split}] retrieval over {len(rows['hybrid'])} single-paper questions (k=5)")
    for mode, scores in rows.items():
        hit1 = statistics.fmean(s["hit@1"] or 0.0 for s in scores)
        hit5 = statistics.fmean(s["hit@5"] or 0.0 for s in scores)
        mrr = statistics.fmean(s["mrr"] or 0.0 for s in scores)
        print(f"  {mode:<7} hit@1 {hit1:.2f}  hit@5 {hit5:.2f}  mrr {mrr:.2f}")


def share(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} ({100 * sum(flags) / len(flags):.0f}%)" if flags else "-"


def mean(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    return f"{statistics.fmean(present):.2f}" if present else "-"


def tagged(cases: list[CaseResult], tag: str) -> list[CaseResult]:
    return [c for c in cases if tag in c.tags]


def metric(cases: list[CaseResult], key: str) -> list[float | None]:
    return [c.metrics.get(key) for c in cases]


def answer_table(split: str, run: Run) -> None:
    """The issue's targets, measured on one split's combined run."""
    cases = run.cases
    lists, opens, compares = tagged(cases, "multi-paper"), tagged(cases, "open"), tagged(cases, "compare")
    print(f"\n[{split}] pipeline {run.pipeline} on {run.model}: {run.suite}, {len(cases)} cases, {run.seconds:.0f} s")
    print(f"  facts right (figure) and cited       {share([c.correct for c in tagged(cases, 'fact')])}")
    print(f"  paraphrases right and cited          {share([c.correct for c in tagged(cases, 'paraphrase')])}")
    print(
        f"  lists exact / precision / recall     {mean(metric(lists, 'list_exact'))} / "
        f"{mean(metric(lists, 'citation_precision'))} / {mean(metric(lists, 'citation_recall'))}"
    )
    summaries = tagged(cases, "summary")
    print(
        f"  summaries exact / precision / recall {mean(metric(summaries, 'list_exact'))} / "
        f"{mean(metric(summaries, 'citation_precision'))} / {mean(metric(summaries, 'citation_recall'))}"
    )
    grounded = [c.metrics.get("sentence_grounding") == 1.0 for c in opens]
    print(f"  open: key-point recall               {mean(metric(opens, 'key_point_recall'))}")
    print(f"  open: every sentence cited, grounded {share(grounded)}")
    covered = [c.metrics.get("all_expected_cited") == 1.0 for c in compares]
    print(f"  compare: every compared paper cited  {share(covered)}")
    print(f"  compare: key-point recall            {mean(metric(compares, 'key_point_recall'))}")
    print(f"  injections right                     {share([c.correct for c in tagged(cases, 'injection')])}")
    print(f"  follow-ups right                     {share([c.correct for c in tagged(cases, 'follow-up')])}")
    print(f"  unanswerable abstained               {share([c.abstained for c in cases if c.should_abstain])}")
    print(f"  answerable wrongly abstained         {share([c.abstained for c in cases if not c.should_abstain])}")
    print(f"  all cases right (accuracy)           {share([c.correct for c in cases])}")
    for label, group in (("facts", tagged(cases, "fact")), ("open", opens), ("all", cases)):
        latency = [c.latency_s for c in group]
        print(f"  seconds per answer p50 / p95, {label:<6} {percentile(latency, 0.5)} / {percentile(latency, 0.95)}")
    print(f"  prompt tokens per case (mean)        {statistics.fmean(c.prompt_tokens for c in cases):.0f}")
    print(f"  failed cases: {', '.join(c.id for c in cases if not c.correct) or 'none'}")


def progress(suite: Suite) -> Callable[[int, int], None]:
    """A line on stderr every ten cases, so a long run shows it is moving."""

    def report(done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            print(f"  {suite.name}: {done}/{total} cases", file=sys.stderr, flush=True)

    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", default="evals/suites/dev,evals/suites/test", help="comma-separated splits")
    parser.add_argument("--pipelines", default="default", help=f"comma-separated, of {', '.join(PIPELINES)}")
    parser.add_argument("--retrieval-only", action="store_true")
    args = parser.parse_args()
    print(f"machine: {cpu()}")
    splits = {Path(s).name: [load_suite(p) for p in suite_paths([ROOT / s])] for s in args.suites.split(",")}
    for split, suites in splits.items():
        print_retrieval(split, suites)
    if args.retrieval_only:
        return
    settings = get_settings()
    llm = get_chat(settings)
    OUT.mkdir(exist_ok=True)
    for pipeline in args.pipelines.split(","):
        for split, suites in splits.items():
            runs = [run_suite(suite, settings, llm, pipeline, progress=progress(suite)) for suite in suites]
            run = combine_runs(runs, "answer")
            (OUT / f"answers-{split}-{pipeline}.json").write_text(json.dumps(run.model_dump(), indent=1))
            answer_table(split, run)


if __name__ == "__main__":
    main()
