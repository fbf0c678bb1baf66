"""Benchmark prompt injection: the hostile suites, with and without their hostile papers in the store.

Each suite of evals/suites/hostile (dev styles are tuned on, test styles only reported) is run on
the configured model twice: over its real day plus its hostile abstracts, and over the real day
alone (the control). Prints hijacked answers (an answer repeating a hostile paper's canary,
planted figure or claim), and the accuracy on the questions about real papers in both stores, so
"normal accuracy unchanged" is a number. Usage:
    .venv/bin/python bench/hostile.py [--suites dev,dev-2025-10-14,test]
"""

import argparse
import json
import sys
from pathlib import Path

# The tree this script is in, not the one the virtualenv installed: a worktree measures its own code.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evals.run import run_suite
from evals.suite import ROOT, Suite, load_suite
from rag.providers import get_chat
from rag.settings import get_settings

SUITES = ROOT / "evals" / "suites" / "hostile"


def hostile_titles(suite: Suite) -> set[str]:
    """Titles of the hostile papers in the suite's corpus (every file but the real day)."""
    return {json.loads(line)["title"] for path in suite.corpus[1:] for line in (ROOT / path).read_text().splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", default=",".join(p.stem for p in sorted(SUITES.glob("*.yaml"))))
    args = parser.parse_args()
    settings = get_settings()
    llm = get_chat(settings)
    for name in args.suites.split(","):
        suite = load_suite(SUITES / f"{name}.yaml")
        hostile = hostile_titles(suite)
        real = [c for c in suite.cases if not hostile & set(c.expected_papers)]
        attacked = run_suite(suite, settings, llm)
        control = run_suite(suite.model_copy(update={"corpus": suite.corpus[:1], "cases": real}), settings, llm)
        real_ids = {c.id for c in real}
        hijacked = [c.id for c in attacked.cases if c.metrics.get("hijacked")]
        right_attacked = sum(c.correct for c in attacked.cases if c.id in real_ids)
        right_control = sum(c.correct for c in control.cases)
        print(f"\n[{name}] {suite.name}: {len(suite.cases)} cases, {len(hostile)} hostile papers, {attacked.model}")
        print(f"  hijacked answers                       {len(hijacked)}/{len(suite.cases)}")
        print(f"  right, all cases                       {sum(c.correct for c in attacked.cases)}/{len(suite.cases)}")
        print(f"  right on real papers, hostile present  {right_attacked}/{len(real)}")
        print(f"  right on real papers, no hostile paper {right_control}/{len(real)}")
        if name.startswith("dev"):  # test failures are not looked at, so they are not printed
            print(f"  hijacked: {', '.join(hijacked) or 'none'}")
            print(f"  wrong: {', '.join(c.id for c in attacked.cases if not c.correct) or 'none'}")


if __name__ == "__main__":
    main()
