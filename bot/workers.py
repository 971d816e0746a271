"""Several bot processes behind one receiver (BOT_WORKERS > 1).

Usage: BOT_WORKERS=2 python -m bot run

One python-telegram-bot process spends 5-7 ms of event-loop CPU per answer (bench/RESULTS.md): it cannot use
a second core. With BOT_WORKERS=N the `run` process becomes a supervisor:

- it receives updates as raw JSON — long polling (Telegram allows one getUpdates consumer per token; after a
  call that returned updates it pauses POLL_INTERVAL_BUSY so that calls return batches, not single updates) or,
  with WEBHOOK_URL, one webhook listener that checks the secret token — without building telegram objects;
- it hands each update to worker `routing.worker_for(update, N)`, so a chat's updates always reach the same
  worker, in the order received, and the chat's in-memory state (its answer lock, the answers kept for its
  「更多条款」 buttons, the update ids seen) stays in one process; what is shared (the chat's /region, usage and
  feedback) is in the usage database, which every worker opens;
- it confirms updates to Telegram (the next getUpdates offset, the webhook's 200) only after writing each to
  its worker, as PTB's own poller confirms only after queueing;
- it keeps every update until its worker reports it handled. A worker that dies is started again and given the
  updates it had not finished — at least once: an answer sent just before a crash may be sent twice, and the
  supervisor logs how many updates were replayed. A worker that dies MAX_RESTARTS times within RESTART_WINDOW
  seconds (e.g. it cannot open the database) stops the bot with exit code 1 instead of looping;
- on SIGTERM or SIGINT it stops receiving, confirms what it handed over, and closes the workers' input; each
  worker handles the updates it has, sends the answers under way and exits; the supervisor exits 0 when all
  have (a worker still busy after STOP_GRACE seconds is killed, and the exit code is 1).

Each worker is a whole bot (`bot.application.build_application` with no Updater, the same handlers), gets
1/N of TELEGRAM_RATE_LIMIT (group limits are per chat, and a chat lives in one worker), and calls
`process_update(Update.de_json(…))` for each line it receives. Workers are `multiprocessing` processes started
with "spawn": a fresh interpreter that inherits none of the supervisor's threads or locks (fork after threads can
deadlock), and that receives the frozen Settings object itself, so settings are read once and the token never
appears on a command line (that pickle goes from the supervisor to its own child; updates travel as JSON). The
channel is a socket pair per worker carrying one JSON line per update, and back one line per handled update id,
so both ends can use asyncio streams with back-pressure. A worker that hangs without dying is not detected.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any
from urllib.parse import urlparse

import httpx

from bot.knowledge_holder import KnowledgeHolder
from bot.logging_setup import configure_logging
from bot.routing import worker_for
from bot.settings import Settings
from knowledge.loading import prepare_database

log = logging.getLogger(__name__)
JSON = dict[str, Any]

POLL_TIMEOUT = 10  # seconds a getUpdates long poll may wait at Telegram (PTB's run_polling default)
POLL_LIMIT = 100  # updates per getUpdates (Telegram's maximum)
POLL_INTERVAL_BUSY = 0.02  # pause after a getUpdates that returned updates, so that the next one returns more
POLL_BACKOFF = (0.5, 1.0, 2.0, 4.0, 5.0)  # after a failed getUpdates; the last repeats
STARTUP_TIMEOUT = 120.0  # a worker loads the knowledge base and calls getMe before it is ready
STOP_GRACE = 8.0  # seconds the workers get after SIGTERM to send what they have
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
KNOWLEDGE_CHECK_SECONDS = 2.0  # how soon the other workers notice that /reload replaced the database
LINE_LIMIT = 1 << 22  # longest line on a worker channel; an update is a few kB
READY = b"ready"
ALL_UPDATE_TYPES: list[str] = []  # filled from telegram.Update.ALL_TYPES on first use (see _all_types)


class WorkerFailed(RuntimeError):
    """A worker could not start, or kept dying: the bot stops instead of losing chats silently."""


def _all_types() -> list[str]:
    if not ALL_UPDATE_TYPES:
        from telegram import Update

        ALL_UPDATE_TYPES.extend(Update.ALL_TYPES)
    return ALL_UPDATE_TYPES


# ============================================================================================== worker side


def worker_main(settings: Settings, index: int, sock: socket.socket) -> None:
    """Entry point of a spawned worker process."""
    # The supervisor decides when a worker stops (it closes the worker's input); a SIGINT or SIGTERM sent to the
    # whole process group must not cut a worker short while the supervisor is draining it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure_logging(settings, label=f"worker {index}")
    try:
        asyncio.run(_serve(settings, index, sock))
    except Exception:
        # Through logging, so the traceback is redacted (multiprocessing would print it raw to stderr).
        log.critical("worker %d failed", index, exc_info=True)
        raise SystemExit(1) from None


async def _serve(settings: Settings, index: int, sock: socket.socket) -> None:
    from telegram import Update

    from bot.application import build_application

    application = build_application(settings, worker=index)
    reader, writer = await asyncio.open_connection(sock=sock, limit=LINE_LIMIT)
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.start()
    services = application.bot_data["services"]
    watcher = asyncio.create_task(_watch_knowledge(services.knowledge))
    writer.write(READY + b"\n")
    await writer.drain()
    log.info("worker %d ready (pid %d)", index, os.getpid())

    async def handle(update: Update) -> None:
        try:
            await application.update_processor.process_update(update, application.process_update(update))
        finally:
            writer.write(b"%d\n" % update.update_id)

    tasks: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        data = json.loads(line)  # written by the supervisor: one JSON object with an int update_id
        try:
            update = Update.de_json(data, application.bot)
        except Exception:  # one malformed update must not kill the worker (and be replayed into the next one)
            log.error(
                "worker %d: update %s could not be read; skipped", index, data["update_id"], exc_info=True
            )
            writer.write(b"%d\n" % data["update_id"])
            continue
        task = asyncio.create_task(handle(update))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    # Input closed: the supervisor is stopping (or gone). Finish what was received, then stop like run_polling.
    log.info("worker %d: input closed, finishing %d updates", index, len(tasks))
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    watcher.cancel()
    await application.stop()
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


async def _watch_knowledge(holder: KnowledgeHolder) -> None:
    """/reload rebuilds the database in the one worker that received it; the others switch when they see it."""
    while True:
        await asyncio.sleep(KNOWLEDGE_CHECK_SECONDS)
        try:
            await asyncio.to_thread(holder.refresh_if_replaced)
        except Exception:  # a half-written or broken database: keep serving the loaded one, try again later
            log.warning("could not open the replaced knowledge database", exc_info=True)


# ========================================================================================== supervisor side


@dataclass
class Worker:
    """The supervisor's view of one worker process and its channel."""

    index: int
    process: BaseProcess | None = None
    writer: asyncio.StreamWriter | None = None
    # Updates written to this worker and not yet reported handled, in the order received: replayed to a
    # replacement if the worker dies.
    pending: OrderedDict[int, bytes] = field(default_factory=OrderedDict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    alive: bool = False
    deaths: deque[float] = field(default_factory=deque)
    listener: asyncio.Task[None] | None = None
    exited: asyncio.Future[int] | None = None  # the process's exit code, once it has exited (_exit_of)


def _exit_of(process: BaseProcess) -> asyncio.Future[int]:
    """A future for the process's exit code, watched on the event loop through its sentinel.

    Not `Process.join` in threads: two threads joining one process race on waitpid, and the loser sees no exit
    code for a process that has exited.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    def reap() -> None:
        process.join(0)
        if process.exitcode is None:  # the sentinel closes a moment before the exit status can be collected
            loop.call_later(0.01, reap)
        elif not future.done():
            future.set_result(process.exitcode)

    def closed() -> None:
        loop.remove_reader(process.sentinel)
        reap()

    loop.add_reader(process.sentinel, closed)
    return future


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.workers = [Worker(i) for i in range(settings.workers)]
        self.stopping = asyncio.Event()
        self.failure = ""
        self._context = multiprocessing.get_context("spawn")

    # ------------------------------------------------------------------------------- lifecycle
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        receiver: asyncio.Task[None] | None = None
        try:
            await asyncio.gather(*(self._start(w) for w in self.workers))
            log.info("%d workers ready", len(self.workers))
            receiver = asyncio.create_task(
                self._webhook() if self.settings.webhook_url else self._poll(), name="receiver"
            )
            receiver.add_done_callback(self._receiver_done)
            await self.stopping.wait()
        except WorkerFailed as exc:
            self.fail(str(exc))
        finally:
            self.stopping.set()
            if receiver is not None:
                await asyncio.gather(receiver, return_exceptions=True)
            clean = await self._stop_workers()
        if self.failure:
            log.error("stopped: %s", self.failure)
            return 1
        return 0 if clean else 1

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop requested: no new updates; workers finish what they have")
        self.stopping.set()

    def fail(self, reason: str) -> None:
        self.failure = self.failure or reason
        self.stopping.set()

    def _receiver_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("receiving updates failed", exc_info=task.exception())
            self.fail(f"receiving updates failed: {task.exception()!r}")

    # ------------------------------------------------------------------------------- workers
    async def _start(self, worker: Worker) -> None:
        """Spawn the worker, wait until it is ready, then give it the updates it still owes."""
        ours, theirs = socket.socketpair()
        process = self._context.Process(
            target=worker_main,
            args=(self.settings, worker.index, theirs),
            name=f"shuiguan-worker-{worker.index}",
        )
        # Process.start forks and execs a fresh interpreter at once; only waiting for it to load is slow.
        process.start()
        theirs.close()
        worker.exited = _exit_of(process)
        reader, writer = await asyncio.open_connection(sock=ours, limit=LINE_LIMIT)
        worker.process, worker.writer, worker.ready = process, writer, asyncio.Event()
        worker.listener = asyncio.create_task(self._listen(worker, reader))
        ready = asyncio.create_task(worker.ready.wait())
        done, _ = await asyncio.wait(
            {ready, worker.listener}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            process.kill()
            raise WorkerFailed(
                f"worker {worker.index} did not start (exit code {process.exitcode}); see its log lines above"
            )
        # Replay before accepting new updates, in the order they were received.
        for line in worker.pending.values():
            writer.write(line)
        if worker.pending:
            log.error("worker %d: replaying %d unfinished updates", worker.index, len(worker.pending))
        worker.alive = True
        if self.stopping.is_set() and writer.can_write_eof():
            writer.write_eof()  # replaced while the bot was stopping: finish the replayed updates, then exit
        await writer.drain()

    async def _listen(self, worker: Worker, reader: asyncio.StreamReader) -> None:
        """Reads "ready" and handled update ids until the worker's end closes, then deals with its exit."""
        while line := await reader.readline():
            line = line.strip()
            if line == READY:
                worker.ready.set()
            elif line.isdigit():
                worker.pending.pop(int(line), None)
        worker.alive = False
        if worker.exited is not None:
            await asyncio.wait({worker.exited}, timeout=STOP_GRACE)
        if self.stopping.is_set() or not worker.ready.is_set():
            return  # stopping as asked, or it never started (_start reports that)
        code = worker.process.exitcode if worker.process is not None else None
        now = time.monotonic()
        worker.deaths.append(now)
        while worker.deaths and worker.deaths[0] < now - RESTART_WINDOW:
            worker.deaths.popleft()
        if len(worker.deaths) >= MAX_RESTARTS:
            self.fail(f"worker {worker.index} died {len(worker.deaths)} times within {RESTART_WINDOW:.0f} s")
            return
        log.error(
            "worker %d exited unexpectedly (exit code %s) with %d unfinished updates: starting a replacement",
            worker.index,
            code,
            len(worker.pending),
        )
        try:
            await self._start(worker)
        except WorkerFailed as exc:
            self.fail(str(exc))

    async def hand(self, updates: Sequence[JSON]) -> None:
        """Write each update to its worker; returns once every worker's channel has taken them in."""
        touched: dict[int, Worker] = {}
        for update in updates:
            update_id = update.get("update_id")
            if not isinstance(update_id, int):
                log.warning("an update without update_id was skipped")
                continue
            worker = self.workers[worker_for(update, len(self.workers))]
            line = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            worker.pending[update_id] = line
            if worker.alive and worker.writer is not None:
                worker.writer.write(line)
                touched[worker.index] = worker
            # else: it is being replaced, and _start replays `pending` to the replacement.
        for worker in touched.values():
            if worker.writer is not None:
                with contextlib.suppress(ConnectionError):
                    await worker.writer.drain()

    async def _stop_workers(self) -> bool:
        """Close every worker's input and wait for it to exit; True when all exited 0 in time."""
        for worker in self.workers:
            if worker.writer is not None and worker.alive and worker.writer.can_write_eof():
                with contextlib.suppress(OSError):
                    worker.writer.write_eof()
        clean = True
        deadline = time.monotonic() + STOP_GRACE
        for worker in self.workers:
            process, exited = worker.process, worker.exited
            if process is None or exited is None:
                continue
            await asyncio.wait({exited}, timeout=max(0.1, deadline - time.monotonic()))
            if not exited.done():
                log.error(
                    "worker %d did not finish within %.0f s of the stop: killed", worker.index, STOP_GRACE
                )
                process.kill()
                await asyncio.wait({exited}, timeout=5.0)
                clean = False
            elif process.exitcode != 0:
                log.error("worker %d exited with code %s", worker.index, process.exitcode)
                clean = False
            if worker.listener is not None:
                await asyncio.gather(worker.listener, return_exceptions=True)
            if worker.writer is not None:
                worker.writer.close()
            if worker.pending:
                # Confirmed to Telegram but never handled: say so loudly, with how many.
                log.error("worker %d stopped with %d updates unhandled", worker.index, len(worker.pending))
                clean = False
        return clean

    # ------------------------------------------------------------------------------- long polling
    def _api(self, method: str) -> str:
        base = self.settings.base_url or "https://api.telegram.org/bot"
        return f"{base}{self.settings.token}/{method}"

    async def _poll(self) -> None:
        """getUpdates as raw JSON; the offset that confirms a batch is sent only after it was handed over."""
        offset = confirmed = 0
        failures = 0
        timeout = httpx.Timeout(10.0, read=POLL_TIMEOUT + 10.0)
        stop = asyncio.create_task(self.stopping.wait())
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                while not self.stopping.is_set():
                    request = asyncio.create_task(self._get_updates(client, offset, POLL_TIMEOUT))
                    await asyncio.wait({request, stop}, return_when=asyncio.FIRST_COMPLETED)
                    if not request.done():
                        # Updates in a response never read are not confirmed: Telegram sends them again later.
                        request.cancel()
                        await asyncio.gather(request, return_exceptions=True)
                        break
                    try:
                        updates = request.result()
                    except _PollError as exc:
                        if exc.fatal:
                            raise
                        delay = exc.retry_after or POLL_BACKOFF[min(failures, len(POLL_BACKOFF) - 1)]
                        failures += 1
                        log.warning("getUpdates failed (%s): retrying in %.1f s", exc, delay)
                        await asyncio.wait({stop}, timeout=delay)
                        continue
                    confirmed, failures = offset, 0
                    if updates:
                        await self.hand(updates)
                        offset = max(int(u.get("update_id", 0)) for u in updates) + 1
                        if len(updates) < POLL_LIMIT:
                            # Busy: let more updates gather before asking again (PTB's poll_interval). A call
                            # costs ~1.5 ms of CPU here; at 170 updates/s one per 1-2 updates took a fifth of a
                            # core (bench/RESULTS.md, session 3).
                            await asyncio.wait({stop}, timeout=POLL_INTERVAL_BUSY)
            finally:
                stop.cancel()
            if offset != confirmed:
                # As PTB does when it stops: one short call that confirms what was handed over.
                with contextlib.suppress(_PollError, httpx.HTTPError):
                    await self._get_updates(client, offset, 0, limit=1)

    async def _get_updates(
        self, client: httpx.AsyncClient, offset: int, timeout: int, limit: int = POLL_LIMIT
    ) -> list[JSON]:
        payload = {"offset": offset, "timeout": timeout, "limit": limit, "allowed_updates": _all_types()}
        try:
            response = await client.post(self._api("getUpdates"), json=payload)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            # httpx's messages may carry the URL, and the URL the token: name the kind of failure only.
            raise _PollError(type(exc).__name__) from None
        if isinstance(body, dict) and body.get("ok") and isinstance(body.get("result"), list):
            return [u for u in body["result"] if isinstance(u, dict)]
        body = body if isinstance(body, dict) else {}
        code = body.get("error_code", response.status_code)
        description = str(body.get("description", ""))[:200]
        retry_after = (body.get("parameters") or {}).get("retry_after")
        raise _PollError(
            f"{code} {description}",
            fatal=code in (401, 404),  # the token is wrong: retrying cannot help
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
        )

    # ------------------------------------------------------------------------------- webhook
    async def _webhook(self) -> None:
        """One listener for all workers; updates without the right secret-token header get 403."""
        import tornado.httpserver
        import tornado.web

        supervisor, secret = self, self.settings.webhook_secret

        class WebhookHandler(tornado.web.RequestHandler):
            async def post(self) -> None:
                given = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
                if not hmac.compare_digest(given.encode(), secret.encode()):
                    log.warning("webhook request without the right secret token refused")
                    self.set_status(403)
                    return
                try:
                    update = json.loads(self.request.body)
                except ValueError:
                    self.set_status(400)
                    return
                if not isinstance(update, dict) or supervisor.stopping.is_set():
                    # Stopping: Telegram delivers it again (to the next process) when it does not get a 200.
                    self.set_status(400 if not isinstance(update, dict) else 503)
                    return
                await supervisor.hand([update])
                self.set_status(200)

            def log_exception(self, *args: Any) -> None:  # tornado's own lines would show the request
                log.error("webhook request failed", exc_info=True)

        path = "/" + (urlparse(self.settings.webhook_url).path.lstrip("/") or "telegram")
        app = tornado.web.Application([(path, WebhookHandler)])
        server = tornado.httpserver.HTTPServer(app)
        server.listen(self.settings.webhook_port, address=self.settings.webhook_listen)
        try:
            payload = {
                "url": self.settings.webhook_url,
                "secret_token": secret,
                "allowed_updates": _all_types(),
            }
            async with httpx.AsyncClient(timeout=30.0) as client:
                response = await client.post(self._api("setWebhook"), json=payload)
            if not response.json().get("ok"):
                raise WorkerFailed(f"setWebhook refused: {str(response.json().get('description'))[:200]}")
            log.info(
                "webhook set; listening on %s:%d", self.settings.webhook_listen, self.settings.webhook_port
            )
            await self.stopping.wait()
        finally:
            server.stop()
            await server.close_all_connections()


class _PollError(Exception):
    def __init__(self, message: str, *, fatal: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.retry_after = retry_after


def run_workers(settings: Settings) -> int:
    """Build the knowledge database once (workers only open it), then supervise; the process's exit code."""
    configure_logging(settings, label="supervisor")
    prepare_database(settings.db_path, settings.knowledge_dir)
    return asyncio.run(Supervisor(settings).run())
