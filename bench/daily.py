"""Benchmark `paperboy daily`: a cold run of a fixture day, step by step, then the second run (a no-op).

A real Daily Papers day of the archive (evals/corpora/hf-daily, cut to --papers papers) is served by
the stand-in API on 127.0.0.1 (tests/stand_in.py); the explainers and topic names come from the local
model (the machine's shared service, started if needed), or with --stub from an OpenAI-compatible
stub on 127.0.0.1 (tests/openai_stub.py) that answers at once. Prints each step's seconds from the
cold run's --json, then the wall time of `paperboy daily` run again (median of --repeat), with
`paperboy --help` for scale (target: the second run <= 3 s).
Usage:
    .venv/bin/python bench/daily.py [--papers 8] [--repeat 5] [--stub]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cli import cpu, run  # noqa: E402
from tests.conftest import SHARED_CACHE, topic_or_explainer  # noqa: E402
from tests.openai_stub import OpenAIStub  # noqa: E402
from tests.stand_in import StandIn, serving  # noqa: E402

DAY = "2025-06-17"
DAY_FILE = ROOT / "evals" / "corpora" / "hf-daily" / f"{DAY}.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=8, help="Papers of the day to serve")
    parser.add_argument("--repeat", type=int, default=5, help="Second runs to time (median)")
    parser.add_argument("--stub", action="store_true", help="Explainers from a stub on loopback, not the local model")
    args = parser.parse_args()
    items = json.loads(DAY_FILE.read_text())[: args.papers]
    stub = None
    with (
        tempfile.TemporaryDirectory(prefix="paperboy-bench-daily-") as tmp,
        serving(StandIn(hf_days={DAY: json.dumps(items).encode()})) as stand_in,
    ):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPERBOY_", "CHROMA_"))},
            "PAPERBOY_DATA_DIR": str(Path(tmp) / "data"),
            "PAPERBOY_CACHE_DIR": str(SHARED_CACHE),
            "PAPERBOY_HF_API_URL": stand_in.hf_url,
        }
        if args.stub:
            stub = OpenAIStub().start()
            stub.answer = lambda body: topic_or_explainer(
                [SimpleNamespace(content=m["content"]) for m in body["messages"]]
            )  # type: ignore[misc]
            env.update(OPENAI_API_KEY="sk-stub", OPENAI_BASE_URL=stub.base_url, PAPERBOY_CHAT_MODEL="stub")
        print(f"machine: {cpu()}")
        source = "a stub on loopback" if args.stub else "the local model"
        print(f"day: {DAY}, {len(items)} papers; explainers from {source}")
        cold, out = run(env, "daily", "--date", DAY, "--json")
        report = json.loads(out)
        print(f"cold run: {cold:.1f} s wall, exit {report['exit_code']}")
        for step in report["steps"]:
            print(f"  {step['step']:<8} {step['status']:<8} {step['seconds']:7.2f} s  {step['detail']}")
        again = []
        for _ in range(args.repeat):
            wall, out = run(env, "daily", "--date", DAY, "--json")
            statuses = {s["status"] for s in json.loads(out)["steps"]}
            if statuses != {"skipped"}:
                sys.exit(f"the second run was not a no-op: {statuses}")
            again.append(wall)
        helps = [run(env, "--help")[0] for _ in range(args.repeat)]
        second, help_s = statistics.median(again), statistics.median(helps)
        print(
            f"second run (no-op), median of {args.repeat}: {second:.2f} s (min {min(again):.2f}, max {max(again):.2f})"
        )
        print(f"paperboy --help, median: {help_s:.2f} s; second run / --help = {second / help_s:.2f}x")
        print(f"target: second run <= 3 s: {'met' if second <= 3 else 'missed'}")
    if stub:
        stub.stop()


if __name__ == "__main__":
    main()
