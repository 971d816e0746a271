"""bot.routing: every update of a chat reaches the same worker process, whatever kind of update it is."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.routing import chat_key, worker_for
from bot.settings import Settings, SettingsError
from tests import telegram_updates as tu

JSON = dict[str, Any]

chat_ids = st.integers(min_value=-(10**13), max_value=10**13).filter(lambda n: n != 0)
user_ids = st.integers(min_value=1, max_value=10**12)
worker_counts = st.integers(min_value=1, max_value=32)


def _in_chat(chat_id: int, user_id: int) -> list[JSON]:
    """Every kind of update the bot gets for a chat: messages, edits, button presses, membership changes."""
    if chat_id > 0:
        message = tu.private_message(chat_id, chat_id, "秸秆禁烧归谁管")
    else:
        message = tu.group_message(chat_id, user_id, tu.mention("秸秆禁烧归谁管"))
    bot_reply = {**tu.message_of(message), "from": {"id": 7000001, "is_bot": True, "first_name": "谁管"}}
    chat = tu.message_of(message)["chat"]
    return [
        message,
        {"edited_message": tu.message_of(message)},
        {"channel_post": tu.message_of(message)},
        # A button pressed by someone else than the chat's id (always so in a group).
        tu.callback_query(user_id, bot_reply, "m:1"),
        {"my_chat_member": {"chat": chat, "from": tu.user(user_id), "date": 0}},
        {"message_reaction": {"chat": chat, "message_id": 1, "date": 0}},
    ]


@given(chat_ids, user_ids, worker_counts)
def test_every_update_of_a_chat_goes_to_the_same_worker(chat_id: int, user_id: int, workers: int) -> None:
    updates = _in_chat(chat_id, user_id)
    assert {chat_key(u) for u in updates} == {chat_id}
    assert len({worker_for(u, workers) for u in updates}) == 1
    assert 0 <= worker_for(updates[0], workers) < workers


@given(user_ids, worker_counts)
def test_updates_without_a_chat_go_where_the_users_private_chat_goes(user_id: int, workers: int) -> None:
    private = worker_for(tu.private_message(user_id, user_id, "你好"), workers)
    inline_message_button = {
        "callback_query": {"id": "1", "from": tu.user(user_id), "inline_message_id": "AbC", "data": "f:1:1"}
    }
    for update in (
        tu.inline_query(user_id, "秸秆"),
        {"chosen_inline_result": {"result_id": "1", "from": tu.user(user_id), "query": "秸秆"}},
        {"poll_answer": {"poll_id": "1", "user": tu.user(user_id), "option_ids": [0]}},
        inline_message_button,
    ):
        assert worker_for(update, workers) == private, update


def test_a_group_button_goes_to_the_groups_worker_not_the_pressers() -> None:
    """The presser's id has the other parity: routing by `from` would reach the worker without the answer."""
    group, presser = -1_002_000_000_001, 61_002
    assert worker_for({"message": {"chat": {"id": group}}}, 2) != presser % 2
    press = tu.callback_query(presser, {"message_id": 5, "chat": tu.group_chat(group), "date": 0}, "m:9")
    assert worker_for(press, 2) == group % 2 == 1


def test_spread_and_unknown_kinds() -> None:
    # Consecutive user ids (as in the load tests) spread evenly.
    counts = [0, 0, 0]
    for user_id in range(500_000_001, 500_000_301):
        counts[worker_for(tu.private_message(user_id, user_id, "x"), 3)] += 1
    assert counts == [100, 100, 100]
    # A kind of update this version does not know: whatever chat or user it carries; nothing at all → worker 0.
    assert chat_key({"update_id": 5, "future_thing": {"chat": {"id": -77}}}) == -77
    assert chat_key({"update_id": 5, "future_thing": {"user": {"id": 88}}}) == 88
    assert chat_key({"update_id": 5, "poll": {"id": "x", "question": "?"}}) == 0
    assert worker_for({"update_id": 5}, 4) == 0
    with pytest.raises(ValueError):
        worker_for({"update_id": 5}, 0)


def test_bot_workers_setting() -> None:
    assert Settings.from_env({}, dotenv=None).workers == 1
    assert Settings.from_env({"BOT_WORKERS": "3"}).workers == 3
    assert "workers=3" in repr(Settings.from_env({"BOT_WORKERS": "3"}))
    for bad in ("0", "-1", "two", "33"):
        with pytest.raises(SettingsError, match="BOT_WORKERS"):
            Settings.from_env({"BOT_WORKERS": bad})
