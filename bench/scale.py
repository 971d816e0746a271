"""National scale: build and measure the knowledge base on synthetic corpora of 10k, 100k and 1M clauses.

Usage: .venv/bin/python bench/scale.py --sizes 10k,100k,1m [--questions 300] [--repeat 3] [--seed 1]
                                        [--no-naive] [--no-results] [--reuse-build]

For each size: generate the corpus under bench/out/ (bench/synthetic.py; reused when generated with the same
seed and inputs), build it through the real build path in a subprocess (`python -m bot build --db …
--knowledge …`: wall time, peak memory from /usr/bin/time -v, database and index size on disk), time the first
answer of a new `python -m bot ask --json` process (median of 3), time every question in one serving process
after warm-up (p50/p95/p99 and its VmRSS/VmHWM), run the naive reference (bench/naive_reference.py: jieba +
rank-bm25 full scan) on the same questions, and score the shared dev set against the database (score.py).
The real corpus (knowledge/) is measured first as the baseline the dev figures must not move from.

Prints a Markdown table and writes the "## National scale" section of bench/RESULTS.md. Each step runs in a
child process with a time limit and a memory watch (its process group is killed past either); a step that
fails or is stopped is recorded with what happened and the run goes on. Nothing here loops unbounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
OUT = BENCH / "out"
RESULTS = BENCH / "RESULTS.md"
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"
SCORE = ROOT.parent / "shared" / "eval" / "score.py"
PROJECT_QUESTIONS = ROOT / "tests" / "eval" / "questions.jsonl"
PYTHON = sys.executable
TIME = Path("/usr/bin/time")
SECTION = "## National scale"

sys.path.insert(0, str(BENCH))
import synthetic  # noqa: E402

# Targets (issue: national scale). None = no target at that size.
TARGETS: dict[str, dict[str, float]] = {
    "100k": {"p50_ms": 3.0, "p99_ms": 15.0, "build_s": 90.0},
    "1m": {"p50_ms": 15.0, "p99_ms": 50.0, "serve_mb": 500.0, "cold_s": 2.0, "build_s": 600.0},
}
# Time limits per step (seconds), by number of clauses: generous multiples of the targets, so a slow size
# is measured and recorded rather than left running.
BUILD_LIMIT = {10_000: 600, 100_000: 900, 1_000_000: 2400}
SERVE_LIMIT = 1500
COLD_LIMIT = 300
SCORE_LIMIT = 1200
NAIVE_BUDGET = 600


# ---------------------------------------------------------------------------------------------------------
# Child processes with a time limit, a memory watch and peak memory


@dataclass
class Run:
    cmd: list[str]
    rc: int | None = None
    wall_s: float = 0.0
    peak_rss_mb: float | None = None  # from /usr/bin/time -v (the command's own process)
    watched_peak_mb: float = 0.0  # sum over the process tree, sampled
    stopped: str = ""
    stdout: str = ""
    stderr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.stopped

    def failure(self) -> str:
        if self.stopped:
            return self.stopped
        tail = (self.stderr.strip().splitlines() or self.stdout.strip().splitlines() or ["(no output)"])[-1]
        return f"exit {self.rc}: {tail[:300]}"


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc), in kB."""
    total = 0
    stack = [pid]
    seen: set[int] = set()
    while stack and len(seen) < 256:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue
    return total


def run_child(
    cmd: list[str],
    *,
    timeout: float,
    mem_limit_gb: float,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    measure: bool = True,
) -> Run:
    """Run a command in its own process group; kill the group past `timeout` or `mem_limit_gb`."""
    result = Run(cmd)
    timing_file = None
    full = list(cmd)
    if measure and TIME.exists():
        timing_file = (log or OUT / "child").with_suffix(".time")
        timing_file.parent.mkdir(parents=True, exist_ok=True)
        full = [str(TIME), "-v", "-o", str(timing_file), *cmd]
    usage_before = _children_maxrss_kb()
    out_path = (log or OUT / "child").with_suffix(".out")
    err_path = (log or OUT / "child").with_suffix(".err")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            full, cwd=ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
        limit_kb = mem_limit_gb * 1024 * 1024
        while True:
            try:
                proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            rss = _tree_rss_kb(proc.pid)
            result.watched_peak_mb = max(result.watched_peak_mb, rss / 1024)
            elapsed = time.perf_counter() - start
            if elapsed > timeout:
                result.stopped = f"stopped after {elapsed:.0f} s (time limit {timeout:.0f} s)"
            elif rss > limit_kb:
                result.stopped = (
                    f"stopped at {rss / 1024 / 1024:.1f} GB resident (memory limit {mem_limit_gb:g} GB)"
                )
            if result.stopped:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
                break
    result.wall_s = time.perf_counter() - start
    result.rc = proc.returncode
    result.stdout = out_path.read_text(errors="replace")
    result.stderr = err_path.read_text(errors="replace")
    if timing_file and timing_file.is_file():
        text = timing_file.read_text(errors="replace")
        if match := re.search(r"Maximum resident set size \(kbytes\): (\d+)", text):
            result.peak_rss_mb = int(match.group(1)) / 1024
        if match := re.search(r"Command exited with non-zero status (\d+)", text):
            result.rc = int(match.group(1))
    elif measure:
        after = _children_maxrss_kb()
        if after > usage_before:  # ru_maxrss of children is the largest so far, not this child's
            result.peak_rss_mb = after / 1024
    return result


