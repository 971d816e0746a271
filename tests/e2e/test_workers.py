"""BOT_WORKERS=2: one supervisor receives updates and hands each chat's to one of two worker processes.

What must hold as with one process: every question answered exactly once, in order within each chat, with the
same text as the single-process rendering; a 「更多条款」 button press reaches the worker that kept the answer;
SIGTERM under load sends what was taken and exits 0; the token never appears in any process's log. And what is
new: a worker killed mid-load is replaced and the questions it had not finished are answered.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.render_html import answer_messages, more_messages
from knowledge.service import KnowledgeBase
from tests import telegram_updates as tu
from tests.e2e.conftest import TOKEN_SECRET, RunningBot, start_bot
from tests.e2e.harness import QUESTIONS, answer_counts, error_lines, sends, wait_for_replies, wait_until
from tests.fake_bot_api import FakeBotAPI
from tests.reliability import Recorder

AREA = "Multi-process"
WORKERS = {"BOT_WORKERS": "2"}
PRIVATE_CHATS = 60
ASKED_IN_A_ROW = 3
GROUPS = (-1_002_000_000_001, -1_002_000_000_002)  # one for each worker (odd, even)
KILL_QUESTIONS = 120


def worker_pid(bot: RunningBot, index: int) -> int | None:
    """The process id worker `index` logged when it was last ready, if that process is still running."""
    found = re.findall(rf"worker {index} ready \(pid (\d+)\)", bot.stderr())
    pid = int(found[-1]) if found else None
    return pid if pid is not None and Path(f"/proc/{pid}").exists() else None


def worker_pids(bot: RunningBot) -> list[int]:
    """The supervisor's spawned worker processes (not multiprocessing's resource tracker)."""
    pids = []
    for task in Path(f"/proc/{bot.process.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in cmdline:
                pids.append(int(child))
    return sorted(pids)


@pytest.fixture(scope="module")
def workers_bot(real_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    with FakeBotAPI() as fake:
        bot = start_bot(
            fake, tmp_path_factory.mktemp("workers-bot"), real_db, {**WORKERS, "TELEGRAM_RATE_LIMIT": "1000"}
        )
        try:
            yield bot
        finally:
            bot.stop()


def test_many_chats_answered_once_in_order_with_single_process_text(
    workers_bot: RunningBot, kb: KnowledgeBase, reliability: Recorder
) -> None:
    bot, fake = workers_bot, workers_bot.fake
    assert len(worker_pids(bot)) == 2
    since = len(fake.records)
    asked: dict[int, list[str]] = {}
    for n in range(PRIVATE_CHATS):
        asked[64_001 + n] = [QUESTIONS[(n + k) % len(QUESTIONS)] for k in range(ASKED_IN_A_ROW)]
    for g, group in enumerate(GROUPS):
        asked[group] = [QUESTIONS[(g * 5 + k) % len(QUESTIONS)] for k in range(ASKED_IN_A_ROW)]
    # Each chat's questions back to back, chats interleaved: both workers busy at once.
    for k in range(ASKED_IN_A_ROW):
        for chat, questions in asked.items():
            if chat > 0:
                bot.push(tu.private_message(chat, chat, questions[k]))
            else:
                bot.push(tu.group_message(chat, 65_001 + k, tu.mention(questions[k])))

    def rendered(question: str, group: bool) -> list[str]:
        return [r.text for r in answer_messages(kb.ask(question), question_id=1, compact=group)]

    expected = {
        chat: [text for q in questions for text in rendered(q, chat < 0)] for chat, questions in asked.items()
    }
    wait_for_replies(bot, {c: len(t) for c, t in expected.items()}, timeout=60.0, since=since, settle=1.0)
    bot.assert_alive()
    got: dict[int, list[str]] = defaultdict(list)
    for call in sends(fake, since=since):
        got[int(call.params["chat_id"])].append(str(call.params["text"]))
    exact = [chat for chat in asked if got[chat] == expected[chat]]
    wrong = {chat: (len(got[chat]), len(expected[chat])) for chat in asked if chat not in exact}
    total = len(asked) * ASKED_IN_A_ROW
    reliability.record(
        AREA,
        f"{len(asked)} chats × {ASKED_IN_A_ROW} questions at once: each answered exactly once, in order, "
        "with the single-process text",
        len(asked),
        len(exact),
        f"{total} questions; {PRIVATE_CHATS} private chats and {len(GROUPS)} groups over 2 workers",
    )
    assert not wrong, f"chats whose replies differ (got, expected messages): {wrong}\n{error_lines(bot)}"


def test_a_more_button_reaches_the_worker_that_kept_the_answer(
    workers_bot: RunningBot, kb: KnowledgeBase, reliability: Recorder
) -> None:
    """In a group the presser's id is not the chat's: routing by the presser would reach the other worker,
    which never saw the answer and could only say "expired"."""
    bot, fake = workers_bot, workers_bot.fake
    question = "危险废物归谁管"
    expected_more = [r.text for r in more_messages(kb.ask(question))]
    reached = 0
    for group in GROUPS:
        presser = 66_002 if group % 2 else 66_001  # the other parity
        since = len(fake.records)
        bot.push(tu.group_message(group, presser, tu.mention(question)))
        wait_for_replies(bot, {group: 1}, timeout=20.0, since=since, settle=0.2)
        answer = sends(fake, group, since)[0]
        more = next(
            (
                b["callback_data"]
                for row in answer.params["reply_markup"]["inline_keyboard"]
                for b in row
                if str(b.get("callback_data", "")).startswith("m:")
            ),
            None,
        )
        assert more, f"the group answer has no 「更多条款」 button: {answer.params['reply_markup']}"
        press = bot.push(tu.callback_query(presser, answer.result, more))
        query_id = press["callback_query"]["id"]
        ack = bot.expect("answerCallbackQuery", lambda p, q=query_id: p.get("callback_query_id") == q)
        wait_for_replies(bot, {group: 1 + len(expected_more)}, timeout=20.0, since=since, settle=0.5)
        texts = [str(c.params["text"]) for c in sends(fake, group, since)][1:]
        stale = ack.params.get("text")
        reached += stale is None and texts == expected_more
        assert stale is None, f"the press was answered {stale!r}: it reached a worker without the answer"
        assert texts == expected_more
    reliability.record(
        AREA,
        "「更多条款」 pressed in a group by another user: the worker holding the answer sends it",
        2,
        reached,
    )


def test_no_token_in_the_supervisor_or_worker_logs(workers_bot: RunningBot) -> None:
    output = workers_bot.output()
    assert "[worker 0]" in output and "[worker 1]" in output
    assert TOKEN_SECRET not in output


def test_a_killed_worker_is_replaced_and_its_questions_answered(
    workers_bot: RunningBot, reliability: Recorder
) -> None:
    """SIGKILL worker 1 while it holds unanswered questions: the supervisor starts a replacement and replays
    what was not finished (at least once); later questions to its chats are answered too. Runs last on the
    module's bot (it leaves a replaced worker behind)."""
    bot, fake = workers_bot, workers_bot.fake
    victim = worker_pid(bot, 1)
    chats = [69_001 + 2 * n for n in range(KILL_QUESTIONS)]  # odd: all worker 1's
    since = len(fake.records)
    for n, chat in enumerate(chats):
        bot.push(tu.private_message(chat, chat, QUESTIONS[n % len(QUESTIONS)]))
    assert wait_until(lambda: len(sends(fake, since=since)) >= 5, 20.0, interval=0.02), error_lines(bot)
    os.kill(victim, signal.SIGKILL)
    replaced = wait_until(lambda: worker_pid(bot, 1) not in (None, victim), 30.0)
    wait_for_replies(bot, dict.fromkeys(chats, 1), timeout=40.0, since=since, settle=1.0)
    late = 69_999  # odd: the replacement's
    mark = len(fake.records)
    bot.push(tu.private_message(late, late, QUESTIONS[0]))
    wait_for_replies(bot, {late: 1}, timeout=20.0, since=mark, settle=0.3)
    bot.assert_alive()
    counts = answer_counts(fake, [*chats, late], since)
    log = bot.stderr()
    unanswered = [chat for chat in chats if counts[chat][0] == 0]
    twice = [chat for chat in chats if counts[chat][0] > 1]
    reliability.record(
        AREA,
        "a worker killed (SIGKILL) with questions in hand: replaced, every question answered at least once",
        len(chats) + 1,
        len(chats) + 1 - len(unanswered) - (counts[late][0] != 1),
        f"{len(twice)} answered twice (replayed after the crash, logged as such); "
        f"replacement started: {'yes' if replaced else 'no'}",
    )
    assert replaced, f"no replacement worker:\n{error_lines(bot)}"
    assert "exited unexpectedly" in log and "replaying" in log, error_lines(bot)
    assert not unanswered, f"never answered: {unanswered}\n{error_lines(bot)}"
    assert counts[late] == (1, 0)


