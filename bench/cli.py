"""Benchmark the command line: how fast each command starts, and what `ask` costs around its answer.

Ingests the sample day into a fresh data dir (the model cache is the user's), then prints:
- wall seconds of `paperboy --help`, `papers`, `stats` and a cold `search` (median of --repeat runs);
- `ask` with no model service running (it starts one, and a resident paperboy) and again within the
  keep-alive, run by the resident: wall time minus the answer's own total_ms, i.e. what start-up,
  imports and the model load add; and `search` run by the resident;
- two `ask` at once, each alone first: total wall of the pair against the sum of the two alone.
Usage:
    .venv/bin/python bench/cli.py [--repeat 5]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import platformdirs

ROOT = Path(__file__).resolve().parents[1]
PAPERBOY = str(Path(sys.executable).with_name("paperboy"))
SAMPLE = ROOT / "data" / "samples" / "daily-papers-2025-10-31.txt"
QUESTIONS = [
    "How fast can GVGEN generate a 3D object?",
    "What speedup does Flex deliver for a single MoE layer over 2,048 A100 GPUs?",
]


def cpu() -> str:
    """CPU model and vector flags, as the README quotes the machine."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = "AVX-512" if "avx512f" in info else "AVX2" if "avx2" in info else "no AVX2"
    return f"{name} ({flags}), {os.cpu_count()} cores, Python {platform.python_version()}"


def run(env: dict[str, str], *args: str) -> tuple[float, str]:
    """Wall seconds and stdout of one paperboy command; a failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run([PAPERBOY, *args], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"paperboy {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return wall, done.stdout


def ask_overhead(env: dict[str, str], question: str) -> tuple[float, float]:
    """(wall seconds, wall minus the answer's total_ms) of one `ask --json`."""
    wall, out = run(env, "ask", question, "--json")
    total = json.loads(out)["timings"]["total_ms"] / 1000
    return wall, wall - total


def resident_log(env: dict[str, str]) -> Path:
    """The log of the resident paperboy for env's cache dir."""
    from rag.resident import resident_dir

    return resident_dir(Path(env.get("PAPERBOY_CACHE_DIR") or platformdirs.user_cache_dir("paperboy"))) / "resident.log"


def resident_ready(log: Path, since: int, timeout_s: float = 120.0) -> None:
    """Wait until a resident started after the log was `since` bytes long has imported the answer path."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and "imported the answer path" in log.read_bytes()[since:].decode(errors="replace"):
            return
        time.sleep(0.2)
    sys.exit(f"no resident was ready within {timeout_s:.0f} s; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Runs per start-up figure (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PAPERBOY_DATA_DIR": str(Path(tmp) / "data")}
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST"):
            env.pop(name, None)
        run(env, "ingest", str(SAMPLE), "--date", "2025-10-31")
        print(f"Machine: {cpu()}")
        run(env, "model", "stop")  # cold means no resident either
        for command in (["--help"], ["papers"], ["stats"], ["search", "one-step diffusion"]):
            walls = [run(env, *command)[0] for _ in range(args.repeat)]
            print(f"paperboy {command[0]:<8} wall median {statistics.median(walls):.2f} s (min {min(walls):.2f})")
        run(env, "model", "stop")
        log = resident_log(env)
        since = log.stat().st_size if log.exists() else 0
        wall, overhead = ask_overhead(env, QUESTIONS[0])
        print(f"ask, no service running: wall {wall:.1f} s, wall - total_ms {overhead:.2f} s")
        resident_ready(log, since)
        walls = [run(env, "search", "one-step diffusion")[0] for _ in range(args.repeat)]
        print(f"paperboy search   run by the resident, wall median {statistics.median(walls):.2f} s")
        seconds = [ask_overhead(env, q) for q in QUESTIONS]
        for (wall, overhead), question in zip(seconds, QUESTIONS, strict=True):
            print(f"ask, service warm: wall {wall:.1f} s, wall - total_ms {overhead:.2f} s  ({question[:40]}...)")
        alone = sum(wall for wall, _ in seconds)
        started = time.perf_counter()
        pair = [
            subprocess.Popen([PAPERBOY, "ask", q, "--json"], env=env, stdout=subprocess.PIPE, text=True)
            for q in QUESTIONS
        ]
        answers = [json.loads(p.communicate()[0]) for p in pair]
        together = time.perf_counter() - started
        arrived = sum(1 for a in answers if a["answer"])
        print(
            f"two ask at once: {arrived}/2 answered, wall {together:.1f} s vs {alone:.1f} s alone "
            f"(ratio {together / alone:.2f})"
        )
        run(env, "model", "stop")


if __name__ == "__main__":
    main()
