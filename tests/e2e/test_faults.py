"""Faults from the Bot API: the bot survives them, recovers, and every question gets exactly one answer.

The real bot process runs against the fake Bot API (loopback). Each test injects one kind of trouble —
5xx answers, a request held past the client's timeout, dropped connections, a 429 storm, 409 Conflict on
getUpdates as when two instances poll — while questions are asked, one per private chat, so that the replies
in a chat are the replies to that question. "Answered exactly once" means exactly one successful sendMessage
carrying the answer's feedback buttons and no other message (an apology instead of the answer is a loss).

The SIGTERM test stops a bot with answers still going out, then starts another against the same fake.
The last test sends an oversized inline query and forged callback data.

Every finding is recorded with the `reliability` fixture (area "Faults") for RELIABILITY.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests import telegram_updates as tu
from tests.e2e.conftest import RunningBot, start_bot
from tests.e2e.harness import (
    QUESTIONS,
    answer_counts,
    error_lines,
    log_mark,
    sends,
    wait_for_replies,
    wait_until,
)
from tests.fake_bot_api import JSON, Call, FakeBotAPI
from tests.reliability import Recorder

AREA = "Faults"
STORM_SECONDS = 5.0
CONFLICT_SECONDS = 4.0
HANG_MAX_SECONDS = 20.0
SIGTERM_QUESTIONS = 50
DOWN_QUESTIONS = 20
EXIT_WITHIN = 15.0


@pytest.fixture(scope="module")
def fault_fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def fault_bot(
    fault_fake: FakeBotAPI, real_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    running = start_bot(fault_fake, tmp_path_factory.mktemp("faults-bot"), real_db)
    try:
        yield running
    finally:
        running.stop()


def ask(bot: RunningBot, chats: Sequence[int]) -> None:
    for n, chat in enumerate(chats):
        bot.push(tu.private_message(chat, chat, QUESTIONS[n % len(QUESTIONS)]))


def outcome(bot: RunningBot, chats: Sequence[int], since: int) -> tuple[int, list[str]]:
    """How many chats got exactly one answer and nothing else, and a line for each that did not."""
    counts = answer_counts(bot.fake, chats, since)
    bad = [
        f"chat {chat}: {a} answers, {o} other replies" for chat, (a, o) in counts.items() if (a, o) != (1, 0)
    ]
    return len(chats) - len(bad), bad


def follow_up(bot: RunningBot, chat: int, timeout: float = 20.0) -> bool:
    """After the fault: a new question is answered (the bot recovered)."""
    since = len(bot.fake.records)
    ask(bot, [chat])
    wait_for_replies(bot, {chat: 1}, timeout, since=since, settle=0.3)
    return answer_counts(bot.fake, [chat], since)[chat] == (1, 0)


def report(bot: RunningBot, bad: list[str], calls: Sequence[Call], log_from: int) -> str:
    shown = "\n  ".join(repr(c) for c in calls[-12:])
    return (
        "questions not answered exactly once:\n  "
        + "\n  ".join(bad)
        + (f"\nthe fake's answers to the bot:\n  {shown}" if shown else "")
        + f"\nthe bot's log:\n{error_lines(bot, log_from)}"
    )


def param_is(key: str, value: object) -> Callable[[JSON], bool]:
    return lambda params: params.get(key) == value


def attempts(fake: FakeBotAPI, since: int, chats: Sequence[int]) -> list[Call]:
    wanted = set(chats)
    return [
        c for c in fake.records[since:] if c.method == "sendMessage" and c.params.get("chat_id") in wanted
    ]


# ------------------------------------------------------------------------------------------ faults


def test_5xx_on_send_message(fault_bot: RunningBot, reliability: Recorder) -> None:
    bot, fake = fault_bot, fault_bot.fake
    mark = log_mark(bot)
    chats = list(range(51001, 51006))
    since = len(fake.records)
    fake.fail_next("sendMessage", 502, "Bad Gateway", times=3)
    fake.fail_next("sendMessage", 503, "Service Unavailable")
    fake.fail_next("sendMessage", 500, "Internal Server Error")
    ask(bot, chats)
    wait_for_replies(bot, dict.fromkeys(chats, 1), timeout=20.0, since=since)
    held, bad = outcome(bot, chats, since)
    bot.assert_alive()
    recovered = follow_up(bot, 51009)
    served = sum(1 for c in attempts(fake, since, chats) if c.injected)
    reliability.record(
        AREA,
        "5xx on sendMessage (3 × 502, 503, 500): each question answered exactly once",
        len(chats),
        held,
        f"{served} error answers served; bot alive; next question answered: {'yes' if recovered else 'no'}",
    )
    assert not bad, report(bot, bad, attempts(fake, since, chats), mark)
    assert recovered, f"a question after the 5xx was not answered:\n{error_lines(bot, mark)}"


def test_send_message_held_past_the_client_timeout(fault_bot: RunningBot, reliability: Recorder) -> None:
    """The fake holds a sendMessage unanswered until the bot's HTTP client gives up (≤ 20 s), doing nothing."""
    bot, fake = fault_bot, fault_bot.fake
    mark = log_mark(bot)
    chats = list(range(51101, 51104))
    bot.wait_quiet()
    since = len(fake.records)
    fake.hang_next("sendMessage", times=1, max_seconds=HANG_MAX_SECONDS)
    ask(bot, chats)
    wait_for_replies(bot, dict.fromkeys(chats, 1), timeout=HANG_MAX_SECONDS + 10.0, since=since, settle=2.0)
    wait_until(lambda: all(c.held_seconds > 0 for c in attempts(fake, since, chats) if c.status == 0), 25.0)
    held_calls = [c for c in attempts(fake, since, chats) if c.injected]
    held_for = max((c.held_seconds for c in held_calls), default=0.0)
    held, bad = outcome(bot, chats, since)
    bot.assert_alive()
    recovered = follow_up(bot, 51109)
    reliability.record(
        AREA,
        "sendMessage held unanswered past the client's timeout: each question answered exactly once",
        len(chats),
        held,
        f"request held {held_for:.1f} s until the bot's client gave up; bot alive; "
        f"next question answered: {'yes' if recovered else 'no'}",
    )
    assert held_calls, "the fake held no sendMessage"
    assert held_for < HANG_MAX_SECONDS, "the bot's HTTP client never timed out the held request"
    assert not bad, report(bot, bad, attempts(fake, since, chats), mark)
    assert recovered, f"a question after the timeout was not answered:\n{error_lines(bot, mark)}"


