"""Benchmark ingest of a whole archive against this machine's embedding limit, in one run.

1. The limit: chunks/s of the configured embedder (MiniLM by default) on a sample of the archive's
   chunks, embedded as ingest embeds them (Store.embed in calls of ingest.GROUP_CHUNKS, sorted by length).
2. `paperboy ingest DIR/*.json` in one command into a fresh data dir. With --kill-at F it is killed
   (SIGKILL) at F of the time the limit predicts, then run again to the end.
3. The check: every paper of the archive once, each with its chunks, every listing day, the vector
   index holding exactly the catalog's chunks: nothing lost or duplicated.
4. The ratio: the ingest's chunks/s (all its runs' wall time) over the limit, measured again after
   the ingest as the cores are shared; the same in CPU seconds, which other people's jobs do not move.
5. Re-ingest of the unchanged archive: wall time of the same command again.
Usage:
    .venv/bin/python bench/ingest.py [--archive DIR] [--days N] [--data-dir DIR] [--kill-at 0.5] [--sample 512]
"""

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.cli import PAPERBOY, cpu
from rag.chunks import chunk_papers
from rag.ingest import GROUP_CHUNKS
from rag.settings import Settings
from rag.sources import read_papers
from rag.store import consistency, open_store

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT.parent / "shared" / "data" / "hf-daily"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def embedding_limit(files: list[Path], sample: int, settings: Settings) -> tuple[float, float]:
    """(chunks per wall second, chunks per CPU second) of Store.embed on a sample of the archive's chunks."""
    papers = [p for f in files for p in read_papers(f, "hf-json")]
    chosen = random.Random(17).sample(papers, min(sample, len(papers)))
    texts = [c.text for c in chunk_papers(chosen, settings)]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(settings.model_copy(update={"data_dir": Path(tmp), "chroma_host": None}))
        store.embed(texts[:8])  # the session is made on the first text, as in ingest
        wall, cpu_s = time.perf_counter(), time.process_time()
        for start in range(0, len(texts), GROUP_CHUNKS):
            store.embed(texts[start : start + GROUP_CHUNKS])
        wall, cpu_s = time.perf_counter() - wall, time.process_time() - cpu_s
    return len(texts) / wall, len(texts) / cpu_s


def run_ingest(files: list[Path], env: dict[str, str], kill_after: float | None = None) -> dict[str, Any]:
    """One `paperboy ingest` of the files; killed after kill_after seconds if given."""
    command = [PAPERBOY, "ingest", *map(str, files), "--format", "hf-json", "--json"]
    cpu_before, started = children_cpu(), time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return {"killed": True, "wall": time.perf_counter() - started, "cpu": children_cpu() - cpu_before}
    if process.returncode != 0:
        sys.exit(f"ingest failed ({process.returncode}): {err.strip()[-2000:]}")
    return {
        "killed": False,
        "wall": time.perf_counter() - started,
        "cpu": children_cpu() - cpu_before,
        **json.loads(out),
    }


def expected(files: list[Path], settings: Settings) -> dict[str, Any]:
    """What a correct ingest holds: each paper as its last file has it, every listing day, their chunks."""
    latest: dict[str, Any] = {}
    listings = set()
    for f in files:
        for paper in read_papers(f, "hf-json"):
            latest[paper.id] = paper
            if paper.listed_on:
                listings.add((paper.id, paper.listed_on))
    chunks = chunk_papers(list(latest.values()), settings)
    return {"papers": set(latest), "listings": listings, "chunks": {c.id for c in chunks}}


