"""End to end: the real bot process, long-polling the fake Bot API, answers as a user would see it.

One bot process serves the module (fixture `bot`); each test talks from its own chat so that replies
cannot be confused. Facts are checked strictly, wording loosely. The last tests check the whole run:
no request was refused with 400, and SIGTERM stops the bot without the token ever reaching its output.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import telegram_updates as tu
from tests.e2e.conftest import ADMIN_ID, TOKEN_SECRET, RunningBot, start_bot
from tests.fake_bot_api import BOT_ID, Call, FakeBotAPI

JSON = dict[str, Any]

NON_ADMIN = 222
GROUP = -1001000000501
QUIET_GROUP = -1001000000502
FORUM = -1001000000503


def text_of(call: Call) -> str:
    """The text as the user sees it (parsed by the fake from the HTML the bot sent)."""
    text = call.result["text"]
    assert isinstance(text, str)
    return text


def buttons(call: Call) -> list[JSON]:
    markup = call.params.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def replied_to(params: JSON) -> int | None:
    reply = params.get("reply_parameters")
    target = reply.get("message_id") if isinstance(reply, dict) else params.get("reply_to_message_id")
    return target if isinstance(target, int) else None


def ask_private(bot: RunningBot, user_id: int, text: str, timeout: float = 20.0) -> Call:
    bot.push(tu.private_message(user_id, user_id, text))
    return bot.reply(user_id, timeout=timeout)


# ------------------------------------------------------------------------------------ private chat


def test_start_greets_with_the_bot_name(bot: RunningBot) -> None:
    assert "谁管" in text_of(ask_private(bot, 3001, "/start"))


def test_start_help_deep_link_explains_ask(bot: RunningBot) -> None:
    assert "/ask" in text_of(ask_private(bot, 3011, "/start help"))


def test_help_lists_ask_and_dept(bot: RunningBot) -> None:
    text = text_of(ask_private(bot, 3002, "/help"))
    assert "/ask" in text
    assert "/dept" in text


def test_private_question_is_answered_with_clause_source_and_feedback_buttons(bot: RunningBot) -> None:
    call = ask_private(bot, 3003, "工地扬尘归谁管")
    assert call.params.get("parse_mode") == "HTML"
    text = text_of(call)
    assert "住房和城乡建设部门" in text or "住建局" in text, text
    assert "《" in text, text
    assert buttons(call), "an answer carries an inline keyboard"
    thumbs = [b for b in buttons(call) if "👍" in b["text"]]
    assert thumbs, buttons(call)
    assert str(thumbs[0].get("callback_data", "")).startswith("f:"), thumbs


def test_dept_pages_are_turned_by_editing_the_same_message(bot: RunningBot) -> None:
    user = 3004
    bot.push(tu.private_message(user, user, "/dept 公安"))
    bot.reply(user)
    bot.wait_quiet()
    replies = [c for c in bot.fake.records if c.method == "sendMessage" and c.params.get("chat_id") == user]
    assert all(c.ok for c in replies), replies
    assert "公安部门" in " ".join(text_of(c) for c in replies), replies
    paged = [c for c in replies if any("下一页" in b["text"] for b in buttons(c))]
    assert paged, (
        f"no 下一页 button in the /dept 公安 replies: {[c.params.get('reply_markup') for c in replies]}"
    )
    page = paged[0]
    next_button = next(b for b in buttons(page) if "下一页" in b["text"])
    message = page.result
    press = bot.push(tu.callback_query(user, message, next_button["callback_data"]))
    query_id = press["callback_query"]["id"]
    edit = bot.expect(
        "editMessageText", lambda p: p.get("chat_id") == user and p.get("message_id") == message["message_id"]
    )
    assert text_of(edit) != message["text"]
    bot.expect("answerCallbackQuery", lambda p: p.get("callback_query_id") == query_id)


# ------------------------------------------------------------------------------------------- groups


def test_group_command_is_answered_as_a_reply_to_the_asker(bot: RunningBot) -> None:
    update = bot.push(tu.group_message(GROUP, 4001, "/ask@shuiguan_test_bot 秸秆禁烧归谁管"))
    asked_id = update["message"]["message_id"]
    call = bot.reply(GROUP)
    assert replied_to(call.params) == asked_id, call
    text = text_of(call)
    assert "农牧业部门" in text or "农业农村" in text, text


def test_group_mention_is_answered(bot: RunningBot) -> None:
    update = bot.push(tu.group_message(GROUP, 4002, "@shuiguan_test_bot 扬尘归谁管"))
    call = bot.reply(GROUP, lambda p: replied_to(p) == update["message"]["message_id"])
    assert text_of(call)


def test_group_reply_to_the_bot_is_answered(bot: RunningBot) -> None:
    bot.push(tu.group_message(GROUP, 4003, "/ask@shuiguan_test_bot 秸秆禁烧归谁管"))
    answer = bot.reply(GROUP)
    bot.wait_quiet()
    bot_message = answer.result
    assert bot_message["from"]["id"] == BOT_ID
    update = bot.push(tu.group_message(GROUP, 4003, "那噪声呢", reply_to=bot_message))
    call = bot.reply(GROUP, lambda p: replied_to(p) == update["message"]["message_id"])
    assert text_of(call)


def test_group_chatter_is_ignored(bot: RunningBot) -> None:
    bot.push(tu.group_message(QUIET_GROUP, 4004, "大家中午吃什么"))
    bot.fake.assert_no_call("sendMessage", lambda p: p.get("chat_id") == QUIET_GROUP, within=2.0)


def test_forum_topic_command_is_answered_in_the_same_topic(bot: RunningBot) -> None:
    bot.push(
        tu.group_message(FORUM, 4005, "/ask@shuiguan_test_bot 秸秆禁烧归谁管", thread_id=77, is_forum=True)
    )
    call = bot.reply(FORUM)
    assert call.params.get("message_thread_id") == 77, call


# ------------------------------------------------------------------------------------------- inline


def test_inline_query_lists_cited_answers(bot: RunningBot) -> None:
    update = bot.push(tu.inline_query(3006, "秸秆"))
    query_id = update["inline_query"]["id"]
    params = bot.expect("answerInlineQuery", lambda p: p.get("inline_query_id") == query_id).params
    results = params["results"]
    assert 1 <= len(results) <= 10, results
    for result in results:
        assert "《" in result["input_message_content"]["message_text"], result


def test_empty_inline_query_offers_the_help_button(bot: RunningBot) -> None:
    update = bot.push(tu.inline_query(3006, ""))
    query_id = update["inline_query"]["id"]
    params = bot.expect("answerInlineQuery", lambda p: p.get("inline_query_id") == query_id).params
    assert params.get("button", {}).get("start_parameter") == "help", params


# ------------------------------------------------------------------------------- feedback and admin


def test_feedback_is_acknowledged_and_counted_in_stats(bot: RunningBot) -> None:
    user = 3007
    answer = ask_private(bot, user, "秸秆禁烧归谁管")
    thumbs = next(b for b in buttons(answer) if "👍" in b["text"])
    bot.wait_quiet()
    press = bot.push(tu.callback_query(user, answer.result, thumbs["callback_data"]))
    query_id = press["callback_query"]["id"]
    ack = bot.expect("answerCallbackQuery", lambda p: p.get("callback_query_id") == query_id)
    assert ack.params.get("text"), ack
    stats = text_of(ask_private(bot, ADMIN_ID, "/stats"))
    assert "👍" in stats or "反馈" in stats, stats
    count = re.search(r"👍\s*(\d+)", stats)
    if count:  # where the figure is shown, the press above is in it
        assert int(count.group(1)) >= 1, stats


def test_reload_is_for_admins_only(bot: RunningBot) -> None:
    refused = text_of(ask_private(bot, NON_ADMIN, "/reload"))
    assert "管理员" in refused, refused
    assert "已重新加载" not in refused
    bot.fake.assert_no_call("sendMessage", lambda p: "已重新加载" in str(p.get("text")), within=2.0)
    done = text_of(ask_private(bot, ADMIN_ID, "/reload", timeout=90.0))
    assert "已重新加载" in done, done


# ------------------------------------------------------------------------------------- odd messages


def test_a_very_long_message_gets_a_normal_reply(bot: RunningBot) -> None:
    text = ("工地扬尘归谁管？" * 700)[:5000]
    assert len(text) == 5000
    call = ask_private(bot, 3008, text, timeout=60.0)
    assert text_of(call)


def test_a_photo_without_text_asks_for_text(bot: RunningBot) -> None:
    bot.push(tu.photo_message(3009, 3009))
    assert "文字" in text_of(bot.reply(3009))


# --------------------------------------------------------------------------------- Telegram trouble


def test_answer_survives_flood_control(bot: RunningBot) -> None:
    user = 3010
    bot.wait_quiet()
    bot.fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    bot.push(tu.private_message(user, user, "工地扬尘归谁管"))
    delivered = bot.reply(user, timeout=30.0, skip_failed=True)
    assert "住房和城乡建设部门" in text_of(delivered) or "住建局" in text_of(delivered)
    bot.wait_quiet(1.0)
    attempts = [c for c in bot.fake.records if c.method == "sendMessage" and c.params.get("chat_id") == user]
    assert [c.status for c in attempts] == [429, 200], attempts
    assert len(bot.fake.sent_messages(user)) == 1


def test_bot_starts_when_an_admin_never_talked_to_it(real_db: Path, tmp_path: Path) -> None:
    """Admin ids are configuration: one who never opened a chat with the bot must not stop it starting."""
    with FakeBotAPI() as fake:
        other = start_bot(fake, tmp_path / "bot", real_db, admin_ids="111,987654", log_level="DEBUG")
        try:
            other.push(tu.private_message(3012, 3012, "/start"))
            assert "谁管" in text_of(other.reply(3012))
        finally:
            seconds = other.stop()
        assert seconds is not None, "the bot did not stop within 10 s of SIGTERM"
        assert TOKEN_SECRET not in other.output()


# ---------------------------------------------------------------------------- the whole module's run


def test_no_request_was_refused_with_400(bot: RunningBot) -> None:
    refused = [c for c in bot.fake.records if c.status == 400]
    assert refused == [], refused


def test_the_bot_logged_no_unhandled_error(bot: RunningBot) -> None:
    stderr = bot.stderr()
    assert "Traceback" not in stderr, bot.tail(80)
    assert " ERROR " not in stderr, [line for line in stderr.splitlines() if " ERROR " in line]


def test_sigterm_stops_the_bot_and_the_token_never_appeared(bot: RunningBot) -> None:
    seconds = bot.stop()
    assert seconds is not None, "the bot did not exit within 10 s of SIGTERM"
    assert bot.process.returncode is not None
    output = bot.output()
    assert TOKEN_SECRET not in output
    assert bot.fake.tokens == ["123456:TEST-token-value"]


@pytest.fixture(autouse=True)
def _bot_still_running_for_each_test(request: pytest.FixtureRequest) -> None:
    """A crash in one test should be named as such in the next, not show up as a timeout."""
    if "bot" in request.fixturenames and not request.node.name.startswith("test_sigterm"):
        running: RunningBot = request.getfixturevalue("bot")
        running.assert_alive()
