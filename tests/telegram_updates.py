"""Builders for real Telegram update dicts (as getUpdates returns them), for the fake Bot API.

Each builder returns an update without `update_id` (FakeBotAPI.push_update assigns it); `message_of`
gives the Message dict inside, for `reply_to=` and `callback_query(...)`. Commands get their
`bot_command` entity and mentions their `mention` entity, with offsets and lengths in UTF-16 units.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from tests.fake_bot_api import BOT_USERNAME, utf16_len

JSON = dict[str, Any]

# User message ids come from their own high range so they never collide with the ids the fake gives
# to the bot's messages (which count up from 1 in each chat).
_message_ids = itertools.count(1_000_000)
_query_ids = itertools.count(1)

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")
_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z][A-Za-z0-9_]{3,31}")


def next_message_id() -> int:
    return next(_message_ids)


def user(user_id: int, first_name: str | None = None) -> JSON:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name or f"用户{user_id}",
        "username": f"user{user_id}",
        "language_code": "zh-hans",
    }


def private_chat(user_id: int) -> JSON:
    return {"id": user_id, "type": "private", "first_name": f"用户{user_id}", "username": f"user{user_id}"}


def group_chat(chat_id: int, is_forum: bool = False, title: str = "生态环境工作群") -> JSON:
    chat: JSON = {"id": chat_id, "type": "supergroup", "title": title}
    if is_forum:
        chat["is_forum"] = True
    return chat


def text_entities(text: str) -> list[JSON]:
    """The entities Telegram's clients attach: a leading /command, and @mentions outside it."""
    entities: list[JSON] = []
    command_end = 0
    if text.startswith("/") and (match := _COMMAND_RE.match(text)):
        command_end = match.end()
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))})
    for match in _MENTION_RE.finditer(text, command_end):
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return entities


def _message(
    chat: JSON, user_id: int, text: str | None, message_id: int | None, entities: list[JSON] | None
) -> JSON:
    message: JSON = {
        "message_id": message_id if message_id is not None else next_message_id(),
        "from": user(user_id),
        "chat": chat,
        "date": int(time.time()),
    }
    if text is not None:
        message["text"] = text
        found = text_entities(text) if entities is None else entities
        if found:
            message["entities"] = found
    return message


def _chat_for(chat_id: int, user_id: int) -> JSON:
    return private_chat(user_id if chat_id == user_id else chat_id) if chat_id > 0 else group_chat(chat_id)


def private_message(
    chat_id: int, user_id: int, text: str, message_id: int | None = None, entities: list[JSON] | None = None
) -> JSON:
    """A text message in the private chat with the bot (chat_id is normally the user's id)."""
    return {"message": _message(private_chat(chat_id), user_id, text, message_id, entities)}


def group_message(
    chat_id: int,
    user_id: int,
    text: str,
    message_id: int | None = None,
    entities: list[JSON] | None = None,
    reply_to: JSON | None = None,
    thread_id: int | None = None,
    is_forum: bool = False,
    title: str = "生态环境工作群",
) -> JSON:
    """A text message in a supergroup (chat_id negative); optionally a reply, in a thread or forum topic.

    As Telegram does, a message in a forum topic that is not an explicit reply carries the topic's
    creation service message as reply_to_message.
    """
    chat = group_chat(chat_id, is_forum=is_forum, title=title)
    message = _message(chat, user_id, text, message_id, entities)
    if thread_id is not None:
        message["message_thread_id"] = thread_id
        if is_forum:
            message["is_topic_message"] = True
    if reply_to is not None:
        message["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
    elif is_forum and thread_id is not None:
        message["reply_to_message"] = {
            "message_id": thread_id,
            "from": user(user_id),
            "chat": chat,
            "date": int(time.time()) - 3600,
            "message_thread_id": thread_id,
            "forum_topic_created": {"name": "环保问答", "icon_color": 7322096},
            "is_topic_message": True,
        }
    return {"message": message}


def photo_message(chat_id: int, user_id: int, message_id: int | None = None) -> JSON:
    """A photo without caption or text."""
    message = _message(_chat_for(chat_id, user_id), user_id, None, message_id, None)
    message["photo"] = [
        {
            "file_id": f"AgACAgIAAxkBAAI{size}",
            "file_unique_id": f"AQAD{size}",
            "width": size,
            "height": size * 3 // 4,
            "file_size": size * 60,
        }
        for size in (90, 320, 800)
    ]
    return {"message": message}


def callback_query(user_id: int, message: JSON, data: str, query_id: str | None = None) -> JSON:
    """A press on an inline button of `message` (a Message dict the fake returned)."""
    return {
        "callback_query": {
            "id": query_id or f"{user_id}{next(_query_ids):08d}",
            "from": user(user_id),
            "message": message,
            "chat_instance": f"-{abs(int(message['chat']['id'])) * 7 + 13}",
            "data": data,
        }
    }


def inline_query(user_id: int, query: str, offset: str = "", query_id: str | None = None) -> JSON:
    """An inline query typed as `@shuiguan_test_bot <query>` in some chat."""
    return {
        "inline_query": {
            "id": query_id or f"9{user_id}{next(_query_ids):08d}",
            "from": user(user_id),
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
    }


def message_of(update: JSON) -> JSON:
    """The Message dict inside a message update."""
    message = update["message"]
    assert isinstance(message, dict)
    return message


def mention(text: str = "") -> str:
    """`@shuiguan_test_bot text`."""
    return f"@{BOT_USERNAME} {text}".rstrip()