def check_store(settings: Settings, want: dict[str, Any]) -> dict[str, bool]:
    """Nothing lost or duplicated: the store holds exactly what want says."""
    store = open_store(settings)
    papers = store.catalog.papers()
    chunk_ids = store.catalog.chunk_ids()
    return {
        "every_paper_once": sorted(p.id for p in papers) == sorted(want["papers"]),
        "every_listing": store.catalog.listed(sorted(want["papers"])) == want["listings"],
        "every_chunk": set(chunk_ids) == want["chunks"] and len(chunk_ids) == len(want["chunks"]),
        "index_matches_catalog": store.index.ids() == set(chunk_ids)
        and consistency(store.settings, store.catalog)["consistent"],
    }


def fresh_dir(path: Path | None) -> Path:
    """An empty data dir: the given one (emptied, if it holds only a Paperboy store), else a temporary one."""
    if path is None:
        return Path(tempfile.mkdtemp(prefix="paperboy-ingest-bench-"))
    if path.exists() and any(path.iterdir()):
        if not (path / "catalog.sqlite3").exists():
            sys.exit(f"{path} is not empty and holds no Paperboy store; give an empty or new folder.")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=ARCHIVE, help="folder of hf-json day files")
    parser.add_argument("--days", type=int, help="only the first N days")
    parser.add_argument("--data-dir", type=Path, help="where the store goes (kept); default a temporary folder")
    parser.add_argument("--kill-at", type=float, help="SIGKILL the ingest at this share of its predicted time")
    parser.add_argument("--sample", type=int, default=512, help="papers embedded to measure the limit")
    args = parser.parse_args()
    files = sorted(args.archive.glob("*.json"))[: args.days]
    if not files:
        sys.exit(f"No day files (*.json) in {args.archive}; give the archive with --archive.")
    data_dir = fresh_dir(args.data_dir)
    env = {k: v for k, v in os.environ.items() if k not in {"CHROMA_HOST", "CHROMA_PORT"}}
    env["PAPERBOY_DATA_DIR"] = str(data_dir)
    settings = Settings(data_dir=data_dir)
    print(f"machine: {cpu()}; niceness {os.nice(0)}", flush=True)
    want = expected(files, settings)
    print(f"archive: {len(files)} days, {len(want['papers'])} papers, {len(want['chunks'])} chunks", flush=True)

    before = embedding_limit(files, args.sample, settings)
    print(f"embedding limit before: {before[0]:.2f} chunks/s wall, {before[1]:.2f} chunks per CPU second", flush=True)
    runs = []
    if args.kill_at:
        runs.append(run_ingest(files, env, args.kill_at * len(want["chunks"]) / before[0]))
        stored = open_store(settings).catalog.count()
        print(f"killed after {runs[0]['wall']:.0f} s with {stored} papers stored; running it again", flush=True)
    runs.append(run_ingest(files, env))
    after = embedding_limit(files, args.sample, settings)
    print(f"embedding limit after:  {after[0]:.2f} chunks/s wall, {after[1]:.2f} chunks per CPU second", flush=True)

    wall, cpu_s = sum(r["wall"] for r in runs), sum(r["cpu"] for r in runs)
    chunks = len(want["chunks"])
    limit_wall, limit_cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    print(
        f"ingest: {len(want['papers'])} papers in {wall:.1f} s ({len(runs)} run(s)): {len(want['papers']) / wall:.2f} "
        f"papers/s, {chunks / wall:.2f} chunks/s; ratio to the limit {chunks / wall / limit_wall:.2f} "
        f"(wall; {chunks / wall / before[0]:.2f} / {chunks / wall / after[0]:.2f} against before / after), "
        f"{chunks / cpu_s / limit_cpu:.2f} (CPU seconds)"
    )
    checks = check_store(settings, want)
    print("store: " + ", ".join(f"{name}={'ok' if ok else 'FAIL'}" for name, ok in checks.items()), flush=True)

    again = run_ingest(files, env)
    print(
        f"re-ingest of the unchanged archive: {again['wall']:.1f} s ({again['unchanged']} unchanged, "
        f"{again['new']} new, {again['chunks']} chunks embedded)"
    )
    if args.data_dir is None:
        shutil.rmtree(data_dir)
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
