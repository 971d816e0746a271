"""Latency of answering: per-question compute, memory and the first answer after start-up; A/B against a
checkout of an earlier commit; per-question answer signatures to show that a change leaves answers identical.

Usage: .venv/bin/python bench/answering.py [--db PATH] [--rounds 5] [--clause-cache on|off] [--no-cold]
       .venv/bin/python bench/answering.py --db PATH --ab BEFORE_DIR [--runs 3] [--clause-cache off]
       .venv/bin/python bench/answering.py --db PATH --signatures OUT.jsonl [--questions FILE ...]

Compute time is `KnowledgeBase.ask` alone, after warm-up and one untimed pass, over the who/none questions of
the project's question set and the shared dev set (or --questions); each round is a timed pass, p50 is the median
of the pass medians, p95/p99 are over every timing. `--clause-cache off` reads every candidate from SQLite, as a
question about clauses nobody asked about recently does (the store's cache is otherwise warm after one pass).
Start-up is a fresh `python -m bot ask` process, from exec to the answer on stdout.

`--ab BEFORE_DIR` alternates runs of the code in BEFORE_DIR (e.g. `git archive <commit> | tar -x -C DIR`) and of
this tree on the same database and questions, `--runs` times each, so that noise from other work on the machine
falls on both sides alike; it prints each run and the medians. `--signatures` writes every question's full
`ask --json` object, one per line, for comparing answers before and after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The code measured: this tree, or another checkout when --ab runs the "before" side.
PRODUCT = Path(os.environ.get("SHUIGUAN_BENCH_PRODUCT") or ROOT)
sys.path.insert(0, str(PRODUCT))

from bot.settings import DEFAULT_DB  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from scale import status_kb  # noqa: E402

QUESTION_FILES = [ROOT / "tests/eval/questions.jsonl", ROOT.parent / "shared/eval/dev.jsonl"]


def questions(files: list[Path]) -> list[str]:
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


def measure(db: Path, qs: list[str], rounds: int, clause_cache: bool) -> dict[str, Any]:
    """Load the database and time every question `rounds` times in this process."""
    import knowledge.storage
    from knowledge.loading import open_knowledge

    if not clause_cache:
        knowledge.storage.CACHED_CLAUSES = 0  # read at every question: the cache then stays empty
    t0 = time.perf_counter()
    kb = open_knowledge(db, rebuild=False)
    kb.warm_up()
    load = time.perf_counter() - t0
    for q in qs:  # first-time costs (pages of the index, lexicon memos) are not what is measured
        kb.ask(q)
    timings: list[float] = []
    pass_medians: list[float] = []
    for _ in range(rounds):
        this_pass = []
        for q in qs:
            start = time.perf_counter()
            kb.ask(q)
            this_pass.append((time.perf_counter() - start) * 1000)
        pass_medians.append(statistics.median(this_pass))
        timings.extend(this_pass)
    vm = status_kb()
    return {
        "product": str(PRODUCT),
        "clauses": kb.data.index.size,
        "questions": len(qs),
        "rounds": rounds,
        "clause_cache": clause_cache,
        "load_s": round(load, 3),
        "p50_ms": round(statistics.median(pass_medians), 3),
        "pass_p50_ms": [round(m, 3) for m in pass_medians],
        "p95_ms": round(percentile(timings, 0.95), 3),
        "p99_ms": round(percentile(timings, 0.99), 3),
        "max_ms": round(max(timings), 3),
        "vmrss_mb": round(vm.get("VmRSS", 0) / 1024),
        "vmhwm_mb": round(vm.get("VmHWM", 0) / 1024),
    }


def cold_start(db: Path, rounds: int) -> list[float]:
    env = {**os.environ, "SHUIGUAN_DB": str(db)}
    env.pop("SHUIGUAN_KNOWLEDGE_DIR", None)
    cold = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", "ask", "--json", "工地扬尘归谁管"],
            cwd=PRODUCT,
            env=env,
            check=True,
            capture_output=True,
        )
        cold.append(time.perf_counter() - start)
    return cold


def signatures(db: Path, files: list[Path], out: Path) -> None:
    """Every question's `ask --json` object (`duties --json` for duty questions), one per line, with the clause
    cache off and again on: answers must not depend on it."""
    import knowledge.storage
    from knowledge.loading import open_knowledge

    items = [
        json.loads(line) for path in files for line in path.read_text("utf-8").splitlines() if line.strip()
    ]
    with out.open("w", encoding="utf-8") as handle:
        for cached in (0, knowledge.storage.CACHED_CLAUSES):
            knowledge.storage.CACHED_CLAUSES = cached
            kb = open_knowledge(db, rebuild=False)
            for item in items:
                result = kb.duties(item["q"]) if item["type"] == "duties" else kb.ask(item["q"])
                handle.write(json.dumps(result.to_json(), ensure_ascii=False, sort_keys=True) + "\n")


def ab(args: argparse.Namespace) -> None:
    """Alternate child runs of the two trees; print each run and the medians of each side."""
    sides = {"before": Path(args.ab).resolve(), "after": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for n in range(args.runs):
        for side, tree in sides.items():
            load = Path("/proc/loadavg").read_text().split()[0]
            command = [sys.executable, __file__, "--db", str(args.db), "--rounds", str(args.rounds)]
            command += ["--clause-cache", args.clause_cache, "--no-cold", "--json"]
            for path in args.questions or ():
                command += ["--questions", str(path)]
            env = {**os.environ, "SHUIGUAN_BENCH_PRODUCT": str(tree)}
            done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["loadavg"] = load
            runs[side].append(result)
            print(
                f"run {n + 1} {side:6} p50 {result['p50_ms']:.2f}  p95 {result['p95_ms']:.2f}  "
                f"p99 {result['p99_ms']:.2f} ms  VmHWM {result['vmhwm_mb']} MB  load {result['load_s']} s  "
                f"(loadavg {load})",
                flush=True,
            )
    print(f"\nclause cache {args.clause_cache}, {args.db}")
    print("| | p50 (median of runs; each run) | p95 | p99 | VmHWM | load |\n|---|---|---|---|---|---|")
    for side, results in runs.items():

        def cell(key: str, results: list[dict[str, Any]] = results) -> str:
            values = [r[key] for r in results]
            return f"{statistics.median(values):.2f} ({' / '.join(f'{v:.2f}' for v in values)})"

        hwm = max(r["vmhwm_mb"] for r in results)
        loads = [r["load_s"] for r in results]
        print(
            f"| {side} | {cell('p50_ms')} | {cell('p95_ms')} | {cell('p99_ms')} | {hwm} MB | "
            f"{min(loads):.2f}–{max(loads):.2f} s |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over the questions")
    parser.add_argument("--clause-cache", choices=("on", "off"), default="on")
    parser.add_argument("--questions", type=Path, action="append", help="question file(s), JSON lines")
    parser.add_argument("--no-cold", action="store_true", help="skip the start-up measurement")
    parser.add_argument("--json", action="store_true", help="print the measurement as one JSON line")
    parser.add_argument(
        "--ab", metavar="BEFORE_DIR", help="alternate runs of BEFORE_DIR's code and this tree's"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each side with --ab")
    parser.add_argument("--signatures", type=Path, metavar="OUT", help="write every answer as JSON lines")
    args = parser.parse_args()
    if args.ab:
        ab(args)
        return
    if args.signatures:
        signatures(args.db, args.questions or QUESTION_FILES, args.signatures)
        return
    qs = questions(args.questions or QUESTION_FILES)
    result = measure(args.db, qs, args.rounds, args.clause_cache == "on")
    if not args.no_cold:
        result["cold_s"] = round(statistics.median(cold_start(args.db, args.rounds)), 3)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"clauses: {result['clauses']}, questions: {len(qs)} × {args.rounds} rounds")
    print("| measure | value |\n|---|---|")
    print(f"| load + warm-up in process | {result['load_s'] * 1000:.0f} ms |")
    print(f"| ask, p50 (median of pass medians) | {result['p50_ms']:.2f} ms |")
    print(f"| ask, p95 | {result['p95_ms']:.2f} ms |")
    print(f"| ask, p99 | {result['p99_ms']:.2f} ms |")
    print(f"| VmHWM | {result['vmhwm_mb']} MB |")
    if "cold_s" in result:
        print(f"| first answer after start-up (new process), median | {result['cold_s']:.2f} s |")


if __name__ == "__main__":
    main()
