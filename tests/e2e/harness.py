"""Helpers for the reliability end-to-end tests (test_faults, test_load, test_webhook).

The bot is started by `conftest.start_bot` (with extra environment: TELEGRAM_RATE_LIMIT, WEBHOOK_*).
The rest counts what reached the fake: the replies in a chat, which of them are answers (an answer's last part
carries the 👍/👎 feedback buttons), how fast the bot sent to one chat, and the bot's memory.

Everything is bounded in time; nothing here talks to anything but loopback.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests import telegram_updates as tu
from tests.e2e.conftest import RunningBot
from tests.fake_bot_api import Call, FakeBotAPI

JSON = dict[str, Any]

# Questions whose answers are one message, in private chats and (shorter) in groups: one reply per question.
QUESTIONS = (
    "工地扬尘归谁管",
    "秸秆禁烧归谁管",
    "快递包装太多了，谁来管？",
    "餐饮油烟归谁管",
    "畜禽养殖污染归谁管",
    "危险废物归谁管",
    "机动车尾气归谁管",
    "农药化肥污染谁管",
    "矿山生态修复归谁管",
    "河道采砂归谁管",
    "森林防火归谁管",
    "放射源归谁管",
    "建筑垃圾归谁管",
    "烟花爆竹燃放污染谁管",
    "船舶污染归谁管",
    "地下水超采归谁管",
    "污水处理厂归谁管",
    "噪声扰民找谁",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------------- counting


def sends(fake: FakeBotAPI, chat_id: int | None = None, since: int = 0) -> list[Call]:
    """Successful sendMessage calls (to `chat_id`), from record index `since` on, in order."""
    return [
        c
        for c in fake.records[since:]
        if c.method == "sendMessage" and c.ok and (chat_id is None or c.params.get("chat_id") == chat_id)
    ]


def is_answer(call: Call) -> bool:
    """An answer's last message carries the feedback buttons (callback data f:<question id>:<0|1>)."""
    markup = call.params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    return any(str(button.get("callback_data", "")).startswith("f:") for row in rows for button in row)


def replied_to(call: Call) -> int | None:
    reply = call.params.get("reply_parameters")
    target = reply.get("message_id") if isinstance(reply, dict) else call.params.get("reply_to_message_id")
    return target if isinstance(target, int) else None


def answer_counts(fake: FakeBotAPI, chats: Iterable[int], since: int = 0) -> dict[int, tuple[int, int]]:
    """Per chat: (answers, other replies) among the successful sendMessage calls since `since`."""
    counts: dict[int, list[int]] = {chat: [0, 0] for chat in chats}
    for call in sends(fake, since=since):
        chat = call.params.get("chat_id")
        if isinstance(chat, int) and chat in counts:
            counts[chat][0 if is_answer(call) else 1] += 1
    return {chat: (n[0], n[1]) for chat, n in counts.items()}


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def wait_for_replies(
    bot: RunningBot, expected: Mapping[int, int], timeout: float, since: int = 0, settle: float = 1.0
) -> None:
    """Until every chat has at least `expected[chat]` replies (or `timeout`), then until the bot is quiet
    for `settle` seconds, so that a late duplicate is counted too. Does not assert: the caller counts."""

    def done() -> bool:
        got: dict[int, int] = defaultdict(int)
        for call in sends(bot.fake, since=since):
            chat = call.params.get("chat_id")
            if isinstance(chat, int):
                got[chat] += 1
        return all(got[chat] >= n for chat, n in expected.items()) or bot.process.poll() is not None

    wait_until(done, timeout)
    with contextlib.suppress(AssertionError):
        bot.wait_quiet(settle, timeout=max(10.0, settle * 4))


def calibrate(bot: RunningBot, questions: Sequence[str], first_chat: int) -> dict[str, str]:
    """The bot's reply text (as sent, HTML) for each question, asked once each from its own private chat;
    returns reply text → question. Fails if a question's answer is not one message or two look the same."""
    chats = {first_chat + n: q for n, q in enumerate(questions)}
    since = len(bot.fake.records)
    for chat, question in chats.items():
        bot.push(tu.private_message(chat, chat, question))
    wait_for_replies(bot, dict.fromkeys(chats, 1), timeout=60.0, since=since)
    signatures: dict[str, str] = {}
    for chat, question in chats.items():
        got = sends(bot.fake, chat, since)
        assert len(got) == 1 and is_answer(got[0]), (
            f"calibration: {question!r} should get one answer message, got {got}\n{bot.tail()}"
        )
        text = str(got[0].params["text"])
        assert text not in signatures, f"{question!r} and {signatures[text]!r} get the same answer"
        signatures[text] = question
    return signatures


# ------------------------------------------------------------------------------------------- rates


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most events in any `window` seconds."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def log_mark(bot: RunningBot) -> int:
    """Where the bot's stderr ends now, for `error_lines(bot, since=…)`."""
    return len(bot.stderr())


def error_lines(bot: RunningBot, since: int = 0, limit: int = 14) -> str:
    """The bot's ERROR/WARNING log lines and exception lines (after `since`), for failure messages."""
    lines = [
        line
        for line in bot.stderr()[since:].splitlines()
        if " ERROR " in line or " WARNING " in line or line.startswith(("telegram.", "httpx."))
    ]
    return "\n".join(lines[-limit:]) or "(no ERROR or WARNING lines)"
