"""End-to-end throughput of the Telegram path: the real bot process against the fake Bot API, open loop.

Usage: .venv/bin/python bench/telegram_load.py [--users 200] [--seconds 30] [--rate 170] [--warmup 3]
       [--drain 15] [--bot real|ask|ask-inline|echo] [--concurrency 16] [--workers 1] [--fake-as-is]
       [--json FILE] [--bot-log FILE]      (prints Markdown tables; results in bench/RESULTS.md)

What it does, all on loopback, bounded in time, and stopping everything it started:

1. builds the knowledge database once into a temporary directory and times the pieces of one answer:
   `KnowledgeBase.ask`, rendering and the usage log (on the disk the bot uses) in this process; the fake's
   own cost (sendMessage round trips with no bot); and, in a child process like the bot, the client-side CPU
   of PTB's `send_message` (one at a time and 64 at once), of a bare httpx POST and of `Update.de_json`;
2. starts `tests/fake_bot_api.FakeBotAPI` (subclassed here: timestamps, and two socket settings, see
   `TimedFakeBotAPI`) and the bot against it: `python -m bot run` with the environment of the brief, or with
   `--bot` a stand-in with the product's PTB settings doing only part of the work (a baseline); `--workers N`
   sets BOT_WORKERS=N (a supervisor and N worker processes, bot/workers.py; CPU and memory are then summed
   over the process tree);
3. pushes private-chat questions from `--users` distinct users (the `q` of the who/none lines of
   tests/eval/questions.jsonl, cycled) on a fixed schedule at `--rate` per second, never waiting for replies:
   `--warmup` seconds not counted, then `--seconds` measured; then waits up to `--drain` seconds for the rest;
4. matches the bot's successful sendMessage calls to questions by chat id and order, checks each reply's text
   against the answer rendered in this process, and reports throughput, latency (update available →
   sendMessage request arriving at the fake) split into waiting for getUpdates and time in the bot, errors,
   unanswered questions, duplicates, the bot's CPU (event-loop thread and worker threads) and RSS, and the
   CPU used by everything else on the machine; finally stops the bot with SIGTERM (SIGKILL after 10 s).

The fake's getUpdates answers at once when updates are queued and otherwise waits on a condition that
push_update notifies, so it adds no batching delay of its own; its sockets did (see `TimedFakeBotAPI`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.render_html import Button, Rendered, answer_messages  # noqa: E402
from bot.usage_log import UsageLog  # noqa: E402
from handlers.errors import APOLOGY  # noqa: E402
from knowledge.build import build_database  # noqa: E402
from knowledge.service import KnowledgeBase  # noqa: E402
from tests.fake_bot_api import Call, FakeBotAPI, _Handler  # noqa: E402
from tests.telegram_updates import private_chat, private_message  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from scale import revision  # noqa: E402

JSON = dict[str, Any]

BOT_TOKEN = "123456:LOAD-test-token"
PROBE_TOKEN = "654321:PROBE-fake-only"
PTB_PROBE_TOKEN = "654322:PROBE-ptb-client"
PROBE_CHAT = 42
FIRST_USER = 500_000_001
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
SETTLE_SECONDS = 1.0  # after the last reply, how long to keep watching for duplicates
TARGET_RATE = 150.0
PRODUCT_CONCURRENCY = 16  # bot/application.py: .concurrent_updates(16)
TARGET_P95_MS = 250.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------- the fake


class TimedFakeBotAPI(FakeBotAPI):
    """The fake as the tests use it, plus timestamps, and two socket settings that Telegram's servers share.

    `pushed_at[update_id]`: taken while still holding the lock that getUpdates needs, so no getUpdates can
    see the update before this instant. `done_at[call.index]`: when the answer to a call was ready (both
    time.monotonic, like `Call.at`). `server_errors`: connections that failed inside the fake's server.

    Unless `as_is` (`--fake-as-is`, for comparison): (1) TCP_NODELAY. The fake's handler writes each answer
    in two send()s (headers, then body) with Nagle's algorithm on, so the body waits for the ACK of the
    headers, which the client delays (~40 ms on Linux): every answer, getUpdates included, would arrive
    ~40 ms late. (2) A listen backlog of 256 instead of socketserver's 5, which resets some connections of a
    burst (the bot opening connections under load: httpx.ReadError in the bot, then its apology).
    """

    def __init__(self, *, as_is: bool = False) -> None:
        super().__init__()
        self.as_is = as_is
        self.pushed_at: dict[int, float] = {}
        self.done_at: dict[int, float] = {}
        self.server_errors: list[tuple[float, str]] = []

    def start(self) -> TimedFakeBotAPI:
        """FakeBotAPI.start, with TCP_NODELAY and a listen backlog of 256 unless `as_is`."""
        if self._server is not None:
            return self
        fake = self

        class Handler(_Handler):
            api = fake
            disable_nagle_algorithm = not fake.as_is

        class Server(ThreadingHTTPServer):
            # socketserver's default listen backlog is 5: a burst of new connections (the bot opening its
            # pool under load) overflows it and some are reset. Telegram's servers do not do that either.
            request_queue_size = 5 if fake.as_is else 256

            def handle_error(self, request: Any, client_address: Any) -> None:
                """Count a connection's exception (e.g. reset by the bot) instead of printing it."""
                fake.server_errors.append((time.monotonic(), repr(sys.exc_info()[1])))

        server = Server((self._host, 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeBotAPI", daemon=True
        )
        self._thread.start()
        return self

    def push_update(self, update: JSON) -> int:
        with self._cond:
            update_id = super().push_update(update)
            self.pushed_at[update_id] = time.monotonic()
        return update_id

    def _record(self, call: Call) -> None:
        super()._record(call)
        self.done_at[call.index] = time.monotonic()


# ------------------------------------------------------------------------------------------- helpers


def load_questions() -> list[str]:
    out = []
    for line in (ROOT / "tests/eval/questions.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item["type"] in ("who", "none"):
                out.append(item["q"])
    return out


def percentile(values: list[float], p: float) -> float:
    """Nearest rank; `values` may hold math.inf for questions never answered."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def ms(value: float, drain: float = 0.0) -> str:
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return f"> {drain:.0f} s (unanswered)"
    return f"{value * 1000:.0f}" if value >= 0.01 else f"{value * 1000:.1f}"


def proc_times(pid: int, tid: int | None = None) -> float:
    """utime + stime in seconds: of the whole process (all threads), or of one of its threads."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    stat = Path(path).read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_pids(pid: int) -> list[int]:
    """The process and its descendants (with BOT_WORKERS > 1 the bot is a supervisor and its workers)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def tree_times(pid: int) -> tuple[float, float, dict[int, float]]:
    """(all threads, main threads only, per process) CPU seconds over the process tree; exited ones are lost."""
    total = main = 0.0
    each: dict[int, float] = {}
    for member in tree_pids(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            each[member] = proc_times(member)
            total += each[member]
            main += proc_times(member, member)
    return total, main, each


def tree_status(pid: int) -> dict[str, str]:
    """VmRSS, VmHWM (summed, kB) and Threads (summed) over the process tree, as /proc/<pid>/status writes them."""
    sums = {"VmRSS": 0, "VmHWM": 0, "Threads": 0}
    members = tree_pids(pid)
    for member in members:
        with contextlib.suppress(OSError, ValueError, KeyError):
            status = proc_status(member)
            for key in sums:
                sums[key] += int(status[key].split()[0])
    out = {key: f"{value} kB" for key, value in sums.items() if key != "Threads"}
    out["Threads"] = (
        f"{sums['Threads']} in {len(members)} processes" if len(members) > 1 else str(sums["Threads"])
    )
    return out


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def machine_busy() -> tuple[float, float, float]:
    """(busy, steal, total) jiffies of all CPUs from /proc/stat, in seconds."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy / CLOCK_TICKS, steal / CLOCK_TICKS, sum(values[:8]) / CLOCK_TICKS


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@dataclass
class Sample:
    """CPU counters at one instant."""

    at: float
    bot: float
    bot_main: float  # the bot's main threads: the asyncio event loops (PTB, httpx, handler code)
    own: float
    busy: float
    steal: float
    per_process: dict[int, float] = field(default_factory=dict)

    @classmethod
    def take(cls, pid: int) -> Sample:
        times = os.times()
        busy, steal, _ = machine_busy()
        bot, bot_main, each = tree_times(pid)
        return cls(time.monotonic(), bot, bot_main, times.user + times.system, busy, steal, each)


# ------------------------------------------------------------------------------------------- components


@dataclass
class Components:
    build_s: float = 0.0
    ask: list[float] = field(default_factory=list)
    render: list[float] = field(default_factory=list)
    usage: list[float] = field(default_factory=list)
    fake_rtt: list[float] = field(default_factory=list)
    fake_handle: list[float] = field(default_factory=list)
    ptb_send: list[float] = field(default_factory=list)
    ptb_update: list[float] = field(default_factory=list)
    ptb_send_64: list[float] = field(default_factory=list)
    httpx_send: list[float] = field(default_factory=list)
    parts: dict[int, int] = field(default_factory=dict)
    samples: list[Rendered] = field(default_factory=list)


def expected_replies(kb: KnowledgeBase, questions: list[str], comp: Components) -> dict[str, list[str]]:
    """The text of each part the bot should send per question (private chat, no region), timing the pieces."""
    expected: dict[str, list[str]] = {}
    for _ in range(3):
        for q in questions:
            start = time.perf_counter()
            result = kb.ask(q)
            middle = time.perf_counter()
            rendered = answer_messages(result, question_id=1)
            comp.ask.append(middle - start)
            comp.render.append(time.perf_counter() - middle)
            expected[q] = [r.text for r in rendered]
            if len(comp.samples) < 50:
                comp.samples.extend(rendered)
    for texts in expected.values():
        comp.parts[len(texts)] = comp.parts.get(len(texts), 0) + 1
    return expected


def time_usage_log(path: Path, questions: list[str], comp: Components) -> None:
    """region() + record_question(), as the handler calls them per question, on the disk the bot uses."""
    usage = UsageLog(path, keep_text=True)
    try:
        for n, q in enumerate(questions * 2):
            start = time.perf_counter()
            usage.region(FIRST_USER + n % 200)
            usage.record_question(10_000_000 + n, "private", "answered", "某部门", q)
            comp.usage.append(time.perf_counter() - start)
    finally:
        usage.close()


def probe_fake(fake: TimedFakeBotAPI, texts: list[str], comp: Components, n: int = 400) -> None:
    """sendMessage round trips to the fake with no bot: form-encoded like PTB, keep-alive, sequential."""
    fake.add_chat(private_chat(PROBE_CHAT))
    markup = json.dumps({"inline_keyboard": [[{"text": "👍 有用", "callback_data": "f:1:1"}]]})
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    try:
        for i in range(n):
            body = urlencode(
                {
                    "chat_id": PROBE_CHAT,
                    "text": texts[i % len(texts)],
                    "parse_mode": "HTML",
                    "reply_markup": markup,
                    "disable_web_page_preview": "true",
                }
            )
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            start = time.perf_counter()
            conn.request("POST", f"/bot{PROBE_TOKEN}/sendMessage", body, headers)
            response = conn.getresponse()
            response.read()
            comp.fake_rtt.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"the fake refused a probe sendMessage: {response.status}")
    finally:
        conn.close()
    for call in fake.records:
        if call.token == PROBE_TOKEN:
            comp.fake_handle.append(fake.done_at[call.index] - call.at)


async def client_costs(base_url: str, samples: list[Rendered], n: int = 300) -> dict[str, list[float]]:
    """Client-side CPU per call of what the bot does per message, in a process of its own (like the bot).

    PTB's `send_message` as the product calls it (ExtBot with the same AIORateLimiter, HTML, a keyboard),
    one at a time and 64 at once (the bot's concurrent updates), a bare httpx POST of the same form, and
    `Update.de_json` of one private text message. CPU is this thread's: waiting for the fake costs nothing.
    """
    import httpx
    from telegram import Update
    from telegram.constants import ParseMode
    from telegram.ext import AIORateLimiter, ExtBot
    from telegram.request import HTTPXRequest

    from bot.application import MAX_RETRIES
    from handlers.common import keyboard

    out: dict[str, list[float]] = defaultdict(list)
    limiter = AIORateLimiter(overall_max_rate=1000, max_retries=MAX_RETRIES)
    request = HTTPXRequest(connection_pool_size=256)  # what ApplicationBuilder gives the bot
    async with ExtBot(PTB_PROBE_TOKEN, base_url=base_url, rate_limiter=limiter, request=request) as bot:

        async def send(part: Rendered) -> None:
            await bot.send_message(
                PROBE_CHAT,
                part.text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(part),
                disable_web_page_preview=True,
            )

        for i in range(n):
            start = time.thread_time()
            await send(samples[i % len(samples)])
            out["ptb_send"].append(time.thread_time() - start)

        async def sender(worker: int, rounds: int) -> None:
            for i in range(rounds):
                await send(samples[(worker + i) % len(samples)])

        for round_ in range(4):  # 64 at once; the first round opens the connections and is not counted
            start = time.thread_time()
            await asyncio.gather(*(sender(w, 5) for w in range(64)))
            if round_:
                out["ptb_send_64"].append((time.thread_time() - start) / (64 * 5))
        for i in range(n):
            update = {**private_message(FIRST_USER, FIRST_USER, "工地扬尘归谁管"), "update_id": i + 1}
            start = time.thread_time()
            Update.de_json(update, bot)
            out["ptb_update"].append(time.thread_time() - start)
    async with httpx.AsyncClient() as client:
        url = f"{base_url}{PTB_PROBE_TOKEN}/sendMessage"
        for i in range(n):
            part = samples[i % len(samples)]
            start = time.thread_time()
            response = await client.post(
                url,
                data={"chat_id": PROBE_CHAT, "text": part.text, "parse_mode": "HTML", "reply_markup": "{}"},
            )
            response.json()
            out["httpx_send"].append(time.thread_time() - start)
    return out


def measure_client_costs(fake: TimedFakeBotAPI, comp: Components) -> None:
    """Run `client_costs` in a child process against the fake (which runs threads in this one)."""
    fake.add_chat(private_chat(PROBE_CHAT))
    samples = [
        {"text": r.text, "buttons": [[[b.text, b.data, b.url] for b in row] for row in r.buttons]}
        for r in comp.samples
    ]
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--client-costs", fake.base_url],
        cwd=ROOT,
        input=json.dumps(samples, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    comp.ptb_send, comp.ptb_send_64 = figures["ptb_send"], figures["ptb_send_64"]
    comp.ptb_update, comp.httpx_send = figures["ptb_update"], figures["httpx_send"]


def serve_client_costs(base_url: str) -> None:
    """The child side of `measure_client_costs`: samples as JSON on stdin, figures as one JSON line."""
    samples = [
        Rendered(item["text"], tuple(tuple(Button(*b) for b in row) for row in item["buttons"]))
        for item in json.loads(sys.stdin.read())
    ]
    print(json.dumps(asyncio.run(client_costs(base_url, samples))))


# ------------------------------------------------------------------------------------------- the bot


def start_bot(
    fake: FakeBotAPI, db: Path, log_db: Path, workdir: Path, mode: str, concurrency: int, workers: int = 1
) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_BASE_URL": fake.base_url,
        "SHUIGUAN_DB": str(db),
        "SHUIGUAN_LOG_DB": str(log_db),
        "TELEGRAM_RATE_LIMIT": "1000",
        "LOG_LEVEL": "WARNING",
        "ADMIN_IDS": "",
        # Explicit, so a developer's .env cannot switch the bot to a webhook or change what it logs.
        "WEBHOOK_URL": "",
        "WEBHOOK_SECRET": "",
        "LOG_QUESTIONS": "true",
        "BOT_WORKERS": str(workers),
    }
    with (workdir / "bot-stderr.log").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"]
            if mode == "real" and concurrency == PRODUCT_CONCURRENCY
            else [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                mode,
                "--concurrency",
                str(concurrency),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited with {process.returncode}:\n{tail(workdir)}")
        if any(c.token == BOT_TOKEN and c.method == "getUpdates" for c in fake.records):
            return process
        time.sleep(0.1)
    stop_bot(process)
    raise RuntimeError(f"the bot did not poll within {STARTUP_TIMEOUT:.0f} s:\n{tail(workdir)}")


def stop_bot(process: subprocess.Popen[bytes]) -> float | None:
    """SIGTERM and wait; seconds to exit, or None if it had to be killed."""
    if process.poll() is not None:
        return 0.0
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        return None
    return time.monotonic() - started


def tail(workdir: Path, lines: int = 30) -> str:
    path = workdir / "bot-stderr.log"
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


BOTS = {
    "real": "the product: `python -m bot run`",
    "ask": "stand-in: PTB settings and send path of the product, `KnowledgeBase.ask` via `asyncio.to_thread`, "
    "rendering; no usage log",
    "ask-inline": "stand-in: as `ask`, but `KnowledgeBase.ask` called on the event loop",
    "echo": "stand-in: PTB settings and send path of the product, the answer rendered in advance",
}


def serve_product(concurrency: int) -> None:
    """The product (`python -m bot run`) with one setting overridden in this process: concurrent_updates.

    bot/application.py is not changed: ApplicationBuilder.concurrent_updates is wrapped before it runs.
    """
    from telegram.ext import ApplicationBuilder

    from bot.cli import main as cli_main

    original = ApplicationBuilder.concurrent_updates

    def forced(self: Any, concurrent_updates: Any) -> Any:
        return original(self, concurrency)

    ApplicationBuilder.concurrent_updates = forced  # type: ignore[method-assign]
    sys.exit(cli_main(["run"]))


def serve(mode: str, concurrency: int) -> None:
    """A stand-in bot for the baselines (in the subprocess, from the same environment as the product).

    Same Application settings as bot/application.py (AIORateLimiter, 64 concurrent updates, long polling)
    and the same send path (`handlers.common.send`); the handler does only part of the product's work, so
    comparing the bots' CPU per answered question tells where it goes.
    """
    from telegram import Update
    from telegram.ext import AIORateLimiter, Application, MessageHandler, filters

    from bot.application import MAX_RETRIES
    from bot.logging_setup import configure_logging
    from bot.settings import Settings
    from handlers.common import send

    if mode == "real":
        serve_product(concurrency)
        return
    settings = Settings.from_env()
    configure_logging(settings)
    kb = KnowledgeBase.open(settings.db_path)
    kb.warm_up()
    rendered = {q: answer_messages(kb.ask(q), question_id=1) for q in load_questions()}

    async def on_text(update: Update, context: Any) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        if mode == "ask":
            parts = answer_messages(await asyncio.to_thread(kb.ask, message.text), question_id=1)
        elif mode == "ask-inline":
            parts = answer_messages(kb.ask(message.text), question_id=1)
        else:
            parts = rendered[message.text]
        await send(message, parts, quote=False)

    application = (
        Application.builder()
        .token(settings.token)
        .base_url(settings.base_url)
        .rate_limiter(AIORateLimiter(overall_max_rate=settings.rate_limit, max_retries=MAX_RETRIES))
        .concurrent_updates(concurrency)
        .build()
    )
    text = filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(text, on_text))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


# ------------------------------------------------------------------------------------------- the load


@dataclass
class Question:
    k: int
    chat_id: int
    text: str
    measured: bool
    due: float = 0.0
    update_id: int = 0
    pushed: float = 0.0


@dataclass
class Run:
    questions: list[Question]
    window: tuple[float, float]
    samples: tuple[Sample, Sample]
    end_sample: Sample
    status: dict[str, str]
    drained_in: float
    stopped_at: float  # SIGTERM sent
    stop_seconds: float | None


def run_load(
    fake: TimedFakeBotAPI,
    process: subprocess.Popen[bytes],
    questions: list[str],
    expected: dict[str, list[str]],
    args: argparse.Namespace,
) -> Run:
    warm_n = round(args.warmup * args.rate)
    total = warm_n + round(args.seconds * args.rate)
    plan = [
        Question(k, FIRST_USER + k % args.users, questions[k % len(questions)], k >= warm_n)
        for k in range(total)
    ]
    updates = [private_message(q.chat_id, q.chat_id, q.text) for q in plan]
    t0 = time.monotonic() + 0.2
    window = (t0 + warm_n / args.rate, t0 + total / args.rate)
    start_sample: Sample | None = None
    next_check = t0
    for q, update in zip(plan, updates, strict=True):
        q.due = t0 + q.k / args.rate
        delay = q.due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if q.k == warm_n:
            start_sample = Sample.take(process.pid)
        q.update_id = fake.push_update(update)
        q.pushed = fake.pushed_at[q.update_id]
        if q.pushed >= next_check:
            next_check = q.pushed + 1.0
            if process.poll() is not None:
                raise RuntimeError(f"the bot exited with {process.returncode} during the run")
    assert start_sample is not None
    stop_sample = Sample.take(process.pid)

    # Drain: until every question has all its parts (or the deadline), then watch a little for duplicates.
    want: dict[int, int] = defaultdict(int)
    for q in plan:
        want[q.chat_id] += len(expected[q.text])
    drain_start = time.monotonic()
    deadline = drain_start + args.drain
    drained_in = math.inf
    while time.monotonic() < deadline:
        got: dict[int, int] = defaultdict(int)
        for c in fake.records:
            if c.token == BOT_TOKEN and c.method == "sendMessage" and c.ok:
                got[int(c.params["chat_id"])] += 1
        if all(got[chat] >= n for chat, n in want.items()):
            drained_in = time.monotonic() - drain_start
            time.sleep(SETTLE_SECONDS)
            break
        time.sleep(0.1)
    end_sample = Sample.take(process.pid)
    status = tree_status(process.pid)
    stopped_at = time.monotonic()
    stop_seconds = stop_bot(process)
    return Run(
        plan, window, (start_sample, stop_sample), end_sample, status, drained_in, stopped_at, stop_seconds
    )


# ------------------------------------------------------------------------------------------- analysis


def match_chat(
    asked: list[Question], got: list[Call], expected: dict[str, list[str]]
) -> tuple[list[Call], dict[int, list[Call | None]]]:
    """Replies of one chat (in arrival order) → the questions of that chat (in push order).

    By chat and order, made robust to replies overtaking each other (the bot handles updates concurrently):
    each expected part first takes the earliest unclaimed reply with exactly its text; parts left over then
    take the remaining replies in order (and count as text mismatches). Returns the replies nobody claimed
    (duplicates or extras) and, per question, its parts (None where no reply came).
    """
    free = list(got)
    taken: dict[int, list[Call | None]] = {}
    for q in asked:
        parts: list[Call | None] = []
        for text in expected[q.text]:
            found = next((c for c in free if c.params.get("text") == text), None)
            if found is not None:
                free.remove(found)
            parts.append(found)
        taken[q.k] = parts
    for q in asked:
        parts = taken[q.k]
        for i, part in enumerate(parts):
            if part is None and free:
                parts[i] = free.pop(0)
    return free, taken


def analyse(
    fake: TimedFakeBotAPI, run: Run, expected: dict[str, list[str]], args: argparse.Namespace
) -> JSON:
    records = [c for c in fake.records if c.token == BOT_TOKEN]
    errors = [c for c in records if not c.ok and c.at < run.stopped_at]
    shutdown_errors = [c for c in records if not c.ok and c.at >= run.stopped_at]
    apologies = [c.at for c in records if c.method == "sendMessage" and c.params.get("text") == APOLOGY]
    server_errors = [e for at, e in fake.server_errors if at < run.stopped_at]
    # Replies count up to SIGTERM (the end of the drain); PTB may keep answering its queue while it stops.
    all_sends = [c for c in records if c.method == "sendMessage" and c.ok]
    sends = sorted((c for c in all_sends if c.at < run.stopped_at), key=lambda c: c.at)
    polls = [c for c in records if c.method == "getUpdates" and c.ok]

    delivered: dict[int, float] = {}
    batch_sizes = []
    for c in polls:
        result = c.result or []
        if result:
            batch_sizes.append(len(result))
        for update in result:
            delivered.setdefault(int(update["update_id"]), fake.done_at[c.index])

    replies: dict[int, list[Call]] = defaultdict(list)
    for c in sends:
        replies[int(c.params["chat_id"])].append(c)
    by_chat: dict[int, list[Question]] = defaultdict(list)
    for q in run.questions:
        by_chat[q.chat_id].append(q)

    first_reply: dict[int, Call] = {}
    counts: dict[int, int] = defaultdict(int)  # k -> parts received
    mismatched = 0
    out_of_order = 0
    examples: list[str] = []
    extra = 0
    for chat_id, asked in by_chat.items():
        got, taken = match_chat(asked, replies.get(chat_id, []), expected)
        previous = -math.inf
        for q in asked:
            mine = taken[q.k]
            counts[q.k] = sum(1 for c in mine if c is not None)
            if mine and mine[0] is not None:
                first_reply[q.k] = mine[0]
                out_of_order += mine[0].at < previous
                previous = max(previous, mine[0].at)
            for c, t in zip(mine, expected[q.text], strict=True):
                if c is not None and c.params.get("text") != t:
                    mismatched += 1
                    examples.append(f"{q.text} → {str(c.params.get('text'))[:60]!r}, expected {t[:60]!r}")
        extra += len(got)

    measured = [q for q in run.questions if q.measured]
    start, end = run.window
    latency, fetch_wait, in_bot = [], [], []
    for q in measured:
        reply = first_reply.get(q.k)
        latency.append(reply.at - q.pushed if reply else math.inf)
        if reply and q.update_id in delivered:
            fetch_wait.append(delivered[q.update_id] - q.pushed)
            in_bot.append(reply.at - delivered[q.update_id])
    in_window = [c for c in first_reply.values() if start <= c.at < end]
    buckets = [0] * max(1, int(args.seconds))
    for c in in_window:
        buckets[min(len(buckets) - 1, int(c.at - start))] += 1
    seconds = end - start
    s0, s1 = run.samples
    bot_cpu = s1.bot - s0.bot
    own_cpu = s1.own - s0.own
    busy = s1.busy - s0.busy
    lateness = [q.pushed - q.due for q in run.questions]
    answered_measured = sum(1 for q in measured if q.k in first_reply)
    per_question = defaultdict(int)
    for q in run.questions:
        n_expected = len(expected[q.text])
        per_question["exact" if counts[q.k] == n_expected else "none" if counts[q.k] == 0 else "partial"] += 1
    send_service = [fake.done_at[c.index] - c.at for c in sends]
    return {
        "users": args.users,
        "workers": args.workers,
        "rate": args.rate,
        "seconds": round(seconds, 2),
        "questions_total": len(run.questions),
        "questions_measured": len(measured),
        "offered_rate": (len(measured) - 1) / (measured[-1].pushed - measured[0].pushed)
        if len(measured) > 1
        else math.nan,
        "push_late_p99_ms": percentile(lateness, 0.99) * 1000,
        "answered_in_window": len(in_window),
        "answered_per_s": len(in_window) / seconds,
        "per_second_min": min(buckets),
        "per_second_median": statistics.median(buckets),
        "answered_measured": answered_measured,
        "unanswered_measured": len(measured) - answered_measured,
        "latency": {p: percentile(latency, p / 100) for p in (50, 95, 99, 100)},
        "fetch_wait": {p: percentile(fetch_wait, p / 100) for p in (50, 95, 99)},
        "in_bot": {p: percentile(in_bot, p / 100) for p in (50, 95, 99)},
        "fake_send_service": {p: percentile(send_service, p / 100) for p in (50, 95, 99)},
        "errors": len(errors),
        "error_kinds": sorted({f"{c.method} {c.status} {c.description}" for c in errors})[:5],
        "replies_after_sigterm": len(all_sends) - len(sends),
        "shutdown_errors": len(shutdown_errors),
        "shutdown_error_kinds": sorted({f"{c.method} {c.status} {c.description}" for c in shutdown_errors})[
            :3
        ],
        "apologies": sum(1 for at in apologies if at < run.stopped_at),
        "apologies_after_sigterm": sum(1 for at in apologies if at >= run.stopped_at),
        "fake_connection_errors": len(server_errors),
        "fake_connection_error_kinds": sorted(set(server_errors))[:3],
        "fake_connection_errors_after_sigterm": len(fake.server_errors) - len(server_errors),
        "replies_ok": len(sends),
        "per_question": dict(per_question),
        "extra_replies": extra,
        "text_mismatches": mismatched,
        "out_of_order": out_of_order,
        "mismatch_examples": examples[:3],
        "polls": len(polls),
        "batch_mean": statistics.fmean(batch_sizes) if batch_sizes else 0.0,
        "batch_max": max(batch_sizes, default=0),
        "bot_cpu_cores": bot_cpu / seconds,
        "bot_cpu_ms_per_answer": bot_cpu / max(1, len(in_window)) * 1000,
        "bot_loop_cpu_cores": (s1.bot_main - s0.bot_main) / seconds,
        "bot_loop_ms_per_answer": (s1.bot_main - s0.bot_main) / max(1, len(in_window)) * 1000,
        "bench_cpu_cores": own_cpu / seconds,
        "others_cpu_cores": max(0.0, busy - bot_cpu - own_cpu) / seconds,
        "steal_cores": (s1.steal - s0.steal) / seconds,
        "bot_cpu_total_s": run.end_sample.bot,
        # The first process is the one started (the supervisor with BOT_WORKERS > 1), then its descendants.
        "bot_cpu_cores_by_process": [
            round((s1.per_process[p] - s0.per_process.get(p, 0.0)) / seconds, 3) for p in s1.per_process
        ],
        "bot_rss": run.status.get("VmRSS", "?"),
        "bot_hwm": run.status.get("VmHWM", "?"),
        "bot_threads": run.status.get("Threads", "?"),
        "drained_in_s": run.drained_in,
        "stop_seconds": run.stop_seconds,
    }


def report(r: JSON, comp: Components, args: argparse.Namespace) -> str:
    lat, fetch, inbot, svc = r["latency"], r["fetch_wait"], r["in_bot"], r["fake_send_service"]
    ok = (
        r["answered_per_s"] >= TARGET_RATE
        and lat[95] <= TARGET_P95_MS / 1000
        and r["unanswered_measured"] == 0
    )
    pq = r["per_question"]
    drained = "not within the drain" if math.isinf(r["drained_in_s"]) else f"{r['drained_in_s']:.1f} s"
    stop = "killed after 10 s" if r["stop_seconds"] is None else f"{r['stop_seconds']:.1f} s"
    rows = [
        (
            "bot",
            BOTS[args.bot]
            + ("" if args.concurrency == PRODUCT_CONCURRENCY else " (overridden)") * (args.bot == "real")
            + f"; concurrent_updates({args.concurrency})"
            + (
                f"; BOT_WORKERS={args.workers} (supervisor + {args.workers} workers)"
                if args.workers > 1
                else ""
            ),
        ),
        ("users (private chats)", f"{r['users']}"),
        (
            "fake's sockets",
            "as is (Nagle on, backlog 5)"
            if args.fake_as_is
            else "TCP_NODELAY, backlog 256 (see --fake-as-is)",
        ),
        (
            "offered rate (achieved)",
            f"{r['rate']:.0f}/s ({r['offered_rate']:.1f}/s; push p99 {r['push_late_p99_ms']:.1f} ms late)",
        ),
        ("questions in window / window", f"{r['questions_measured']} / {r['seconds']:.1f} s"),
        (
            "**answered/s sustained** (first reply in window)",
            f"**{r['answered_per_s']:.1f}/s** (per second: min {r['per_second_min']}, "
            f"median {r['per_second_median']:.0f})",
        ),
        (
            "**latency p50 / p95 / p99 / max** (update available → sendMessage arrives)",
            f"**{ms(lat[50], args.drain)} / {ms(lat[95], args.drain)} / {ms(lat[99], args.drain)} / "
            f"{ms(lat[100], args.drain)} ms**",
        ),
        (
            "… of which waiting for getUpdates, p50 / p95 / p99",
            f"{ms(fetch[50])} / {ms(fetch[95])} / {ms(fetch[99])} ms",
        ),
        ("… of which in the bot, p50 / p95 / p99", f"{ms(inbot[50])} / {ms(inbot[95])} / {ms(inbot[99])} ms"),
        ("getUpdates answered with updates: batch mean / max", f"{r['batch_mean']:.1f} / {r['batch_max']}"),
        (
            "errors (non-2xx answered to the bot) before SIGTERM; apologies sent (unhandled errors)",
            f"{r['errors']} {'; '.join(r['error_kinds'])}; {r['apologies']}",
        ),
        ("measured questions without reply", f"{r['unanswered_measured']} (all replies in: {drained})"),
        (
            "replies per question (all questions, warm-up included)",
            f"exactly as rendered: {pq.get('exact', 0)}, none: {pq.get('none', 0)}, "
            f"partial: {pq.get('partial', 0)}; duplicates/extra: {r['extra_replies']}",
        ),
        (
            "reply text ≠ the answer rendered in-process; replies overtaking an earlier one in the chat",
            f"{r['text_mismatches']}; {r['out_of_order']}",
        ),
        (
            "bot CPU in window",
            f"{r['bot_cpu_cores']:.2f} cores ({r['bot_cpu_ms_per_answer']:.2f} ms CPU per answered question)",
        ),
        (
            "… of which the event-loop thread / the worker threads (`asyncio.to_thread`)",
            f"{r['bot_loop_cpu_cores']:.2f} / {r['bot_cpu_cores'] - r['bot_loop_cpu_cores']:.2f} cores; "
            f"{r['bot_loop_ms_per_answer']:.2f} / {r['bot_cpu_ms_per_answer'] - r['bot_loop_ms_per_answer']:.2f}"
            " ms per answered question",
        ),
        (
            "bot CPU in window by process (the one started first, then its children)",
            " / ".join(f"{c:.2f}" for c in r["bot_cpu_cores_by_process"]) + " cores",
        ),
        (
            "bot at the end: CPU total / VmRSS / VmHWM / threads",
            f"{r['bot_cpu_total_s']:.1f} s / {r['bot_rss']} / {r['bot_hwm']} / {r['bot_threads']}",
        ),
        (
            "load generator + fake CPU / other processes / steal",
            f"{r['bench_cpu_cores']:.2f} / {r['others_cpu_cores']:.2f} / {r['steal_cores']:.2f} cores",
        ),
        (
            "fake's own sendMessage handling (inside the fake), p50 / p95 / p99",
            f"{ms(svc[50])} / {ms(svc[95])} / {ms(svc[99])} ms",
        ),
        (
            "connections the fake saw fail (reset …) before SIGTERM",
            f"{r['fake_connection_errors']} {'; '.join(r['fake_connection_error_kinds'])}".strip(),
        ),
        (
            "bot stop after SIGTERM; then: replies (not counted above), errors, apologies, failed connections",
            f"{stop}; {r['replies_after_sigterm']}, {r['shutdown_errors']} {'; '.join(r['shutdown_error_kinds'])}, "
            f"{r['apologies_after_sigterm']}, {r['fake_connection_errors_after_sigterm']}",
        ),
        (
            f"target ≥ {TARGET_RATE:.0f}/s, p95 ≤ {TARGET_P95_MS:.0f} ms",
            "**met**" if ok else "**not met**" if r["rate"] >= TARGET_RATE else "n/a (offered rate below it)",
        ),
    ]
    lines = ["| measure | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)]
    parts = ", ".join(f"{n} part{'s' if n > 1 else ''}: {c}" for n, c in sorted(comp.parts.items()))
    lines += [
        "",
        "| component, timed in the load process before the run | p50 | p95 | p99 |",
        "|---|---|---|---|",
    ]
    for name, values in (
        ("`KnowledgeBase.ask` (×3 over the questions)", comp.ask),
        ("`answer_messages` rendering", comp.render),
        ("`UsageLog.region` + `record_question` (same disk as the bot's)", comp.usage),
        ("fake sendMessage round trip, no bot (http.client keep-alive)", comp.fake_rtt),
        ("… of which inside the fake's `handle`", comp.fake_handle),
        ("PTB `send_message` to the fake, client-side CPU (as the product calls it)", comp.ptb_send),
        ("… the same, 64 at once (mean per call in each of 3 rounds of 320)", comp.ptb_send_64),
        ("bare httpx `AsyncClient.post` of a similar form, client-side CPU", comp.httpx_send),
        ("PTB `Update.de_json` of one private text message, CPU", comp.ptb_update),
    ):
        p50, p95, p99 = (percentile(values, p) for p in (0.5, 0.95, 0.99))
        lines.append(f"| {name} | {ms(p50)} ms | {ms(p95)} ms | {ms(p99)} ms |")
    lines.append(f"\nexpected reply parts per question: {parts}; knowledge build: {comp.build_s:.1f} s")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=170.0, help="questions per second, all users together")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=15.0)
    parser.add_argument(
        "--bot", choices=sorted(BOTS), default="real", help="the product, or a stand-in for a baseline"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=PRODUCT_CONCURRENCY,
        help="concurrent_updates: a stand-in's, or the product's overridden at run time (its code is unchanged)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="BOT_WORKERS for the product: worker processes behind one poller",
    )
    parser.add_argument("--serve", choices=sorted(BOTS), help=argparse.SUPPRESS)
    parser.add_argument("--client-costs", metavar="BASE_URL", help=argparse.SUPPRESS)
    parser.add_argument(
        "--fake-as-is",
        action="store_true",
        help="keep the fake's sockets as they are: Nagle on (~40 ms per answer), listen backlog 5",
    )
    parser.add_argument("--bot-log", type=Path, help="copy the bot's stderr to this file")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.concurrency)
        return
    if args.client_costs:
        serve_client_costs(args.client_costs)
        return
    if not (
        1 <= args.users <= 100_000
        and 0 < args.rate <= 5000
        and 1 <= args.seconds <= 600
        and args.concurrency >= 1
    ):
        parser.error("--users 1..100000, --rate 0..5000, --seconds 1..600, --concurrency ≥ 1")
    if args.workers != 1 and (args.bot != "real" or args.concurrency != PRODUCT_CONCURRENCY):
        parser.error("--workers applies to the product as it is (--bot real, default --concurrency)")
    args.warmup = min(max(args.warmup, 0.0), 60.0)
    args.drain = min(max(args.drain, 1.0), 120.0)

    print(
        f"machine: {os.cpu_count()} CPUs, {cpu_model()}, {platform.python_implementation()} "
        f"{platform.python_version()}; {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}; code: {revision()}")
    questions = load_questions()
    comp = Components()
    with tempfile.TemporaryDirectory(prefix="shuiguan-load-") as tmp:
        workdir = Path(tmp)
        db = workdir / "knowledge.db"
        start = time.perf_counter()
        build_database(db)
        comp.build_s = time.perf_counter() - start
        kb = KnowledgeBase.open(db)
        kb.warm_up()
        expected = expected_replies(kb, questions, comp)
        del kb
        time_usage_log(workdir / "usage-probe.db", questions, comp)
        fake = TimedFakeBotAPI(as_is=args.fake_as_is)
        fake.start()
        process: subprocess.Popen[bytes] | None = None
        try:
            probe_fake(fake, [t for texts in expected.values() for t in texts], comp)
            measure_client_costs(fake, comp)
            process = start_bot(
                fake, db, workdir / "usage.db", workdir, args.bot, args.concurrency, args.workers
            )
            time.sleep(0.5)  # post_init's set_my_commands, then the first long poll
            run = run_load(fake, process, questions, expected, args)
            result = analyse(fake, run, expected, args)
        except BaseException:
            if process is not None:
                print(tail(workdir), file=sys.stderr)
            raise
        finally:
            if process is not None:
                stop_bot(process)
            fake.stop()
        stderr_tail = tail(workdir, 10)
        if args.bot_log:
            args.bot_log.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(workdir / "bot-stderr.log", args.bot_log)
    print(report(result, comp, args))
    if stderr_tail.strip():
        print(f"\nbot stderr (last lines):\n{stderr_tail}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        component_figures = {
            name: {p: percentile(values, p / 100) for p in (50, 95, 99)}
            for name, values in (
                ("ask", comp.ask),
                ("render", comp.render),
                ("usage_log", comp.usage),
                ("fake_rtt", comp.fake_rtt),
                ("fake_handle", comp.fake_handle),
                ("ptb_send_cpu", comp.ptb_send),
                ("httpx_send_cpu", comp.httpx_send),
                ("ptb_update_cpu", comp.ptb_update),
                ("ptb_send_64_cpu", comp.ptb_send_64),
            )
        }
        payload = {**result, "components": component_figures}
        args.json.write_text(json.dumps(payload, default=str, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
