"""Benchmark Paperboy at archive scale: the real archive (~10k papers) and a synthetic ~100k.

    corpus   Write the synthetic corpus: each day of the archive with its papers repeated --copies times,
             copy k under a new id (the arXiv id + "r<k>") and a lightly changed title (+ " (v<k+1>)"), as
             hf-json day files, so an arXiv category's ~170 papers a day over the archive's 557 days.
    fill     Ingest day files into a data dir through rag.ingest as `paperboy ingest` does, except that
             each chunk's vector is its original's, taken from a store of the real archive (embedding
             100k chunks on 2 shared cores would take hours): everything but the embedding is measured
             for real, and the ingest time at this machine's embedding limit (measured in the same run)
             is that limit's share plus the measured rest. Then the same files again: a no-op re-ingest.
    measure  Search, ask and memory over a data dir (embedded, or on a `chroma run` server with
             --chroma-path): hybrid search p50 in process, `paperboy search` cold, the day filter's
             candidate ways, the test days' fact questions across all days against within their day
             (retrieval only), `paperboy ask` p50 with and without --date (model warm), and the app's
             RSS after its first answer.
Usage:
    .venv/bin/python bench/scale.py corpus --out DIR [--copies 10]
    .venv/bin/python bench/scale.py fill --corpus DIR --source DATA_DIR --data-dir DIR [--chroma-path DIR]
    .venv/bin/python bench/scale.py measure --data-dir DIR [--chroma-path DIR] [--asks 8]
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
from langchain_core.embeddings import Embeddings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, tests/ as packages
from bench.cli import cpu, run
from bench.ingest import ARCHIVE, embedding_limit
from evals.metrics import percentile
from evals.run import suite_paths
from evals.suite import load_suite
from rag import providers
from rag.embeddings import MiniLMEmbeddings
from rag.ingest import ingest_files
from rag.providers import MINILM_ID, EmbeddingProvider
from rag.resident import stop_resident
from rag.retrieval import retrieve
from rag.settings import Settings
from rag.store import Store, open_store, store_stats

ROOT = Path(__file__).resolve().parent.parent
CHROMA = str(Path(sys.executable).with_name("chroma"))


def write_corpus(archive: Path, out: Path, copies: int) -> None:
    """Each archive day with its items repeated: copy 0 as it is, copy k under a new id and title."""
    out.mkdir(parents=True, exist_ok=True)
    for day in sorted(archive.glob("*.json")):
        items = json.loads(day.read_text())
        repeated = []
        for k in range(copies):
            for item in items:
                copy = json.loads(json.dumps(item))
                if k:
                    paper = copy["paper"]
                    paper["id"] = f"{paper['id']}r{k}"
                    for holder in (paper, copy):
                        if "title" in holder:
                            holder["title"] = f"{holder['title']} (v{k + 1})"
                repeated.append(copy)
        (out / day.name).write_text(json.dumps(repeated))


class ReusedVectors(Embeddings):
    """The real archive's vectors, looked up by a chunk's text after its title: a replica's chunk is its
    original's abstract under a changed title, so it gets the original's vector. Anything not found (a
    paper split into several chunks) is embedded for real, and counted."""

    def __init__(self, by_abstract: dict[str, list[float]]) -> None:
        self.by_abstract = by_abstract
        self.model = MiniLMEmbeddings()
        self.embedded_for_real = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in texts if t.split("\n\n", 1)[-1] not in self.by_abstract]
        fresh = dict(zip(missing, self.model.embed_documents(missing), strict=True)) if missing else {}
        self.embedded_for_real += len(missing)
        return [fresh[t] if t in fresh else self.by_abstract[t.split("\n\n", 1)[-1]] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def archive_vectors(source: Path) -> dict[str, list[float]]:
    """Abstract -> its paper's vector, from a store of the real archive (bench/ingest.py --data-dir)."""
    store = open_store(Settings(data_dir=source, chroma_host=None))
    vectors = store.index.paper_vectors(store.catalog.chunk_ids())
    return {p.abstract.strip(): vectors[p.id] for p in store.catalog.papers() if p.id in vectors}


