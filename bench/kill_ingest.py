"""Kill -9 an ingest at several points; after each, the next open must leave a consistent, searchable store.

For each point: a fresh data dir, `paperboy ingest` of some real Daily Papers days (one write per
file), and SIGKILL. Half the points kill after a share of a clean run's wall time (most land in
imports or embedding, some between files); the other half watch the catalog and kill a few
milliseconds after a write has marked its chunks unsettled, i.e. inside the write. Then a probe
process opens the store as the next command would (which repairs it) and checks
that catalog and index agree, that every paper has its chunks and that search finds the papers;
then the ingest runs again to the end and the store must be identical to a clean ingest's. Prints
one line per point and exits 1 if any check failed. Usage:
    .venv/bin/python bench/kill_ingest.py [--points 10] [--days 4] [--json]
"""

import argparse
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAYS = sorted((ROOT / "evals" / "corpora" / "hf-daily").glob("*.json"))
PAPERBOY = Path(sys.executable).parent / "paperboy"
CHECKS = ("consistent", "every_paper_has_chunks", "index_matches_catalog", "search_finds_papers")


def _env(data_dir: Path) -> dict[str, str]:
    hidden = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "CHROMA_PORT"}
    return {**{k: v for k, v in os.environ.items() if k not in hidden}, "PAPERBOY_DATA_DIR": str(data_dir)}


def start_ingest(data_dir: Path, days: list[Path]) -> subprocess.Popen[bytes]:
    command = [str(PAPERBOY), "ingest", *map(str, days), "--format", "hf-json", "--json"]
    return subprocess.Popen(command, env=_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ingest(data_dir: Path, days: list[Path]) -> float:
    """A whole ingest; returns its wall seconds."""
    started = time.perf_counter()
    process = start_ingest(data_dir, days)
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"ingest failed ({process.returncode}): {err.decode()[-2000:]}")
    return time.perf_counter() - started


def probe(data_dir: Path) -> dict[str, Any]:
    """Open the store in a process of its own, as the next command would, and check it."""
    found = subprocess.run(
        [sys.executable, __file__, "--probe", str(data_dir)], env=_env(data_dir), capture_output=True, check=False
    )
    if found.returncode != 0:
        return {"error": found.stderr.decode()[-2000:], **dict.fromkeys(CHECKS, False)}
    return json.loads(found.stdout)


def probe_here(data_dir: Path) -> dict[str, Any]:
    from rag.catalog import Catalog
    from rag.retrieval import retrieve
    from rag.settings import Settings
    from rag.store import consistency, open_store

    settings = Settings(data_dir=data_dir)
    catalog = Catalog(settings.catalog_path)
    before = {"papers": catalog.count(), "unsettled": len(catalog.unsettled())}
    store = open_store(settings)
    papers = store.catalog.papers()
    chunk_ids = store.catalog.chunk_ids()
    searched = []
    for paper in papers[:3]:
        hits = [h.chunk.paper.id for h in retrieve(paper.title, store, k=3)] if papers else []
        searched.append(paper.id in hits and len(set(hits)) == min(3, len(papers)))
    texts = store.catalog.chunks(sorted(chunk_ids))
    content = json.dumps(
        [[p.model_dump(mode="json") for p in papers], sorted((c, t.text) for c, t in texts.items())], sort_keys=True
    )
    return {
        "before_open": before,
        "papers": len(papers),
        "consistent": consistency(store.settings, store.catalog)["consistent"],
        "every_paper_has_chunks": set(chunk_ids.values()) == {p.id for p in papers},
        "index_matches_catalog": store.index.ids() == set(chunk_ids),
        "search_finds_papers": all(searched),
        "content": hashlib.sha256(content.encode()).hexdigest(),
    }


def _writing(data_dir: Path) -> bool:
    """Whether a write has marked chunks unsettled (read-only, so the watcher never takes a write lock)."""
    try:
        with sqlite3.connect(f"file:{data_dir / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM unsettled_chunks)").fetchone()[0] == 1
    except sqlite3.Error:  # not created yet
        return False


def kill_at(data_dir: Path, days: list[Path], seconds: float | None, in_write_ms: float) -> tuple[float, bool]:
    """Start an ingest and SIGKILL it after seconds, or (None) in_write_ms after its first write began.
    Returns when it was killed and whether it had already finished."""
    started = time.perf_counter()
    process = start_ingest(data_dir, days)
    if seconds is not None:
        time.sleep(seconds)
    else:
        while not _writing(data_dir) and process.poll() is None:
            time.sleep(0.002)
        time.sleep(in_write_ms / 1000)
    finished = process.poll() is not None
    process.send_signal(signal.SIGKILL)
    process.wait()
    return time.perf_counter() - started, finished


def run(points: int, days: list[Path], work: Path) -> list[dict[str, Any]]:
    clean_seconds = ingest(work / "clean", days)
    clean = probe(work / "clean")
    print(
        f"clean ingest of {len(days)} days: {clean['papers']} papers in {clean_seconds:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    timed = (points + 1) // 2
    results = []
    for i in range(points):
        data_dir = work / f"killed-{i}"
        if i < timed:
            share = 0.25 + 0.7 * i / max(timed - 1, 1)
            how = f"at {share:.0%} of a clean run"
            killed_after, finished = kill_at(data_dir, days, clean_seconds * share, 0)
        else:
            delay = 15.0 * (i - timed)
            how = f"{delay:.0f} ms into a write"
            killed_after, finished = kill_at(data_dir, days, None, delay)
        after = probe(data_dir)
        ingest(data_dir, days)
        rerun = probe(data_dir)
        results.append(
            {
                "kill": how,
                "killed_after_s": round(killed_after, 2),
                "finished_before_kill": finished,
                "after_kill": after,
                "rerun_identical_to_clean": rerun["content"] == clean["content"] and all(rerun[c] for c in CHECKS),
            }
        )
    return results


def passed(result: dict[str, Any]) -> bool:
    return all(result["after_kill"][c] for c in CHECKS) and result["rerun_identical_to_clean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--days", type=int, default=4, help=f"how many of the {len(DAYS)} shipped eval days")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe_here(args.probe)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        results = run(args.points, DAYS[: args.days], Path(tmp))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            after = r["after_kill"]
            state = "finished" if r["finished_before_kill"] else f"{after['before_open']['papers']:>3} papers, "
            state += "" if r["finished_before_kill"] else f"{after['before_open']['unsettled']:>4} unsettled"
            checks = " ".join(f"{c}={'ok' if after[c] else 'FAIL'}" for c in CHECKS)
            rerun = "ok" if r["rerun_identical_to_clean"] else "FAIL"
            when = f"kill {r['kill']:<24} ({r['killed_after_s']:5.2f} s)"
            print(f"{when}: {state} | {checks} | rerun={rerun}")
        print(f"{sum(map(passed, results))}/{len(results)} kill points passed")
    sys.exit(0 if all(map(passed, results)) else 1)


if __name__ == "__main__":
    main()
