"""Benchmark "for you": star 10 papers of one field, rank the next day's papers, mean average precision.

The store is the real archive (../shared/data/hf-daily, 557 days) ingested into --data-dir; if that
dir has no papers yet it is ingested first (one `paperboy ingest` of every day, ~an hour on 2 cores).

Fields are keyword rules over title and abstract, written before any ranking was run (FIELDS, below;
not changed after). For every evaluation day (every --every'th archive day with at least 3 papers of
the field and 3 others) and every field, the 10 most recent papers of the field listed before that
day are starred, and the day's papers are ranked four ways:
- upvotes: the Today page's default order;
- keyword: following the one word a reader would type for the field (BASELINE_KEYWORD), no stars;
- for you: the linear SVM trained on the 10 stars (rag.interests.rank_for_you), no keywords;
- for you + keyword: both.
A paper matching the field's rule is relevant. The keyword baseline's word is also in its field's
rule, which favours it; the SVM never sees the rule.
Usage:
    .venv/bin/python bench/foryou.py --data-dir /tmp/paperboy-archive [--every 25]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cli import PAPERBOY, cpu  # noqa: E402

ARCHIVE = ROOT.parent / "shared" / "data" / "hf-daily"
STARS = 10
FIELDS = {
    "robotics": r"\b(?:robot\w*|embodied|manipulation|locomotion|grasp\w*|humanoid\w*|vision-language-action)\b",
    "speech and audio": r"\b(?:speech|audio|speakers?|voice\w*|music\w*|asr|text-to-speech|tts)\b",
    "3D": r"\b(?:3d|point clouds?|nerfs?|gaussian splatting|meshe?s?|novel views?)\b",
    "medicine": r"\b(?:medical|clinical|patients?|radiolog\w*|biomedical|healthcare|diseases?)\b",
    "code": r"\b(?:code generation|program synthesis|software engineering|coding|code llms?|programming)\b",
}
BASELINE_KEYWORD = {
    "robotics": "robot",
    "speech and audio": "speech",
    "3D": "3D",
    "medicine": "medical",
    "code": "code",
}
METHODS = ["upvotes", "keyword", "for you", "for you + keyword"]


def average_precision(ranked: list[bool]) -> float:
    """AP of a ranking given which positions are relevant."""
    hits, total = 0, 0.0
    for position, relevant in enumerate(ranked, start=1):
        if relevant:
            hits += 1
            total += hits / position
    return total / hits if hits else 0.0


def ensure_archive(data_dir: Path) -> None:
    """Ingest the archive into data_dir unless it holds papers already."""
    if (data_dir / "catalog.sqlite3").exists():
        return
    days = sorted(str(p) for p in ARCHIVE.glob("????-??-??.json"))
    print(f"ingesting {len(days)} archive days into {data_dir} ...", flush=True)
    env = {**os.environ, "PAPERBOY_DATA_DIR": str(data_dir)}
    subprocess.run([PAPERBOY, "ingest", *days], env=env, check=True, stdout=subprocess.DEVNULL)


def check_days(by_day: dict[date, list]) -> str:
    """How many archive days list exactly the papers of their file (the day asked of the API)."""
    import json

    right, wrong = 0, []
    for path in sorted(ARCHIVE.glob("????-??-??.json")):
        expected = {item["paper"]["id"] for item in json.loads(path.read_text())}
        listed = {p.id for p in by_day.get(date.fromisoformat(path.stem), [])}
        if listed == expected:
            right += 1
        else:
            wrong.append(path.stem)
    return f"{right}/{right + len(wrong)} archive days list exactly their file's papers" + (
        f"; not: {', '.join(wrong[:5])}" if wrong else ""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="Data dir holding (or to hold) the archive")
    parser.add_argument("--every", type=int, default=25, help="Evaluate every N-th archive day")
    args = parser.parse_args()
    ensure_archive(args.data_dir)
    os.environ["PAPERBOY_DATA_DIR"] = str(args.data_dir)
    from rag.interests import rank_for_you
    from rag.settings import get_settings
    from rag.store import open_store

    store = open_store(get_settings())
    catalog = store.catalog
    days = sorted(catalog.days())
    rules = {field: re.compile(rule, re.I) for field, rule in FIELDS.items()}
    by_day = {day: catalog.papers(day) for day in days}
    in_field = {
        field: {p.id for papers in by_day.values() for p in papers if rule.search(p.text)}
        for field, rule in rules.items()
    }
    print(f"machine: {cpu()}")
    print(check_days(by_day))
    twice = sum(1 for n in _listing_counts(by_day).values() if n > 1)
    print(f"papers listed on more than one day: {twice} (each one paper, on each of its days)")
    print(
        f"store: {catalog.count()} papers over {len(days)} days; "
        + ", ".join(f"{field} {len(ids)}" for field, ids in in_field.items())
    )
    scores: dict[str, dict[str, list[float]]] = {f: {m: [] for m in METHODS} for f in FIELDS}
    seconds: list[float] = []
    for day in days[args.every :: args.every]:
        papers = by_day[day]
        for field in FIELDS:
            relevant = [p.id in in_field[field] for p in papers]
            if sum(relevant) < 3 or len(papers) - sum(relevant) < 3:
                continue
            stars = _stars_before(by_day, day, in_field[field], {p.id for p in papers})
            if len(stars) < STARS:
                continue
            for method in METHODS:
                _set_interests(
                    catalog,
                    stars if "for you" in method else [],
                    BASELINE_KEYWORD[field] if "keyword" in method else None,
                )
                started = time.perf_counter()
                ranking = rank_for_you(store, papers) if method != "upvotes" else None
                if method == "for you":
                    seconds.append(time.perf_counter() - started)
                order = [r.paper.id for r in ranking.shown] if ranking else [p.id for p in papers]
                scores[field][method].append(average_precision([pid in in_field[field] for pid in order]))
    _set_interests(catalog, [], None)
    _report(scores, seconds)


def _listing_counts(by_day: dict[date, list]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for papers in by_day.values():
        for paper in papers:
            counts[paper.id] = counts.get(paper.id, 0) + 1
    return counts


def _stars_before(by_day: dict[date, list], day: date, field_ids: set[str], today: set[str]) -> list[str]:
    """The STARS most recent papers of the field listed before day (none of them listed on day itself)."""
    chosen: list[str] = []
    for earlier in sorted((d for d in by_day if d < day), reverse=True):
        for paper in by_day[earlier]:
            if paper.id in field_ids and paper.id not in today and paper.id not in chosen:
                chosen.append(paper.id)
                if len(chosen) == STARS:
                    return chosen
    return chosen


def _set_interests(catalog, stars: list[str], keyword: str | None) -> None:
    catalog.set_mark(catalog.marked("star"), "star", False)
    if stars:
        catalog.set_mark(stars, "star", True)
    for followed in catalog.keywords("follow"):
        catalog.set_keyword(followed, None)
    if keyword:
        catalog.set_keyword(keyword, "follow")


def _report(scores: dict[str, dict[str, list[float]]], seconds: list[float]) -> None:
    print(f"\n{'field':<18} {'days':>4}  " + "  ".join(f"{m:>17}" for m in METHODS))
    every: dict[str, list[float]] = {m: [] for m in METHODS}
    for field, by_method in scores.items():
        n = len(by_method["upvotes"])
        if not n:
            continue
        print(f"{field:<18} {n:>4}  " + "  ".join(f"{statistics.mean(by_method[m]):>17.3f}" for m in METHODS))
        for method in METHODS:
            every[method] += by_method[method]
    n = len(every["upvotes"])
    print(f"{'all (MAP)':<18} {n:>4}  " + "  ".join(f"{statistics.mean(every[m]):>17.3f}" for m in METHODS))
    if seconds:
        median = statistics.median(seconds)
        print(f"\nfor you, one ranking (training included when the stars changed): median {median:.2f} s")


if __name__ == "__main__":
    main()
