"""Latency of answering on the real corpus: per-question compute and the first answer after start-up.

Usage: .venv/bin/python bench/answering.py [--rounds 5]   (prints a Markdown table; see bench/RESULTS.md)

Compute time is `KnowledgeBase.ask` alone, after warm-up, over every question of the project's question set
and the shared dev set; start-up is a fresh `python -m bot ask` process, from exec to the answer on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.settings import DEFAULT_DB  # noqa: E402
from knowledge.loading import open_knowledge  # noqa: E402


def questions() -> list[str]:
    files = [ROOT / "tests/eval/questions.jsonl", ROOT.parent / "shared/eval/dev.jsonl"]
    out = []
    for path in files:
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    item = json.loads(line)
                    if item["type"] != "duties":
                        out.append(item["q"])
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    t0 = time.perf_counter()
    kb = open_knowledge(DEFAULT_DB)
    kb.warm_up()
    load = time.perf_counter() - t0
    qs = questions()
    timings: list[float] = []
    for _ in range(args.rounds):
        for q in qs:
            start = time.perf_counter()
            kb.ask(q)
            timings.append((time.perf_counter() - start) * 1000)
    cold = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", "ask", "--json", "工地扬尘归谁管"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        cold.append(time.perf_counter() - start)
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"clauses: {kb.data.index.size}, questions: {len(qs)} × {args.rounds} rounds")
    print("| measure | value |\n|---|---|")
    print(f"| load + warm-up in process | {load * 1000:.0f} ms |")
    print(f"| ask, p50 | {statistics.median(timings):.2f} ms |")
    print(f"| ask, p95 | {percentile(timings, 0.95):.2f} ms |")
    print(f"| ask, p99 | {percentile(timings, 0.99):.2f} ms |")
    print(f"| first answer after start-up (new process), median | {statistics.median(cold):.2f} s |")


if __name__ == "__main__":
    main()
