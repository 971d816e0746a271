"""Which worker process answers a raw update (a dict as getUpdates or a webhook delivers it).

Every update of one chat must reach the same worker: that worker holds the chat's in-memory state — the lock
that answers its questions one at a time and in order, the answers kept for its 「更多条款」 buttons, the update
ids already seen. So the key is the chat the update belongs to; updates without a chat (inline queries, poll
answers …) are keyed by the user, whose private chat is the chat with the same id.

Pure functions on plain dicts: the supervisor routes without building python-telegram-bot objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Update fields whose object carries `chat` (a Message, or a chat-scoped event).
CHAT_FIELDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "message_reaction_count",
    "chat_boost",
    "removed_chat_boost",
)
# Update fields without a chat, and where their user is.
USER_FIELDS = (
    ("inline_query", "from"),
    ("chosen_inline_result", "from"),
    ("shipping_query", "from"),
    ("pre_checkout_query", "from"),
    ("purchased_paid_media", "from"),
    ("poll_answer", "user"),
    ("business_connection", "user"),
)


def _id(value: Any) -> int | None:
    if isinstance(value, Mapping):
        raw = value.get("id")
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    return None


def chat_key(update: Mapping[str, Any]) -> int:
    """The id of the chat the update belongs to, else of the user who caused it, else 0."""
    callback = update.get("callback_query")
    if isinstance(callback, Mapping):
        # A button under a message: the state it needs (e.g. recent answers) belongs to that message's chat,
        # which is not the presser's id in a group. A button under an inline message has no chat: its user.
        message = callback.get("message")
        chat = _id(message.get("chat")) if isinstance(message, Mapping) else None
        return chat if chat is not None else _id(callback.get("from")) or 0
    for name in CHAT_FIELDS:
        event = update.get(name)
        if isinstance(event, Mapping):
            chat = _id(event.get("chat"))
            if chat is not None:
                return chat
    for name, user_field in USER_FIELDS:
        event = update.get(name)
        if isinstance(event, Mapping):
            user = _id(event.get(user_field))
            if user is not None:
                return user
    # A kind of update this list does not know yet: any chat or user it carries, else worker 0.
    for event in update.values():
        if isinstance(event, Mapping):
            found = _id(event.get("chat")) or _id(event.get("from")) or _id(event.get("user"))
            if found is not None:
                return found
    return 0


def worker_for(update: Mapping[str, Any], workers: int) -> int:
    """0 ≤ worker < workers, the same for every update of a chat. Python's % is never negative here."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return chat_key(update) % workers
