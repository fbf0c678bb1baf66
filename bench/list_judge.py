"""Benchmark the "which papers" judge: how sure must it be, for which papers, to list one?

Every list and summary question of the suites (no follow-ups) is retrieved as `paperboy ask` does,
and every retrieved paper is judged once through the pipeline's own yes/no call (ModelCalls.judge),
so each decision rule below is scored on the same verdicts: exactly right (every expected paper and
no other), precision and recall. The rule is "a candidate near the best (the gate) lists on
P(yes) >= A; any other retrieved paper on P(yes) >= B"; the old rule is the gate and a written yes.
With several days, each day is also scored with the pair chosen on the other days (leave one day
out), so the figure is not the one the pair was chosen on. --sentences and --candidates change what
the judge reads of each paper and how many retrieved papers it judges. Tune on dev days only. Usage:
    .venv/bin/python bench/list_judge.py [evals/suites/dev] [--sentences N] [--candidates K]
"""

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

# The tree this script is in, not the one the virtualenv installed: a worktree measures its own code.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evals.run import build_store, suite_paths
from evals.suite import load_suite
from rag.answer import (
    LIST_CANDIDATE_YES,
    LIST_OTHER_YES,
    LIST_SENTENCES,
    RELEVANCE_PROMPT_VERSION,
    Asker,
    list_candidates,
    name_the_asked,
    relevance_variables,
)
from rag.chains import ModelCalls
from rag.prompts import Prompt, load_prompt
from rag.providers import get_chat
from rag.question import question_kind
from rag.retrieval import retrieve
from rag.settings import get_settings

CANDIDATE_BARS = (0.5, 0.6, 0.7, 0.8, 0.9)
OTHER_BARS = (0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99, 1.01)  # 1.01: only candidates are ever listed


class Judged(NamedTuple):
    """One retrieved paper of one question, as the judge saw it."""

    day: str
    case: str
    title: str
    rank: int  # 1 = retrieved first
    candidate: bool
    named: bool  # names a name the question asks about (name_the_asked)
    yes: float
    expected: bool
    n_expected: int


Rule = Callable[[Judged], bool]


def judge_suite(path: Path, calls: ModelCalls, sentences: int, candidates: int | None, prompt: Prompt) -> list[Judged]:
    """Every retrieved paper of every list and summary question of one suite, judged once."""
    suite, rows = load_suite(path), []
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(data_dir=Path(tmp))
        store = build_store(suite, settings)
        asker = Asker(store, calls, settings)
        for case in suite.cases:
            kind = question_kind(case.question)
            if case.history or kind not in ("list", "summary"):
                continue
            hits = retrieve(case.question, store, candidates or settings.list_candidates)
            near = {h.chunk.paper.id for h in list_candidates(case.question, hits)}
            named = {h.chunk.paper.id for h, n in zip(hits, name_the_asked(case.question, hits), strict=True) if n}
            sources, check = asker.relevance_check(case.question, kind, hits, sentences)
            for rank, source in enumerate(sources, 1):
                verdict = calls.judge(prompt, relevance_variables(source, check))
                expected = bool({source.paper.title, source.paper.id} & set(case.expected_papers))
                candidate = source.paper.id in near
                rows.append(
                    Judged(
                        suite.name,
                        case.id,
                        source.paper.title,
                        rank,
                        candidate,
                        source.paper.id in named,
                        verdict.yes,
                        expected,
                        len(case.expected_papers),
                    )
                )
    return rows


def score(rows: list[Judged], rule: Rule) -> tuple[int, int, float, float]:
    """(questions exactly right, questions, mean precision, mean recall) of a rule."""
    questions: dict[tuple[str, str], list[Judged]] = {}
    for row in rows:
        questions.setdefault((row.day, row.case), []).append(row)
    exact, precision, recall = 0, [], []
    for judged in questions.values():
        listed = [r for r in judged if rule(r)]
        right, expected = sum(r.expected for r in listed), judged[0].n_expected
        exact += right == expected == len(listed)
        if listed:
            precision.append(right / len(listed))
        if expected:
            recall.append(right / expected)
    return exact, len(questions), statistics.fmean(precision or [0]), statistics.fmean(recall or [0])


def bars(candidate: float, other: float) -> Rule:
    return lambda r: r.yes >= (candidate if r.candidate else other)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", type=Path, default=[Path("evals/suites/dev")])
    parser.add_argument("--sentences", type=int, default=LIST_SENTENCES, help="sentences the list judge reads")
    parser.add_argument("--candidates", type=int, help="retrieved papers judged (default: the setting)")
    parser.add_argument("--prompt-version", type=int, default=RELEVANCE_PROMPT_VERSION, help="prompts/relevance.vN.md")
    parser.add_argument("--misses", action="store_true", help="print each paper the shipped rule gets wrong")
    parser.add_argument("--save", type=Path, help="write every judged paper as JSON lines, to score other rules")
    args = parser.parse_args()
    settings = get_settings()
    calls = ModelCalls(get_chat(settings), settings.cache_dir)
    prompt = load_prompt("relevance", args.prompt_version)
    rows = [
        row
        for path in suite_paths(args.suites)
        for row in judge_suite(path, calls, args.sentences, args.candidates, prompt)
    ]

    if args.save:
        args.save.write_text("".join(json.dumps(row._asdict()) + "\n" for row in rows))

    def show(label: str, rule: Rule) -> None:
        exact, n, precision, recall = score(rows, rule)
        print(
            f"  {label:<44} exactly right {exact}/{n} ({exact / n:.2f})  precision {precision:.2f}  recall {recall:.2f}"
        )

    print(f"{len(rows)} judged papers, {calls.model}, list judge reads {args.sentences} sentences a paper")
    show("every expected paper retrieved (the ceiling)", lambda r: r.expected)
    show("the gate and a written yes (the old rule)", lambda r: r.candidate and r.yes > 0.5)
    shipped = bars(LIST_CANDIDATE_YES, LIST_OTHER_YES)
    show(f"shipped: {LIST_CANDIDATE_YES} / {LIST_OTHER_YES}", shipped)
    for bar in (0.1, 0.2, 0.3, 0.5):
        show(
            f"shipped, or names the asked name and P(yes) >= {bar}",
            lambda r, b=bar: shipped(r) or (r.named and r.yes >= b),
        )
    if args.misses:
        for r in rows:
            if shipped(r) != r.expected:
                what = "missed" if r.expected else "extra "
                print(
                    f"    {what} {r.day}/{r.case} #{r.rank} candidate={r.candidate} P(yes)={r.yes:.2f} {r.title[:70]}"
                )
    grid = [(a, b) for a in CANDIDATE_BARS for b in OTHER_BARS]
    for a, b in sorted(grid, key=lambda g: -score(rows, bars(*g))[0])[:5]:
        show(f"candidate >= {a}, other >= {b}", bars(a, b))
    days = sorted({r.day for r in rows})
    if len(days) > 1:
        held_out = []
        for day in days:
            tuning = [r for r in rows if r.day != day]
            a, b = max(grid, key=lambda g: score(tuning, bars(*g))[0])
            exact, n, _, _ = score([r for r in rows if r.day == day], bars(a, b))
            held_out.append((exact, n))
            print(f"  {day:<24} pair chosen on the other days {a} / {b}: {exact}/{n} exactly right")
        print(f"  leave one day out: {sum(e for e, _ in held_out)}/{sum(n for _, n in held_out)} exactly right")


if __name__ == "__main__":
    main()
