"""Benchmark the local model's throughput: parallel slots, and drafting from the prompt (prompt lookup).

Generation is memory-bound, so a batch of sequences, or a batch of drafted tokens checked at once,
may cost little more than one token; prompt processing is compute-bound and does not gain. For each
slot count, with prompt lookup off and on, this starts a llama.cpp server with that many slots sharing
one window (kv_unified), sends the explainer prompt of every sample-day paper with as many requests
in flight, and prints papers/s, the ratio to the first row (by default one slot without lookup: the
service before either), the share of drafted tokens kept, and the seconds of one lone question on
that server (a person's answer must not get slower). Usage:
    .venv/bin/python bench/slots.py [--papers 45] [--slots 1,2,4] [--lookup off,on]
"""

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.cli import SAMPLE, cpu
from rag.explain import MAX_REPLY_TOKENS, explain_prompt
from rag.local_model import model_file, model_name_for, server_params, wait_until_ready
from rag.models import Paper
from rag.settings import get_settings
from rag.sources import ReadOptions, read_papers

QUESTION = (
    'Sources:\n<source id="1">\nTutel: Flex delivers 5.75x speedup of a single MoE layer over 2,048 '
    "A100 GPUs.\n</source>\n\nQuestion: What speedup does Flex deliver for a single MoE layer?"
)


def messages(title: str, abstract: str) -> list[dict[str, str]]:
    """The explainer prompt of one paper, as the pipeline sends it."""
    prompt = explain_prompt()
    return [
        {"role": "system", "content": prompt.system},
        {"role": "user", "content": prompt.user.format(title=title, abstract=abstract)},
    ]


class Completed(NamedTuple):
    """What one chat completion cost: tokens written, tokens drafted from the prompt, drafts kept."""

    tokens: int
    drafted: int
    kept: int


def complete(client: httpx2.Client, url: str, model: str, body: list[dict[str, str]], max_tokens: int) -> Completed:
    """One chat completion, greedy as the pipeline's."""
    reply = client.post(
        f"{url}/chat/completions",
        json={"model": model, "messages": body, "max_tokens": max_tokens, "temperature": 0},
        timeout=600,
    )
    reply.raise_for_status()
    timings = reply.json().get("timings", {})
    drafted, kept = timings.get("draft_n", 0), timings.get("draft_n_accepted", 0)
    return Completed(int(reply.json()["usage"]["completion_tokens"]), drafted, kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=45)
    parser.add_argument("--slots", default="1,2,4")
    parser.add_argument("--lookup", default="off,on", help="prompt lookup (self-speculative drafts) off, on or both")
    args = parser.parse_args()
    import xllamacpp

    settings = get_settings()
    papers = read_papers(SAMPLE, options=ReadOptions(year=2025))[: args.papers]
    model = model_file(settings)
    print(f"Machine: {cpu()}; {len(papers)} explainer prompts, up to {MAX_REPLY_TOKENS} tokens each")
    base = None
    runs = [(int(slots), lookup == "on") for lookup in args.lookup.split(",") for slots in args.slots.split(",")]
    for slots, lookup in runs:
        params = server_params(model, settings)
        params.n_parallel = slots
        params.kv_unified = True  # the slots share the one window instead of splitting it
        if not lookup:
            params.speculative.types = [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_NONE]
        server = xllamacpp.Server(params)
        url = f"{server.listening_address}/v1"
        wait_until_ready(server.listening_address, 120)
        with httpx2.Client(trust_env=False) as client:
            name = model_name_for(model)
            lone = []
            for _ in range(3):
                started = time.perf_counter()
                complete(client, url, name, [{"role": "user", "content": QUESTION}], 60)
                lone.append(time.perf_counter() - started)

            def explain(paper: Paper, url: str = url, name: str = name) -> Completed:
                return complete(client, url, name, messages(paper.title, paper.abstract), MAX_REPLY_TOKENS)

            started = time.perf_counter()
            with ThreadPoolExecutor(slots) as pool:
                done = list(pool.map(explain, papers))
            seconds = time.perf_counter() - started
        del server
        rate = len(papers) / seconds
        base = base or rate
        drafted = sum(c.drafted for c in done)
        kept = f"{sum(c.kept for c in done) / drafted:.0%} of {drafted} drafted tokens kept" if drafted else "no drafts"
        print(
            f"{slots} slot(s), lookup {'on' if lookup else 'off'}: {seconds:.0f} s, {rate:.3f} papers/s "
            f"({rate / base:.2f}x the first row), {sum(c.tokens for c in done) / seconds:.1f} generated tok/s, "
            f"{kept}; a lone question {statistics.median(lone):.2f} s"
        )


if __name__ == "__main__":
    main()