def fill(corpus: Path, source: Path, settings: Settings, sample: int) -> None:
    files = sorted(corpus.glob("*.json"))
    reused = ReusedVectors(archive_vectors(source))
    limit_wall, limit_cpu = embedding_limit(files[:40], sample, settings)
    print(f"embedding limit: {limit_wall:.2f} chunks/s wall, {limit_cpu:.2f} chunks per CPU second", flush=True)
    providers.EMBED["local"] = EmbeddingProvider(lambda _: MINILM_ID, lambda _: reused)
    store = open_store(settings)
    wall, cpu_s = time.perf_counter(), time.process_time()
    report = ingest_files(files, store, "hf-json")
    wall, cpu_s = time.perf_counter() - wall, time.process_time() - cpu_s
    if report.failed_files:
        sys.exit("\n".join(report.failed_files))
    papers, chunks = report.new + report.updated + report.unchanged, report.chunks
    print(
        f"ingest with reused vectors: {papers} papers, {chunks} chunks ({reused.embedded_for_real} embedded for "
        f"real) in {wall:.1f} s wall, {cpu_s:.1f} s CPU: everything but embedding"
    )
    for label, limit, rest in (("wall", limit_wall, wall), ("CPU", limit_cpu, cpu_s)):
        embedding = chunks / limit
        print(
            f"  at the embedding limit ({label}): {embedding + rest:.0f} s = {embedding:.0f} s embedding + "
            f"{rest:.0f} s the rest; {papers / (embedding + rest):.2f} papers/s, ratio to the limit "
            f"{embedding / (embedding + rest):.2f}"
        )
    seconds, out = run(env_for(settings), "ingest", *map(str, files), "--format", "hf-json", "--json")
    done = json.loads(out)
    print(
        f"re-ingest of the unchanged corpus: {seconds:.1f} s ({done['unchanged']} unchanged, {done['chunks']} chunks)"
    )


SUITES = ROOT / "evals" / "suites"
SINGLE_PAPER_TAGS = {"fact", "paraphrase", "open"}


def questions(split: str, tags: set[str]) -> list[tuple[str, date, str]]:
    """(question, its suite's day, the expected paper's title) of every case with these tags, no follow-ups."""
    found = []
    for path in suite_paths([SUITES / split]):
        suite = load_suite(path)
        for case in suite.cases:
            if tags & set(case.tags) and not case.history and case.expected_papers and suite.date:
                found.append((case.question, suite.date, case.expected_papers[0]))
    return found


def ms(seconds: list[float]) -> str:
    return f"p50 {1000 * percentile(seconds, 0.5):.0f} ms, p95 {1000 * percentile(seconds, 0.95):.0f} ms"


def search_in_process(store: Store, asked: list[tuple[str, date, str]]) -> None:
    """Hybrid retrieval with the store open, as the app does it: every day, then each question's day.
    CPU time beside wall time, as the cores are shared (the query's embedding runs on 2 threads)."""
    retrieve("warm up the ONNX session and the index", store, 5)
    for label, by_day in (("all days", False), ("its day", True)):
        walls, cpus = [], []
        for question, day, _ in asked:
            wall, cpu_s = time.perf_counter(), time.process_time()
            retrieve(question, store, 5, day if by_day else None)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu_s)
        print(f"hybrid search in process, {label:<8} ({len(asked)} questions): {ms(walls)}; CPU {ms(cpus)}", flush=True)


def search_cold(settings: Settings, asked: list[tuple[str, date, str]], repeat: int) -> None:
    """`paperboy search` as a fresh process, as a user types it, with no resident paperboy to run it."""
    stop_resident(settings)
    for label, extra in (("all days", []), ("its day", ["--date", asked[0][1].isoformat()])):
        walls = [run(env_for(settings), "search", asked[i % len(asked)][0], *extra)[0] for i in range(repeat)]
        print(f"paperboy search cold, {label:<8}: median {statistics.median(walls):.2f} s (min {min(walls):.2f})")


