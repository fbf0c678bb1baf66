"""Benchmark ingest: the sample day, then a larger corpus made by repeating its abstracts.

Prints papers/s, chunks/s and peak memory. Usage:
    .venv/bin/python bench/ingest.py [--papers 5000]
"""

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from rag.ingest import ingest_files
from rag.settings import Settings
from rag.sources import read_papers
from rag.store import open_store

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "daily-papers-2025-10-31.txt"


def synthetic_corpus(path: Path, count: int) -> Path:
    """count papers: the sample's abstracts in turn, each under a distinct title (so a distinct id)."""
    papers = read_papers(SAMPLE)
    with path.open("w") as out:
        for i in range(count):
            paper = papers[i % len(papers)]
            record = {"title": f"{paper.title} (variant {i})", "abstract": f"Variant {i}. {paper.abstract}"}
            out.write(json.dumps(record) + "\n")
    return path


def timed_ingest(label: str, path: Path, data_dir: Path) -> None:
    """Ingest path into a fresh store and print the rates."""
    settings = Settings(data_dir=data_dir)
    store = open_store(settings)
    started = time.perf_counter()
    report = ingest_files([path], store)
    seconds = time.perf_counter() - started
    papers = report.new + report.updated + report.unchanged
    print(
        f"{label:<22} {papers:>6} papers {report.chunks:>6} chunks {seconds:8.1f} s "
        f"{papers / seconds:7.1f} papers/s {report.chunks / seconds:7.1f} chunks/s"
    )
    started = time.perf_counter()
    again = ingest_files([path], store)
    print(f"{'  re-ingest (no-op)':<22} {again.unchanged:>6} unchanged {time.perf_counter() - started:8.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000, help="size of the synthetic corpus")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        timed_ingest("sample day", SAMPLE, Path(tmp) / "sample")
        corpus = synthetic_corpus(Path(tmp) / "corpus.jsonl", args.papers)
        timed_ingest(f"synthetic x{args.papers}", corpus, Path(tmp) / "synthetic")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