def test_dropped_connections(fault_bot: RunningBot, reliability: Recorder) -> None:
    bot, fake = fault_bot, fault_bot.fake
    mark = log_mark(bot)
    chats = list(range(51201, 51205))
    bot.wait_quiet()
    since = len(fake.records)
    fake.drop_next("sendMessage", times=2)
    ask(bot, chats)
    wait_for_replies(bot, dict.fromkeys(chats, 1), timeout=20.0, since=since)
    held, bad = outcome(bot, chats, since)
    bot.assert_alive()
    recovered = follow_up(bot, 51209)
    reliability.record(
        AREA,
        "sendMessage connection dropped unanswered (2 ×): each question answered exactly once",
        len(chats),
        held,
        f"bot alive; next question answered: {'yes' if recovered else 'no'}",
    )
    assert not bad, report(bot, bad, attempts(fake, since, chats), mark)
    assert recovered, f"a question after the dropped connections was not answered:\n{error_lines(bot, mark)}"


def test_429_storm_across_chats(fault_bot: RunningBot, reliability: Recorder) -> None:
    """For 5 s every sendMessage gets 429 retry_after=1 (and each opens that chat's flood-wait window), longer
    than three retries of 1.1 s; once it is over every question must still get its answer, once."""
    bot, fake = fault_bot, fault_bot.fake
    mark = log_mark(bot)
    chats = list(range(51301, 51309))
    bot.wait_quiet()
    since = len(fake.records)
    fake.fail_for("sendMessage", STORM_SECONDS, 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    ask(bot, chats)
    wait_for_replies(bot, dict.fromkeys(chats, 1), timeout=STORM_SECONDS + 15.0, since=since, settle=2.0)
    tried = attempts(fake, since, chats)
    storm_429 = sum(1 for c in tried if c.status == 429)
    per_chat = {
        chat: sum(1 for c in tried if c.status == 429 and c.params["chat_id"] == chat) for chat in chats
    }
    delivered = [c.at for c in sends(fake, since=since) if c.params.get("chat_id") in chats]
    last = f"last answer {max(delivered) - started:.1f} s after the questions" if delivered else "no answer"
    held, bad = outcome(bot, chats, since)
    bot.assert_alive()
    recovered = follow_up(bot, 51319)
    reliability.record(
        AREA,
        f"429 storm ({STORM_SECONDS:.0f} s of retry_after=1 across {len(chats)} chats): "
        "each question answered exactly once",
        len(chats),
        held,
        f"{storm_429} × 429 served (per chat {min(per_chat.values())}–{max(per_chat.values())}); "
        f"{last}; "
        f"next question answered: {'yes' if recovered else 'no'}",
    )
    assert not bad, report(bot, bad, tried, mark) + (
        f"\n429s per chat: {per_chat} (AIORateLimiter gives up after max_retries retries)"
    )
    assert recovered, f"a question after the 429 storm was not answered:\n{error_lines(bot, mark)}"


def test_409_conflict_on_get_updates(fault_bot: RunningBot, reliability: Recorder) -> None:
    """As when a second instance polls: getUpdates answers 409 Conflict for 4 s."""
    bot, fake = fault_bot, fault_bot.fake
    mark = log_mark(bot)
    chats = list(range(51401, 51406))
    bot.wait_quiet()
    since = len(fake.records)
    fake.fail_for(
        "getUpdates",
        CONFLICT_SECONDS,
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    )
    started = time.monotonic()
    time.sleep(0.5)  # the bot's current long poll (≤ 1 s at the fake) ends and meets the conflict
    ask(bot, chats)
    wait_for_replies(bot, dict.fromkeys(chats, 1), timeout=CONFLICT_SECONDS + 20.0, since=since)
    polls = [c for c in fake.records[since:] if c.method == "getUpdates"]
    conflicts = sum(1 for c in polls if c.status == 409)
    resumed = next((c.at for c in polls if c.ok and c.at >= started + CONFLICT_SECONDS), None)
    held, bad = outcome(bot, chats, since)
    bot.assert_alive()
    recovered = follow_up(bot, 51409)
    delay = f"{resumed - started - CONFLICT_SECONDS:.1f} s" if resumed is not None else "never"
    reliability.record(
        AREA,
        f"409 Conflict on getUpdates for {CONFLICT_SECONDS:.0f} s (two instances polling): "
        "questions asked meanwhile answered exactly once",
        len(chats),
        held,
        f"{conflicts} × 409 served; polling resumed {delay} after the conflict ended; "
        f"next question answered: {'yes' if recovered else 'no'}",
    )
    assert conflicts >= 1, "the bot did not poll during the conflict"
    assert not bad, report(bot, bad, polls, mark)
    assert recovered, f"a question after the conflict was not answered:\n{error_lines(bot, mark)}"


# ------------------------------------------------------------------------------------ odd queries


def test_oversized_inline_query_and_forged_callback_data(
    fault_bot: RunningBot, reliability: Recorder
) -> None:
    bot, fake = fault_bot, fault_bot.fake
    mark = log_mark(bot)
    user = 51501
    bot.wait_quiet()
    since = len(fake.records)
    inline_ids = []
    for length in (256, 300, 1000):
        query = ("工地扬尘和秸秆禁烧归谁管？" * 100)[:length]
        update = bot.push(tu.inline_query(user, query))
        inline_ids.append(update["inline_query"]["id"])
    inline_ok = 0
    for query_id in inline_ids:
        call = fake.wait_for_call("answerInlineQuery", param_is("inline_query_id", query_id), 20)
        inline_ok += call.ok
    # A message of the bot's for the buttons to hang on.
    ask(bot, [user])
    wait_for_replies(bot, {user: 1}, timeout=20.0, since=since, settle=0.3)
    answers = sends(fake, user, since)
    assert answers, f"no answer to attach the buttons to:\n{error_lines(bot, mark)}"
    message = answers[0].result
    forged = [
        "d:../../x:1",
        "x" * 70,
        "f:999999:1",
        "m:999999",
        "f:1:2",
        "d:no_such_department:0",
        "d:" + "a" * 40 + ":999",
        "f:" + "9" * 40 + ":1",
    ]
    query_ids = [bot.push(tu.callback_query(user, message, data))["callback_query"]["id"] for data in forged]
    callbacks_ok = 0
    for query_id in query_ids:
        call = fake.wait_for_call("answerCallbackQuery", param_is("callback_query_id", query_id), 20)
        callbacks_ok += call.ok
    bot.wait_quiet()
    refused = [c for c in fake.records[since:] if c.status == 400]
    apologies = [c for c in sends(fake, user, since) if c not in answers]
    bot.assert_alive()
    reliability.record(
        AREA,
        "inline query of 256, 300 and 1000 characters: valid answerInlineQuery",
        len(inline_ids),
        inline_ok,
    )
    reliability.record(
        AREA,
        "forged or oversized callback data (path-like, 70 bytes, unknown ids): answered politely, no crash",
        len(forged),
        callbacks_ok if not refused and not apologies else 0,
        "answerCallbackQuery for each; no 400 from the fake; no error message in the chat",
    )
    assert inline_ok == len(inline_ids)
    assert callbacks_ok == len(forged)
    assert refused == [], refused
    assert apologies == [], apologies


# ----------------------------------------------------------------------------------------- SIGTERM


def test_sigterm_during_load_then_restart(real_db: Path, tmp_path: Path, reliability: Recorder) -> None:
    """50 questions; SIGTERM while answers are still going out (overall rate 10/s so they take seconds).
    The bot must send what it had taken before exiting 0 within 15 s; a new process then answers the questions
    sent while none was running, and nothing is answered twice."""
    chats = list(range(52001, 52001 + SIGTERM_QUESTIONS))
    down_chats = list(range(52101, 52101 + DOWN_QUESTIONS))
    with FakeBotAPI() as fake:
        first = start_bot(fake, tmp_path / "first", real_db, {"TELEGRAM_RATE_LIMIT": "10"})
        try:
            ask(first, chats)
            wait_until(lambda: len(sends(fake)) >= 10, 30.0, interval=0.05)
            answered_before = len(sends(fake))
            seconds = first.stop(timeout=EXIT_WITHIN)
        finally:
            first.stop()
        code = first.process.returncode
        at_exit = len(fake.records)
        taken = {
            u["update_id"]
            for c in fake.records
            if c.method == "getUpdates" and c.ok and isinstance(c.result, list)
            for u in c.result
        }
        first_counts = answer_counts(fake, chats)
        fetched_chats = [
            chat
            for chat, update_id in zip(chats, _update_ids(fake, chats), strict=True)
            if update_id in taken
        ]
        pending = len(fetched_chats) - answered_before
        sent_after_sigterm = (
            sum(1 for chat in fetched_chats if first_counts[chat] == (1, 0)) - answered_before
        )

        for n, chat in enumerate(down_chats):
            fake.push_update(tu.private_message(chat, chat, QUESTIONS[n % len(QUESTIONS)]))
        second = start_bot(fake, tmp_path / "second", real_db)
        try:
            left = [chat for chat in chats if chat not in fetched_chats] + down_chats
            wait_for_replies(second, dict.fromkeys(left, 1), timeout=60.0, since=at_exit, settle=1.5)
            second.assert_alive()
        finally:
            second_seconds = second.stop()
        total = answer_counts(fake, chats + down_chats)
        again = answer_counts(fake, fetched_chats, since=at_exit)
        down_ok = sum(1 for chat in down_chats if total[chat] == (1, 0))
        once = sum(1 for chat in chats + down_chats if total[chat] == (1, 0))
        twice = [chat for chat, (a, o) in total.items() if a + o > 1]

    exited = seconds is not None and code == 0
    reliability.record(
        AREA,
        "SIGTERM with answers still going out: the answers taken are sent before exit",
        max(pending, 0),
        max(sent_after_sigterm, 0),
        f"{answered_before} of {len(chats)} answered when SIGTERM was sent; {len(fetched_chats)} taken by the bot",
    )
    reliability.record(
        AREA,
        f"SIGTERM under load: exit code 0 within {EXIT_WITHIN:.0f} s",
        1,
        int(exited),
        f"exit code {code}, " + (f"{seconds:.1f} s" if seconds is not None else "killed after 15 s"),
    )
    reliability.record(
        AREA,
        "questions sent while the bot was down answered after restart",
        len(down_chats),
        down_ok,
    )
    reliability.record(
        AREA,
        "across SIGTERM and restart: every question answered exactly once (none lost, none twice)",
        len(chats) + len(down_chats),
        once,
        f"answered again by the new process: {sum(1 for a, o in again.values() if a + o)}",
    )
    assert pending > 0, "SIGTERM came after every answer had gone out: nothing pending was tested"
    assert seconds is not None, f"the bot did not exit within {EXIT_WITHIN:.0f} s of SIGTERM:\n{first.tail()}"
    assert code == 0, f"exit code {code} after SIGTERM:\n{first.tail()}"
    assert sent_after_sigterm == pending, (
        f"{pending - sent_after_sigterm} answers taken by the bot were not sent before it exited:\n"
        + "\n".join(f"chat {c}: {first_counts[c]}" for c in fetched_chats if first_counts[c] != (1, 0))
        + f"\n{first.tail()}"
    )
    assert twice == [], f"answered more than once: {twice}"
    assert once == len(chats) + len(down_chats), (
        "\n".join(f"chat {c}: {total[c]}" for c in chats + down_chats if total[c] != (1, 0))
        + f"\n{second.tail()}"
    )
    assert second_seconds is not None


def _update_ids(fake: FakeBotAPI, chats: Sequence[int]) -> list[int]:
    """The update_id of the (single) question pushed from each chat, from what getUpdates delivered or still holds."""
    found: dict[int, int] = {}
    delivered = [
        u for c in fake.records if c.method == "getUpdates" and isinstance(c.result, list) for u in c.result
    ]
    for update in delivered + fake.pending_updates:
        message = update.get("message")
        if isinstance(message, dict):
            found.setdefault(int(message["chat"]["id"]), int(update["update_id"]))
    return [found.get(chat, -1) for chat in chats]