def _children_maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


# ---------------------------------------------------------------------------------------------------------
# Questions


def _gold(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_questions(count: int, regions: list[str], seed: int) -> list[str]:
    """Half the who/none questions of the two eval sets, half templated from their accepted phrases:
    「X归谁管」, 「哪个部门负责X」 and 「<region>谁负责X」 with the corpus's region names."""
    gold = [g for path in (PROJECT_QUESTIONS, DEV) for g in _gold(path) if g["type"] in ("who", "none")]
    asked = list(dict.fromkeys(g["q"] for g in gold))
    topics = list(dict.fromkeys(a["phrase"] for g in gold if g["type"] == "who" for a in g["accept"]))
    rng = random.Random(seed)
    rng.shuffle(asked)
    rng.shuffle(topics)
    n_asked = min(len(asked), count - count // 2)
    out = asked[:n_asked]
    templates = ("{x}归谁管", "哪个部门负责{x}", "{r}谁负责{x}")
    i = 0
    while len(out) < count and i < count * 4 and topics:
        template = templates[i % 3]
        region = rng.choice(regions) if regions else "昌吉州"
        out.append(template.format(x=topics[i % len(topics)], r=region))
        i += 1
    return out[:count]


# ---------------------------------------------------------------------------------------------------------
# One serving process (run as `scale.py --serve DB --questions-file F`)


def status_kb() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in kB."""
    out: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return out


def serve(db: Path, questions: list[str], repeat: int, budget: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from knowledge.service import KnowledgeBase

    t0 = time.perf_counter()
    kb = KnowledgeBase.open(db)
    opened = time.perf_counter() - t0
    kb.warm_up()
    load = time.perf_counter() - t0
    after_load = status_kb()
    outcomes: dict[str, int] = {}
    first_pass: list[float] = []
    for q in questions:  # warm-up pass over every question, timed on its own (first-time costs)
        start = time.perf_counter()
        result = kb.ask(q)
        first_pass.append((time.perf_counter() - start) * 1000)
        outcome = str(getattr(result, "outcome", "?"))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    timings: list[float] = []
    deadline = time.perf_counter() + budget
    stopped = ""
    for round_no in range(repeat):
        for q in questions:
            if time.perf_counter() > deadline:
                stopped = f"time budget spent in round {round_no + 1}"
                break
            start = time.perf_counter()
            kb.ask(q)
            timings.append((time.perf_counter() - start) * 1000)
        if stopped:
            break
    return {
        "open_s": round(opened, 3),
        "load_s": round(load, 3),
        "after_load_kb": after_load,
        "first_pass_p50_ms": round(statistics.median(first_pass), 3),
        "p50_ms": round(statistics.median(timings), 3) if timings else None,
        "p95_ms": round(_percentile(timings, 0.95), 3) if timings else None,
        "p99_ms": round(_percentile(timings, 0.99), 3) if timings else None,
        "max_ms": round(max(timings), 3) if timings else None,
        "timed": len(timings),
        "stopped": stopped,
        "outcomes": outcomes,
        "status_kb": status_kb(),
    }


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


# ---------------------------------------------------------------------------------------------------------
# Steps of one size


def label_of(clauses: int) -> str:
    if clauses >= 1_000_000 and clauses % 1_000_000 == 0:
        return f"{clauses // 1_000_000}m"
    if clauses >= 1000 and clauses % 1000 == 0:
        return f"{clauses // 1000}k"
    return str(clauses)


def disk_size(db: Path) -> tuple[int, list[str]]:
    """Bytes of the database and of every file or folder the build wrote next to it (<db>.index …)."""
    total = 0
    names = []
    for path in sorted(db.parent.iterdir()):
        if not path.name.startswith(db.name) or ".tmp" in path.name:
            continue
        names.append(path.name)
        if path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        else:
            total += path.stat().st_size
    return total, names


def db_facts(db: Path) -> dict[str, Any]:
    """Clauses, documents kept and set aside, and how many synthetic block departments the lexicon knew."""
    facts: dict[str, Any] = {}
    try:
        conn = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)
        try:
            facts["clauses"] = conn.execute("SELECT count(*) FROM clauses").fetchone()[0]
            try:
                rows = conn.execute("SELECT id, status, duplicate_of FROM documents").fetchall()
                facts["documents"] = sum(1 for r in rows if r[1] == "active")
                facts["set_aside"] = [f"{r[0]}→{r[2]}" for r in rows if r[1] != "active"]
            except sqlite3.DatabaseError as exc:
                facts["documents_error"] = str(exc)
            try:
                known, unknown = conn.execute(
                    "SELECT sum(department_key NOT LIKE 'x%'), sum(department_key LIKE 'x%') FROM clauses "
                    "WHERE document_id LIKE 'syn-%'"
                ).fetchone()
                facts["synthetic_dept_known"] = known or 0
                facts["synthetic_dept_adhoc"] = unknown or 0
                facts["adhoc_examples"] = [
                    r[0]
                    for r in conn.execute(
                        "SELECT DISTINCT department FROM clauses WHERE document_id LIKE 'syn-%' "
                        "AND department_key LIKE 'x%' LIMIT 6"
                    )
                ]
            except sqlite3.DatabaseError:
                pass
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        facts["error"] = str(exc)
    return facts


def db_signature(db: Path) -> tuple[int, int] | None:
    try:
        st = db.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def cli_env(db: Path, corpus: Path | None) -> dict[str, str]:
    """The CLI's environment: the database and, when given, the knowledge folder it was built from (the CLI
    then checks the database against that folder's sources, rebuilding it when they changed)."""
    env = {**os.environ, "SHUIGUAN_DB": str(db)}
    env.pop("SHUIGUAN_KNOWLEDGE_DIR", None)
    if corpus is not None:
        env["SHUIGUAN_KNOWLEDGE_DIR"] = str(corpus)
    return env


def cold_start(db: Path, corpus: Path | None, question: str, times: int = 3) -> dict[str, Any]:
    """A new `python -m bot ask --json` process: exec → its first JSON line on stdout, median of `times`."""
    env = cli_env(db, corpus)
    values: list[float] = []
    problems: list[str] = []
    for _ in range(times):
        start = time.perf_counter()
        proc = subprocess.Popen(
            [PYTHON, "-m", "bot", "ask", "--json", question],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        line = b""
        try:
            assert proc.stdout is not None
            deadline = start + COLD_LIMIT
            # readline blocks; a timer kills the process if it overstays, which ends the read.
            timer = threading.Timer(COLD_LIMIT, lambda p=proc: os.killpg(p.pid, signal.SIGKILL))
            timer.start()
            try:
                line = proc.stdout.readline()
            finally:
                timer.cancel()
            elapsed = time.perf_counter() - start
            if time.perf_counter() > deadline:
                problems.append(f"no answer within {COLD_LIMIT} s")
            _, err = proc.communicate(timeout=60)
            if not line.strip():
                problems.append(
                    f"no JSON line (exit {proc.returncode}): {err.decode(errors='replace')[-300:]}"
                )
            else:
                json.loads(line)
                values.append(elapsed)
        except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            problems.append(f"{type(exc).__name__}: {exc}")
    return {
        "median_s": round(statistics.median(values), 3) if values else None,
        "runs": values,
        "problems": problems,
    }


def score_dev(db: Path, corpus: Path, log: Path, mem_limit_gb: float) -> dict[str, Any]:
    if not SCORE.is_file() or not DEV.is_file():
        return {"error": f"{SCORE} or {DEV} missing"}
    cmd = [PYTHON, str(SCORE), str(DEV), "--", PYTHON, "-m", "bot"]
    run = run_child(
        cmd, timeout=SCORE_LIMIT, mem_limit_gb=mem_limit_gb, env=cli_env(db, corpus), log=log, measure=False
    )
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    out: dict[str, Any] = {"lines": lines, "ok": run.ok}
    if not run.ok:
        out["error"] = run.failure()
    text = run.stdout
    for key, pattern in (
        ("hit@1", r"who: \d+\s+hit@1 ([\d.]+)%"),
        ("hit@3", r"hit@3 ([\d.]+)%"),
        ("dept@1", r"dept@1 ([\d.]+)%"),
        ("confident_wrong", r"confident-wrong (\d+)"),
        ("refused", r"out-of-scope refused: (\d+/\d+)"),
        ("duties", r"duties: (\d+/\d+) names"),
        ("overall", r"overall ([\d.]+)"),
    ):
        if match := re.search(pattern, text):
            out[key] = match.group(1)
    return out


def measure_cold(res: dict[str, Any], db: Path, corpus: Path, signature: Any) -> Any:
    """Cold start as documented (SHUIGUAN_DB only), then with SHUIGUAN_KNOWLEDGE_DIR set, which makes the
    CLI check the database against every source file first; notes a CLI that rewrote the database."""
    notes: list[str] = res["notes"]
    for key, folder in (("cold", None), ("cold_checked", corpus)):
        res[key] = cold_start(db, folder, "工地扬尘归谁管")
        if res[key]["problems"]:
            notes.append(f"cold start ({key}): {res[key]['problems'][0]}")
        if db_signature(db) != signature:
            notes.append(
                f"`python -m bot ask` ({key}) rewrote the database: stale-input rebuild; clauses now "
                f"{db_facts(db).get('clauses')}"
            )
            res[f"db_after_{key}"] = db_facts(db)
            signature = db_signature(db)
    return signature


def recheck_cold(args: argparse.Namespace) -> None:
    """Re-measure only the cold start of each size's last result (its database must still be there)."""
    for result in collect(args)["results"]:
        label = result["label"]
        db = OUT / f"run-{label}" / "db" / "knowledge.db"
        corpus = ROOT / "knowledge" if label == "real" else OUT / f"corpus-{label}"
        if not db.is_file():
            continue
        result["notes"] = [
            n for n in result.get("notes", []) if not n.startswith(("cold start", "`python -m bot"))
        ]
        measure_cold(result, db, corpus, db_signature(db))
        result["cold_rechecked"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") + f", {revision()}"
        path = OUT / f"run-{label}" / "result.json"
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"{label}: cold {result['cold']['median_s']} s, checked {result['cold_checked']['median_s']} s")


def measure_size(label: str, clauses: int | None, args: argparse.Namespace) -> dict[str, Any]:
    """Everything for one size; each step's failure is recorded and the next step still runs when it can."""
    res: dict[str, Any] = {
        "label": label,
        "target_clauses": clauses,
        "notes": [],
        "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": revision(),
    }
    notes: list[str] = res["notes"]
    work = OUT / f"run-{label}"
    work.mkdir(parents=True, exist_ok=True)
    mem = args.mem_limit_gb

    # 1. the corpus
    if clauses is None:
        corpus = ROOT / "knowledge"
        regions = ["昌吉州", "昌吉回族自治州", "内蒙古"]
    else:
        corpus = OUT / f"corpus-{label}"
        stamp = synthetic.stamp_for(clauses, args.seed, False)
        t0 = time.perf_counter()
        if synthetic.is_current(corpus, stamp):
            res["generate"] = "reused"
        else:
            gen = run_child(
                [
                    PYTHON,
                    str(BENCH / "synthetic.py"),
                    "--clauses",
                    str(clauses),
                    "--out",
                    str(corpus),
                    "--seed",
                    str(args.seed),
                    "--check",
                    "300",
                ],
                timeout=1800,
                mem_limit_gb=mem,
                log=work / "generate",
            )
            res["generate"] = f"{time.perf_counter() - t0:.0f} s"
            if not gen.ok:
                res["error"] = f"generating the corpus failed: {gen.failure()}"
                return res
        summary = json.loads((corpus / "synthetic.json").read_text(encoding="utf-8"))
        if summary.get("overlap"):
            res["overlap"] = summary["overlap"]
        res["synthetic_documents"] = summary["documents"]
        res["lists"] = f"{summary['prefecture_lists']} prefecture + {summary['county_lists']} county"
        regions = [r["name"] for r in summary["regions"]]

    questions = make_questions(args.questions, regions, args.seed)
    qfile = work / "questions.txt"
    qfile.write_text("\n".join(questions) + "\n", encoding="utf-8")
    res["questions"] = len(questions)

    # 2. the build
    db = work / "db" / "knowledge.db"
    if args.reuse_build and db.is_file():
        res["build"] = {"reused": True}
    else:
        if db.parent.exists():
            shutil.rmtree(db.parent)
        db.parent.mkdir(parents=True)
        limit = next(
            (v for k, v in sorted(BUILD_LIMIT.items()) if (clauses or 0) <= k), max(BUILD_LIMIT.values())
        )
        build = run_child(
            [PYTHON, "-m", "bot", "build", "--db", str(db), "--knowledge", str(corpus)],
            timeout=limit,
            mem_limit_gb=mem,
            log=work / "build",
        )
        res["build"] = {
            "wall_s": round(build.wall_s, 1),
            "peak_rss_mb": round(build.peak_rss_mb, 0) if build.peak_rss_mb else None,
            "watched_peak_mb": round(build.watched_peak_mb, 0),
            "ok": build.ok,
            "report": [line for line in build.stdout.splitlines() if line.strip()][:40],
        }
        if not build.ok:
            res["build"]["error"] = build.failure()
            res["error"] = f"build failed: {build.failure()}"
            notes.append(f"build: {build.failure()}")
            notes.append(f"build output in {work.relative_to(ROOT)}/build.out and build.err")
            return res
    size, names = disk_size(db)
    res["disk_mb"] = round(size / 1024 / 1024, 1)
    res["disk_files"] = names
    res["db"] = db_facts(db)
    if res["db"].get("set_aside"):
        real_dropped = [s for s in res["db"]["set_aside"] if not s.startswith(("syn-", "im2015-copy2"))]
        if real_dropped:
            notes.append(f"a REAL document was set aside: {real_dropped}")
        syn_dropped = [s for s in res["db"]["set_aside"] if s.startswith("syn-")]
        if syn_dropped:
            notes.append(
                f"{len(syn_dropped)} synthetic lists set aside as near-duplicates: {syn_dropped[:5]}"
            )
    signature = db_signature(db)

    # 3. one serving process
    serve_run = run_child(
        [
            PYTHON,
            str(BENCH / "scale.py"),
            "--serve",
            str(db),
            "--questions-file",
            str(qfile),
            "--repeat",
            str(args.repeat),
        ],
        timeout=SERVE_LIMIT,
        mem_limit_gb=mem,
        log=work / "serve",
    )
    if serve_run.ok:
        res["serve"] = json.loads(serve_run.stdout.strip().splitlines()[-1])
    else:
        res["serve"] = {"error": serve_run.failure()}
        notes.append(f"serving process: {serve_run.failure()}")

    # 4. cold start
    signature = measure_cold(res, db, corpus, signature)

    # 5. dev quality
    res["dev"] = score_dev(db, corpus, work / "score", mem)
    if res["dev"].get("error"):
        notes.append(f"dev scoring: {res['dev']['error']}")
    if db_signature(db) != signature:
        notes.append("the CLI rewrote the database while scoring (stale-input rebuild)")
        res["db_after_score"] = db_facts(db)

    # 6. the naive reference
    if args.no_naive:
        res["naive"] = {"skipped": "--no-naive"}
    else:
        naive = run_child(
            [
                PYTHON,
                str(BENCH / "naive_reference.py"),
                "--db",
                str(db),
                "--questions",
                str(qfile),
                "--repeat",
                str(args.repeat),
                "--budget",
                str(NAIVE_BUDGET),
                "--max-gb",
                "8",
            ],
            timeout=NAIVE_BUDGET * 2,
            mem_limit_gb=min(mem, 10.0),
            log=work / "naive",
        )
        if naive.ok:
            res["naive"] = json.loads(naive.stdout.strip().splitlines()[-1])
            res["naive"]["peak_rss_mb"] = round(naive.peak_rss_mb or naive.watched_peak_mb, 0)
        else:
            res["naive"] = {"error": naive.failure()}
        if res["naive"].get("skipped"):
            notes.append(f"naive reference skipped: {res['naive']['skipped']}")
    (work / "result.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    return res


# ---------------------------------------------------------------------------------------------------------
# Report


def revision() -> str:
    """The commit measured, and whether the product code (knowledge/, bot/, handlers/) had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=30
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "knowledge", "bot", "handlers"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    state = (
        f"with uncommitted changes in {len(dirty.splitlines())} files of knowledge/, bot/ and handlers/"
        if dirty
        else "clean"
    )
    return f"commit {head or '?'} ({state})"


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    return (
        f"{os.cpu_count()} cores ({model or platform.processor() or platform.machine()}), "
        f"{mem_kb / 1024 / 1024:.1f} GB memory, {platform.python_implementation()} {platform.python_version()}"
    )


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _ratio(naive: Any, ours: Any) -> str:
    if isinstance(naive, int | float) and isinstance(ours, int | float) and ours > 0:
        return f"{naive / ours:.1f}×"
    return "—"


def _check(label: str, key: str, value: Any) -> str:
    target = TARGETS.get(label, {}).get(key)
    if target is None:
        return ""
    if not isinstance(value, int | float):
        return " ❌"
    return " ✅" if value <= target else " ❌"


def table(results: list[dict[str, Any]]) -> str:
    cols = [r["label"] for r in results]
    rows: list[tuple[str, list[str]]] = []

    def row(name: str, fn: Any) -> None:
        cells = []
        for r in results:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError, ValueError):
                cells.append("—")
        rows.append((name, cells))

    row("product revision measured", lambda r: r.get("revision", "?").replace("commit ", ""))
    row("clauses in the database", lambda r: _fmt(r["db"].get("clauses")))
    row(
        "documents kept (set aside)",
        lambda r: f"{r['db'].get('documents')} ({len(r['db'].get('set_aside', []))})",
    )
    row(
        "damaged copy 001 set aside",
        lambda r: "yes" if any(x.startswith("im2015-copy2") for x in r["db"]["set_aside"]) else "**no**",
    )
    row("synthetic lists", lambda r: r.get("lists", "real corpus only"))
    row("corpus generation", lambda r: r.get("generate", "—"))
    row(
        "build wall time",
        lambda r: (
            _fmt(r["build"].get("wall_s"), " s", 1) + _check(r["label"], "build_s", r["build"].get("wall_s"))
            if not r["build"].get("reused")
            else "reused"
        ),
    )
    row("build peak RSS, main process (time -v)", lambda r: _fmt(r["build"].get("peak_rss_mb"), " MB", 0))
    row("build peak RSS, process tree (sampled)", lambda r: _fmt(r["build"].get("watched_peak_mb"), " MB", 0))
    row("database + index on disk", lambda r: _fmt(r.get("disk_mb"), " MB", 1))
    row("load + warm-up in the serving process", lambda r: _fmt(r["serve"].get("load_s"), " s", 2))
    row(
        "ask p50",
        lambda r: (
            _fmt(r["serve"].get("p50_ms"), " ms") + _check(r["label"], "p50_ms", r["serve"].get("p50_ms"))
        ),
    )
    row("ask p95", lambda r: _fmt(r["serve"].get("p95_ms"), " ms"))
    row(
        "ask p99",
        lambda r: (
            _fmt(r["serve"].get("p99_ms"), " ms") + _check(r["label"], "p99_ms", r["serve"].get("p99_ms"))
        ),
    )
    row("ask max", lambda r: _fmt(r["serve"].get("max_ms"), " ms"))
    row(
        "serving process VmRSS / VmHWM",
        lambda r: (
            f"{r['serve']['status_kb']['VmRSS'] / 1024:.0f} / {r['serve']['status_kb']['VmHWM'] / 1024:.0f} MB"
            + _check(r["label"], "serve_mb", r["serve"]["status_kb"]["VmHWM"] / 1024)
        ),
    )
    row(
        "cold start, first answer (median of 3; SHUIGUAN_DB only)",
        lambda r: (
            _fmt(r["cold"].get("median_s"), " s") + _check(r["label"], "cold_s", r["cold"].get("median_s"))
        ),
    )
    row(
        "cold start with SHUIGUAN_KNOWLEDGE_DIR (sources checked)",
        lambda r: _fmt(r.get("cold_checked", {}).get("median_s"), " s"),
    )
    row("naive reference p50 / p99", lambda r: _naive_cell(r["naive"]))
    row("naive reference index build, peak RSS", lambda r: _naive_index(r["naive"]))
    row("naive ÷ ours, p50", lambda r: _ratio(r["naive"].get("p50_ms"), r["serve"].get("p50_ms")))
    row("naive ÷ ours, p99", lambda r: _ratio(r["naive"].get("p99_ms"), r["serve"].get("p99_ms")))
    row(
        "dev hit@1 / hit@3 / dept@1",
        lambda r: f"{r['dev']['hit@1']}% / {r['dev']['hit@3']}% / {r['dev']['dept@1']}%",
    )
    row(
        "dev confidently wrong, refused, duties",
        lambda r: f"{r['dev']['confident_wrong']}, {r['dev']['refused']}, {r['dev']['duties']}",
    )
    row("answered / refused (benchmark questions)", lambda r: _outcomes(r["serve"].get("outcomes", {})))
    out = ["| measure | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    out += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]
    return "\n".join(out)


def _naive_cell(naive: dict[str, Any]) -> str:
    if naive.get("skipped"):
        return "skipped (see notes)"
    if naive.get("error"):
        return "failed (see notes)"
    text = f"{_fmt(naive.get('p50_ms'), ' ms')} / {_fmt(naive.get('p99_ms'), ' ms')}"
    if naive.get("stopped"):
        text += f" ({naive['timed']} timed)"
    return text


def _naive_index(naive: dict[str, Any]) -> str:
    if "index_s" not in naive:
        return "—"
    return f"{naive['index_s']:.1f} s, {naive.get('peak_rss_mb', 0):.0f} MB"


def _outcomes(outcomes: dict[str, int]) -> str:
    refused = sum(v for k, v in outcomes.items() if k in ("refused", "no_topic"))
    return f"{sum(outcomes.values()) - refused} / {refused}"


def targets_text(results: list[dict[str, Any]]) -> list[str]:
    base = next((r for r in results if r["label"] == "real"), None)
    lines = [
        "Targets: 100k clauses p50 ≤ 3 ms, p99 ≤ 15 ms, build ≤ 90 s; 1M clauses p50 ≤ 15 ms, p99 ≤ 50 ms, "
        "serving memory ≤ 500 MB (VmHWM), cold start ≤ 2 s, build ≤ 10 min; dev figures unchanged at every "
        "size (✅/❌ in the table)."
    ]
    if base and base.get("dev", {}).get("hit@1"):
        keys = ("hit@1", "hit@3", "dept@1", "confident_wrong", "refused", "duties")
        for r in results:
            if r is base or "dev" not in r:
                continue
            changed = [
                f"{k} {base['dev'].get(k)} → {r['dev'].get(k)}"
                for k in keys
                if r["dev"].get(k) != base["dev"].get(k)
            ]
            lines.append(
                f"- dev figures at {r['label']}: "
                + ("unchanged ✅" if not changed else "changed ❌: " + "; ".join(changed))
            )
    return lines


def notes_text(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        for note in r.get("notes", []):
            lines.append(f"- {r['label']}: {note}")
        if r.get("error"):
            lines.append(f"- {r['label']}: **{r['error']}**")
        if r.get("overlap"):
            o = r["overlap"]
            lines.append(
                f"- {r['label']}: generator's near-duplicate check: 8-character shingle containment max "
                f"{o['max_between']:.2f} (mean {o['mean_between']:.2f}) over {o['pairs']} random pairs of "
                f"synthetic lists, max {o['max_against_real']:.2f} (mean {o['mean_against_real']:.2f}) of every "
                "synthetic list against 000 and 003 (the build sets a copy aside at 0.60)"
            )
        facts = r.get("db", {})
        if "set_aside" in facts and not any(x.startswith("im2015-copy2") for x in facts["set_aside"]):
            lines.append(
                f"- {r['label']}: the damaged copy 001 (im2015-copy2) was **not set aside**: its clauses are "
                "indexed beside 000's (duty counts of the 2015 departments double, traps can fail)"
            )
        if r.get("cold_rechecked"):
            lines.append(f"- {r['label']}: cold start re-measured alone ({r['cold_rechecked']})")
        naive = r.get("naive", {})
        if naive.get("stopped"):
            lines.append(
                f"- {r['label']}: naive reference: {naive['stopped']} after {naive.get('timed')} of "
                f"{naive.get('questions', 0) * naive.get('repeat', 1)} timings (its index took "
                f"{naive.get('index_s')} s; the run is bounded to {NAIVE_BUDGET} s)"
            )
        if naive.get("error"):
            lines.append(f"- {r['label']}: naive reference failed: {naive['error']}")
        if facts.get("synthetic_dept_adhoc"):
            lines.append(
                f"- {r['label']}: {facts['synthetic_dept_adhoc']} of "
                f"{facts['synthetic_dept_adhoc'] + facts.get('synthetic_dept_known', 0)} synthetic clauses got an "
                "ad-hoc department key (a block name the lexicon does not resolve, e.g. "
                + "、".join(facts.get("adhoc_examples", [])[:4])
                + ")"
            )
    return lines


def write_results(text: str) -> None:
    """Replace the "## National scale" section of bench/RESULTS.md where it stands, or append it."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# Benchmark results\n"
    section = text.rstrip("\n") + "\n"
    start = current.find(SECTION)
    if start < 0:
        RESULTS.write_text(current.rstrip("\n") + "\n\n" + section, encoding="utf-8")
        return
    end = current.find("\n## ", start + len(SECTION))
    after = current[end + 1 :] if end >= 0 else ""
    RESULTS.write_text(current[:start] + section + ("\n" + after if after else ""), encoding="utf-8")


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    start_rev, end_rev = meta.get("revision_at_start", "?"), meta.get("revision_at_end", "?")
    parts = [
        SECTION,
        "",
        f"Measured {meta['started']} with `.venv/bin/python bench/scale.py --sizes {meta['sizes']} --questions "
        f"{meta['questions']} --repeat {meta['repeat']}` (seed {meta['seed']}).",
        "",
        f"Product: {start_rev} at the start"
        + (f", {end_rev} at the end" if end_rev != start_rev else ", unchanged to the end")
        + ".",
        "",
        f"Machine: {machine()}. The machine is shared (another engineer's work ran at the same time), so "
        "absolute timings are noisy; the ratio to the naive reference, timed in the same run on the same "
        "questions, is the steadier figure.",
        "",
        "Corpora: the five real sources plus synthetic prefecture and county duty lists (bench/synthetic.py: "
        "003's format, real duty fragments of the same kind of department recombined, invented place names "
        "appended to lexicon/regions.toml). Questions: half the who/none questions of tests/eval and the shared "
        "dev set, half templated from their accepted phrases (X归谁管, 哪个部门负责X, <region>谁负责X). Latency "
        "is `KnowledgeBase.ask` in one process after warm-up and one untimed pass, over all questions × "
        "repeats; the naive reference is jieba (default dictionary) + `rank_bm25.BM25Okapi.get_scores` over "
        "every clause.",
        "",
        table(results),
        "",
        *targets_text(results),
        "",
    ]
    notes = notes_text(results)
    if notes:
        parts += ["Notes:", "", *notes, ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1m")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-naive", action="store_true", help="do not run the naive reference")
    parser.add_argument("--no-baseline", action="store_true", help="do not measure the real corpus first")
    parser.add_argument("--no-results", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--reuse-build", action="store_true", help="keep an existing database of a size")
    parser.add_argument(
        "--mem-limit-gb", type=float, default=20.0, help="kill a step above this resident size"
    )
    # internal: the serving process
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--questions-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--recheck-cold",
        action="store_true",
        help="re-measure only the cold start of each size's existing database, then report",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="report the last result of each of --sizes (bench/out/run-*/result.json) without measuring",
    )
    args = parser.parse_args(argv)

    if args.recheck_cold:
        recheck_cold(args)
    if args.report_only or args.recheck_cold:
        return render(collect(args), write=not args.no_results)
    if args.serve:
        questions = [q for q in args.questions_file.read_text(encoding="utf-8").splitlines() if q.strip()]
        print(json.dumps(serve(args.serve, questions, args.repeat, SERVE_LIMIT * 0.6), ensure_ascii=False))
        return 0

    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    args.revision_at_start = revision()
    OUT.mkdir(parents=True, exist_ok=True)
    sizes: list[tuple[str, int | None]] = [] if args.no_baseline else [("real", None)]
    for text in args.sizes.split(","):
        if text.strip():
            clauses = synthetic.parse_size(text)
            sizes.append((label_of(clauses), clauses))
    results = []
    for label, clauses in sizes:
        print(f"== {label}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            result = measure_size(label, clauses, args)
        except Exception as exc:  # record and go on with the next size
            result = {"label": label, "error": f"{type(exc).__name__}: {exc}", "notes": []}
        result.setdefault("build", {})
        for key in ("db", "serve", "cold", "dev", "naive"):
            result.setdefault(key, {})
        print(f"   {label} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        results.append(result)
        partial = {"meta": {"started": started, "partial": True}, "results": results}
        (OUT / "scale-results.json").write_text(json.dumps(partial, ensure_ascii=False, indent=1), "utf-8")
    meta = {
        "started": started,
        "sizes": args.sizes,
        "questions": args.questions,
        "repeat": args.repeat,
        "seed": args.seed,
        "revision_at_start": args.revision_at_start,
        "revision_at_end": revision(),
    }
    saved = {"meta": meta, "results": results}
    (OUT / "scale-results.json").write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")
    return render(saved, write=not args.no_results)


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """The last result of each size (bench/out/run-<size>/result.json), for a report over runs that were
    measured separately (a size re-run alone after a failure or an interruption)."""
    labels = ([] if args.no_baseline else ["real"]) + [
        label_of(synthetic.parse_size(t)) for t in args.sizes.split(",") if t.strip()
    ]
    results = []
    for label in labels:
        path = OUT / f"run-{label}" / "result.json"
        if path.is_file():
            result = json.loads(path.read_text(encoding="utf-8"))
            for key in ("build", "db", "serve", "cold", "dev", "naive"):
                result.setdefault(key, {})
            results.append(result)
    ordered = sorted(results, key=lambda r: r.get("measured", "?"))
    measured = [r.get("measured", "?") for r in ordered]
    revisions = [r.get("revision", "?") for r in ordered]
    meta = {
        "started": f"{measured[0]} – {measured[-1]} (sizes measured in separate runs)" if measured else "?",
        "sizes": args.sizes,
        "questions": args.questions,
        "repeat": args.repeat,
        "seed": args.seed,
        "revision_at_start": revisions[0] if revisions else "?",
        "revision_at_end": revisions[-1] if revisions else "?",
    }
    return {"meta": meta, "results": results}


def render(saved: dict[str, Any], *, write: bool) -> int:
    text = report(saved["results"], saved["meta"])
    print(text)
    if write:
        write_results(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