def day_filter_ways(store: Store, asked: list[tuple[str, date, str]], k: int = 20) -> None:
    """The dense side of a day's search, four ways: time each, and check each against the exact ranking."""
    timings: dict[str, list[float]] = {}
    wrong: dict[str, int] = {}
    for question, day, _ in asked:
        vector = store.embedder.query(question)
        paper_ids = store.catalog.paper_ids(day)
        chunk_ids = sorted(store.catalog.chunk_ids(paper_ids))
        ways = _dense_ways(store.index._collection, vector, paper_ids, chunk_ids, k)  # the index's own choices
        exact = ways["the day's vectors, ranked in numpy"]()
        for name, way in ways.items():
            started = time.perf_counter()
            found = way()
            timings.setdefault(name, []).append(time.perf_counter() - started)
            wrong[name] = wrong.get(name, 0) + (found != exact)
    for name, seconds in timings.items():
        print(f"  dense, one day: {name:<38} {ms(seconds)}; rankings unlike the exact one: {wrong[name]}/{len(asked)}")


def _dense_ways(
    collection: Any, vector: list[float], paper_ids: list[str], chunk_ids: list[str], k: int
) -> dict[str, Callable[[], list[str]]]:
    def where() -> list[str]:
        found = collection.query(
            query_embeddings=[vector], n_results=k, where={"paper_id": {"$in": paper_ids}}, include=["distances"]
        )
        return list(found["ids"][0])

    def ids() -> list[str]:
        found = collection.query(query_embeddings=[vector], n_results=k, ids=chunk_ids, include=["distances"])
        return list(found["ids"][0])

    def post_filter() -> list[str]:
        found = collection.query(query_embeddings=[vector], n_results=1000, include=["distances"])
        allowed = set(chunk_ids)
        return [cid for cid in found["ids"][0] if cid in allowed][:k]

    def exact() -> list[str]:
        got = collection.get(ids=chunk_ids, include=["embeddings"])
        scores = np.asarray(got["embeddings"]) @ np.asarray(vector)
        return [got["ids"][i] for i in np.argsort(-scores, kind="stable")[:k]]

    return {
        "where paper_id $in the day's papers": where,
        "ids = the day's chunk ids": ids,
        "nearest 1,000, then filtered": post_filter,
        "the day's vectors, ranked in numpy": exact,
    }


def facts_across_days(store: Store) -> None:
    """The test days' fact questions (retrieval only): right paper in the top 5 within its day and across all."""
    asked = questions("test", {"fact"})
    by_title = {p.title: p.id for p in store.catalog.papers()}
    hits = {"its day": 0, "all days": 0}
    for question, day, title in asked:
        expected = by_title[title]
        hits["its day"] += expected in [h.chunk.paper.id for h in retrieve(question, store, 5, day)]
        hits["all days"] += expected in [h.chunk.paper.id for h in retrieve(question, store, 5)]
    day, every = hits["its day"] / len(asked), hits["all days"] / len(asked)
    print(
        f"test days' fact questions, right paper in the top 5: within its day {day:.2f}, across all days {every:.2f} "
        f"({every / day:.2f} of the single-day figure; {len(asked)} questions)"
    )


def ask_latency(settings: Settings, count: int) -> None:
    """`paperboy ask --json` on the test days' first fact questions, with --date and across all days,
    the model service already running: p50 wall of each, of the answer's own retrieval, and how many
    abstained (an abstention is quick, so a p50 moves with them)."""
    asked = questions("test", {"fact"})[:count]
    run(env_for(settings), "model", "start")
    for label, by_day in (("with --date", True), ("all days", False)):
        walls, retrieval, abstained = [], [], 0
        for question, day, _ in asked:
            seconds, out = run(
                env_for(settings), "ask", question, "--json", *(["--date", day.isoformat()] if by_day else [])
            )
            answer = json.loads(out)
            walls.append(seconds)
            retrieval.append(answer["timings"]["retrieve_ms"] / 1000)
            abstained += answer["abstained"]
        print(
            f"paperboy ask, model warm, {label:<11} ({len(asked)} questions): "
            f"wall p50 {statistics.median(walls):.2f} s, its retrieval p50 {statistics.median(retrieval):.2f} s, "
            f"{abstained} abstained",
            flush=True,
        )


