"""The real bot (`python -m bot run`) as a subprocess talking to the fake Bot API on loopback.

`RunningBot` owns the process and the fake; `start_bot` waits until the bot long-polls (or its webhook is set), and `stop`
sends SIGTERM and waits. The knowledge database is the session's (tests/conftest.py `real_db`), copied
per bot process because /reload rebuilds the database in place.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from knowledge.build import index_path
from tests.conftest import ROOT
from tests.fake_bot_api import Call, FakeBotAPI
from tests.telegram_updates import private_chat

JSON = dict[str, Any]

BOT_TOKEN = "123456:TEST-token-value"
TOKEN_SECRET = "TEST-token-value"
ADMIN_ID = 111
STARTUP_TIMEOUT = 90.0
REPLY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


@dataclass
class RunningBot:
    fake: FakeBotAPI
    process: subprocess.Popen[bytes]
    stderr_path: Path
    stdout_path: Path
    _files: list[IO[bytes]] = field(default_factory=list)

    # -------------------------------------------------------------- process
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace") + self.stderr()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.stderr().splitlines()[-lines:])

    def assert_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise AssertionError(f"the bot exited with code {code}; its stderr ends with:\n{self.tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> float | None:
        """SIGTERM, then wait; returns the seconds it took to exit, or None if it had to be killed."""
        try:
            if self.process.poll() is not None:
                return 0.0
            started = time.monotonic()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                return None
            return time.monotonic() - started
        finally:
            for f in self._files:
                f.close()
            self._files.clear()

    # -------------------------------------------------------------- talking
    def push(self, update: JSON) -> JSON:
        """Queue the update; returns it with its update_id."""
        self.assert_alive()
        return {**update, "update_id": self.fake.push_update(update)}

    def expect(
        self,
        method: str,
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = REPLY_TIMEOUT,
        *,
        skip_failed: bool = False,
    ) -> Call:
        """The next matching call, which must have succeeded (or the next successful one: `skip_failed`)."""
        try:
            call = self.fake.wait_for_call(method, predicate, timeout, ok=True if skip_failed else None)
        except AssertionError as exc:
            code = self.process.poll()
            state = f"bot exited with {code}" if code is not None else "bot still running"
            raise AssertionError(f"{exc}\n({state}; stderr ends with:)\n{self.tail()}") from None
        assert call.ok, f"the fake refused the bot's {method}: {call!r}"
        return call

    def reply(
        self,
        chat_id: int,
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = REPLY_TIMEOUT,
        *,
        skip_failed: bool = False,
    ) -> Call:
        """The next sendMessage to `chat_id` (matching `predicate`), which must have succeeded."""
        return self.expect(
            "sendMessage",
            lambda p: p.get("chat_id") == chat_id and (predicate is None or predicate(p)),
            timeout,
            skip_failed=skip_failed,
        )

    def wait_quiet(self, seconds: float = 0.5, timeout: float = 10.0) -> None:
        """Until the bot made no call but getUpdates for `seconds` (e.g. trailing parts of an answer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = [c.index for c in self.fake.records if c.method != "getUpdates"]
            time.sleep(seconds)
            after = [c.index for c in self.fake.records if c.method != "getUpdates"]
            if before == after:
                return
        raise AssertionError("the bot kept calling the API")


def bot_env(
    fake: FakeBotAPI, db_path: Path, log_db: Path, admin_ids: str, log_level: str = "INFO"
) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_BASE_URL": fake.base_url,
        "ADMIN_IDS": admin_ids,
        "SHUIGUAN_LOG_DB": str(log_db),
        "SHUIGUAN_DB": str(db_path),
        "PATH": os.environ.get("PATH", ""),
        # Explicit, so a developer's .env cannot switch the bot to a webhook or another level.
        "WEBHOOK_URL": "",
        "WEBHOOK_SECRET": "",
        "LOG_LEVEL": log_level,
        "LOG_QUESTIONS": "true",
    }


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_bot(
    fake: FakeBotAPI,
    workdir: Path,
    source_db: Path,
    env: Mapping[str, str] | None = None,
    *,
    admin_ids: str = str(ADMIN_ID),
    log_level: str = "INFO",
    webhook_port: int | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> RunningBot:
    """Start `python -m bot run` with `env` on top of the e2e defaults; wait for its first poll (or, with
    `webhook_port`, for setWebhook at the fake and the port accepting connections)."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "knowledge.db"
    shutil.copyfile(source_db, db_path)
    shutil.copyfile(index_path(source_db), index_path(db_path))
    stderr_path, stdout_path = workdir / "bot-stderr.log", workdir / "bot-stdout.log"
    full_env = {**bot_env(fake, db_path, workdir / "usage.db", admin_ids, log_level), **(env or {})}
    first_index = len(fake.records)
    stderr_file, stdout_file = stderr_path.open("wb"), stdout_path.open("wb")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=stdout_file,
            stderr=stderr_file,
        )
    except BaseException:
        stderr_file.close()
        stdout_file.close()
        raise
    bot = RunningBot(fake, process, stderr_path, stdout_path, [stderr_file, stdout_file])
    deadline = time.monotonic() + startup_timeout
    wanted = "setWebhook" if webhook_port is not None else "getUpdates"
    try:
        while True:
            bot.assert_alive()
            seen = any(c.method == wanted and c.ok for c in fake.records[first_index:])
            if seen and (webhook_port is None or _port_open(webhook_port)):
                return bot
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot was not ready within {startup_timeout:.0f}s:\n{bot.tail()}")
            time.sleep(0.1)
    except BaseException:
        bot.stop()
        raise


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as fake:
        # The admin has talked to the bot before (Telegram only accepts chat-scoped commands for known chats).
        fake.add_chat(private_chat(ADMIN_ID))
        yield fake


@pytest.fixture(scope="module")
def bot(
    fake_api: FakeBotAPI, real_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    running = start_bot(fake_api, tmp_path_factory.mktemp("e2e-bot"), real_db)
    try:
        yield running
    finally:
        running.stop()
