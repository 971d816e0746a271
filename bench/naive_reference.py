"""The naive reference the scale figures are compared against: jieba + rank-bm25 full scan.

Usage: .venv/bin/python bench/naive_reference.py --db DB --questions FILE [--repeat 3] [--budget 600] [--max-gb 8]

Reads every clause text of a built database (`SELECT text FROM clauses`), cuts it with jieba's default
dictionary (precise mode), indexes it with `rank_bm25.BM25Okapi`, then times each question — cutting it and
scoring every clause (`get_scores`, a full scan), then taking the ten best — over the questions of FILE (one
per line). Prints one JSON object. It is a baseline, not part of the product: no lexicon, no fields, no
refusal.

Bounded: the clause cutting is sampled first and the run is skipped (the JSON says why, with the
projection) when indexing would take more than --budget seconds or more than --max-gb of memory; the
timing loop stops when its share of the budget is spent (the JSON says how many questions were timed).
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

SAMPLE = 5000  # clauses cut first, to project the cost of the whole corpus
WARM_QUESTIONS = 5


def rss_kb() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in kB (Linux)."""
    out: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def tokens(cut: Callable[[str], list[str]], text: str) -> list[str]:
    """jieba words of a text, without whitespace and punctuation; equal words share one string."""
    return [sys.intern(w) for w in cut(text) if any(ch.isalnum() for ch in w)]


def clause_texts(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT text FROM clauses")]
    finally:
        conn.close()


def run(db: Path, questions: list[str], repeat: int, budget: float, max_gb: float) -> dict[str, object]:
    import jieba
    import numpy as np
    from rank_bm25 import BM25Okapi

    jieba.setLogLevel(logging.WARNING)
    result: dict[str, object] = {
        "reference": "jieba (default dictionary, precise mode) + rank_bm25.BM25Okapi"
    }
    started = time.perf_counter()
    texts = clause_texts(db)
    result["clauses"] = len(texts)
    result["read_s"] = round(time.perf_counter() - started, 3)

    t0 = time.perf_counter()
    jieba.initialize()
    result["jieba_load_s"] = round(time.perf_counter() - t0, 3)
    before = rss_kb().get("VmRSS", 0)
    t0 = time.perf_counter()
    sample = [tokens(jieba.lcut, t) for t in texts[:SAMPLE]]
    sample_s = time.perf_counter() - t0
    probe = BM25Okapi(sample)
    grown_kb = max(rss_kb().get("VmRSS", 0) - before, 1)
    del probe, sample
    share = len(texts) / max(min(len(texts), SAMPLE), 1)
    projected_s = sample_s * share * 1.15  # cutting plus building the index
    projected_gb = (before + grown_kb * share) / 1024 / 1024
    result["projected_index_s"] = round(projected_s, 1)
    result["projected_rss_gb"] = round(projected_gb, 2)
    if projected_s > budget * 0.6 or projected_gb > max_gb:
        result["skipped"] = (
            f"indexing {len(texts)} clauses projected at {projected_s:.0f} s and {projected_gb:.1f} GB "
            f"(from the first {SAMPLE}); limits {budget * 0.6:.0f} s for indexing, {max_gb:g} GB"
        )
        return result

    t0 = time.perf_counter()
    bm25 = BM25Okapi(tokens(jieba.lcut, t) for t in texts)
    result["index_s"] = round(time.perf_counter() - t0, 2)
    result["rss_after_index_kb"] = rss_kb()

    def ask(question: str) -> list[int]:
        scores = bm25.get_scores(tokens(jieba.lcut, question))
        top = np.argpartition(-scores, min(10, len(scores) - 1))[:10]
        return sorted(top.tolist(), key=lambda i: -scores[i])

    for question in questions[:WARM_QUESTIONS]:
        ask(question)
    deadline = time.perf_counter() + max(budget - (time.perf_counter() - started), 30.0)
    timings: list[float] = []
    stopped = ""
    for round_no in range(repeat):
        for question in questions:
            if time.perf_counter() > deadline:
                stopped = f"time budget spent during round {round_no + 1}"
                break
            t0 = time.perf_counter()
            ask(question)
            timings.append((time.perf_counter() - t0) * 1000)
        if stopped:
            break
    result.update(
        {
            "timed": len(timings),
            "questions": len(questions),
            "repeat": repeat,
            "p50_ms": round(statistics.median(timings), 3) if timings else None,
            "p95_ms": round(percentile(timings, 0.95), 3) if timings else None,
            "p99_ms": round(percentile(timings, 0.99), 3) if timings else None,
            "rss_kb": rss_kb(),
            "stopped": stopped,
            "total_s": round(time.perf_counter() - started, 1),
        }
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--questions", required=True, type=Path, help="one question per line")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for the whole run")
    parser.add_argument(
        "--max-gb", type=float, default=8.0, help="projected memory above which it is skipped"
    )
    args = parser.parse_args(argv)
    questions = [q for q in args.questions.read_text(encoding="utf-8").splitlines() if q.strip()]
    print(json.dumps(run(args.db, questions, args.repeat, args.budget, args.max_gb), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