def test_sigterm_under_load_drains_then_a_restart_answers_the_rest(
    real_db: Path, tmp_path: Path, reliability: Recorder
) -> None:
    chats = list(range(68_001, 68_031))
    down_chats = list(range(68_101, 68_111))
    with FakeBotAPI() as fake:
        first = start_bot(fake, tmp_path / "first", real_db, {**WORKERS, "TELEGRAM_RATE_LIMIT": "10"})
        try:
            update_ids = {
                chat: first.push(tu.private_message(chat, chat, QUESTIONS[n % len(QUESTIONS)]))["update_id"]
                for n, chat in enumerate(chats)
            }
            wait_until(lambda: len(sends(fake)) >= 8, 30.0, interval=0.05)
            answered_before = len(sends(fake))
            sigterm_at = time.monotonic()
            seconds = first.stop(timeout=15.0)
        finally:
            first.stop()
        at_exit = len(fake.records)
        # Taken = handed to the bot before SIGTERM (what the stopping supervisor's confirming call returns is not).
        taken = {
            u["update_id"]
            for c in fake.records
            if c.method == "getUpdates" and c.ok and isinstance(c.result, list) and c.at < sigterm_at
            for u in c.result
        }
        fetched_chats = [chat for chat in chats if update_ids[chat] in taken]
        first_counts = answer_counts(fake, chats)
        for n, chat in enumerate(down_chats):
            fake.push_update(tu.private_message(chat, chat, QUESTIONS[n % len(QUESTIONS)]))
        second = start_bot(fake, tmp_path / "second", real_db, WORKERS)
        try:
            wait_for_replies(second, dict.fromkeys(chats + down_chats, 1), timeout=40.0, since=0, settle=1.0)
        finally:
            second.stop()
        total = answer_counts(fake, chats + down_chats)
        again_after_restart = sum(1 for c in sends(fake, since=at_exit))
        output = first.output() + second.output()
    fetched = len(fetched_chats)
    sent_by_first = sum(1 for chat in fetched_chats if first_counts[chat] == (1, 0))
    once = sum(1 for chat in chats + down_chats if total[chat] == (1, 0))
    reliability.record(
        AREA,
        "SIGTERM with answers going out: every question taken is answered before exit 0, the rest after restart",
        len(chats + down_chats),
        once if seconds is not None and first.process.returncode == 0 else 0,
        f"{answered_before} answered at SIGTERM, {fetched} taken, {sent_by_first} answered by the first process "
        f"(exit {first.process.returncode} in {seconds and round(seconds, 1)} s), "
        f"{again_after_restart} by the second ({len(down_chats)} asked while it was down)",
    )
    assert seconds is not None and first.process.returncode == 0, f"{seconds}, {first.process.returncode}"
    assert fetched > answered_before, "SIGTERM came after every answer: the test did not test draining"
    assert sent_by_first == fetched, f"{fetched} taken, only {sent_by_first} answered before exit"
    assert once == len(chats + down_chats), {c: total[c] for c in chats + down_chats if total[c] != (1, 0)}
    assert TOKEN_SECRET not in output and "[worker 1]" in output and "[supervisor]" in output


def test_workers_refuse_bot_workers_out_of_range(real_db: Path, tmp_path: Path) -> None:
    with FakeBotAPI() as fake, pytest.raises(AssertionError, match="BOT_WORKERS"):
        start_bot(fake, tmp_path / "bot", real_db, {"BOT_WORKERS": "0"}, startup_timeout=30.0)