def app_rss(settings: Settings) -> None:
    """The app's resident memory after its first answer across all days (the model runs in its own process)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_FLAGS, start_app

    question = questions("test", {"fact"})[0][0]
    log = Path(tempfile.gettempdir()) / "paperboy-bench-scale-ui.log"
    app, url = start_app(log, env_for(settings), timeout_s=300)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.goto(f"{url}/ask")
            page.get_by_test_id("stSelectbox").click()
            page.keyboard.type("All days")
            page.keyboard.press("Enter")
            started_mb = rss_mb(app.pid)
            box = page.get_by_test_id("stChatInputTextArea")
            box.fill(question)
            box.press("Enter")
            answer = page.get_by_test_id("stChatMessage").nth(1)
            answer.get_by_text(re.compile(r"· [\d.]+ s$")).wait_for(timeout=600_000)  # drawn when it is done
            browser.close()
        after_mb = rss_mb(app.pid)
        print(f"the app's RSS: {started_mb:.0f} MB with the Ask page open, {after_mb:.0f} MB after its first answer")
    finally:
        app.terminate()
        app.wait(timeout=30)


def env_for(settings: Settings) -> dict[str, str]:
    """The environment a paperboy command needs to open this store (and nothing of the host's)."""
    env = {k: v for k, v in os.environ.items() if k not in {"CHROMA_HOST", "CHROMA_PORT", "OPENAI_API_KEY"}}
    env["PAPERBOY_DATA_DIR"] = str(settings.data_dir)
    if settings.chroma_host:
        env |= {"CHROMA_HOST": settings.chroma_host, "CHROMA_PORT": str(settings.chroma_port)}
    return env


@contextmanager
def chroma_server(path: Path | None) -> Iterator[tuple[str, int] | None]:
    """`chroma run` on a free loopback port over path (None: no server, the embedded store)."""
    if path is None:
        yield None
        return
    from tests.openai_stub import free_port

    port = free_port()
    log = (Path(tempfile.gettempdir()) / "paperboy-bench-chroma.log").open("w")
    server = subprocess.Popen([CHROMA, "run", "--path", str(path), "--port", str(port)], stdout=log, stderr=log)
    try:
        for _ in range(600):
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        print(f"chroma server RSS at the end: {rss_mb(server.pid):.0f} MB")
        server.terminate()
        server.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")) / 1024


def settings_for(args: argparse.Namespace, server: tuple[str, int] | None) -> Settings:
    host, port = server or (None, 8000)
    return Settings(data_dir=args.data_dir, chroma_host=host, chroma_port=port)


def measure(settings: Settings, args: argparse.Namespace) -> None:
    store = open_store(settings)
    stats = store_stats(settings)
    print(f"store: {stats['papers']} papers, {stats['chunks']} chunks, {stats['store']}")
    asked = [a for split in ("dev", "test") for a in questions(split, SINGLE_PAPER_TAGS)]
    search_in_process(store, asked)
    day_filter_ways(store, asked)
    facts_across_days(store)
    search_cold(settings, asked, args.repeat)
    if args.asks:
        ask_latency(settings, args.asks)
    if not args.no_app:
        app_rss(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    corpus = commands.add_parser("corpus")
    corpus.add_argument("--archive", type=Path, default=ARCHIVE)
    corpus.add_argument("--out", type=Path, required=True)
    corpus.add_argument("--copies", type=int, default=10)
    filling = commands.add_parser("fill")
    filling.add_argument("--corpus", type=Path, required=True)
    filling.add_argument("--source", type=Path, required=True, help="data dir of the real archive's store")
    filling.add_argument("--data-dir", type=Path, required=True)
    filling.add_argument("--chroma-path", type=Path, help="fill a `chroma run` server over this folder")
    filling.add_argument("--sample", type=int, default=256, help="papers embedded to measure the limit")
    measuring = commands.add_parser("measure")
    measuring.add_argument("--data-dir", type=Path, required=True)
    measuring.add_argument("--chroma-path", type=Path, help="the store is on a `chroma run` server over this folder")
    measuring.add_argument("--repeat", type=int, default=5, help="cold `paperboy search` runs")
    measuring.add_argument("--asks", type=int, default=8, help="questions asked with and without --date (0: none)")
    measuring.add_argument("--no-app", action="store_true", help="skip the app's RSS (needs chromium)")
    args = parser.parse_args()
    print(f"machine: {cpu()}; niceness {os.nice(0)}", flush=True)
    if args.command == "corpus":
        write_corpus(args.archive, args.out, args.copies)
        return
    with chroma_server(args.chroma_path) as server:
        settings = settings_for(args, server)
        if args.command == "fill":
            fill(args.corpus, args.source, settings, args.sample)
        else:
            measure(settings, args)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
