"""What every handler shares: the injected services, the context type, and the ask-render-reply path."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackContext, ExtBot

from bot.knowledge_holder import KnowledgeHolder
from bot.render_html import Rendered, answer_messages
from bot.settings import Settings
from bot.usage_log import UsageLog
from knowledge.models import AnswerSet

log = logging.getLogger(__name__)
RECENT_ANSWERS = 2000
RECENT_UPDATES = 5000


@dataclass
class Services:
    """Built once in `bot.application` and reached by handlers through `context.services`."""

    settings: Settings
    knowledge: KnowledgeHolder
    usage: UsageLog
    # Answers kept for 「更多条款」 buttons; an older button gets a polite "expired" instead.
    recent_answers: OrderedDict[int, AnswerSet] = field(default_factory=OrderedDict)
    # Telegram may deliver an update twice (e.g. around a restart); each is handled once.
    seen_updates: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_UPDATES))
    chat_locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    def remember(self, question_id: int, result: AnswerSet) -> None:
        self.recent_answers[question_id] = result
        while len(self.recent_answers) > RECENT_ANSWERS:
            self.recent_answers.popitem(last=False)

    def chat_lock(self, chat_id: int) -> asyncio.Lock:
        """One lock per chat: a chat's questions are answered one at a time, in the order they arrived."""
        lock = self.chat_locks.get(chat_id)
        if lock is None:
            lock = self.chat_locks[chat_id] = asyncio.Lock()
            while len(self.chat_locks) > RECENT_UPDATES:
                oldest = next(iter(self.chat_locks))
                if self.chat_locks[oldest].locked():
                    break
                del self.chat_locks[oldest]
        return lock

    def first_time(self, update: Update) -> bool:
        if update.update_id in self.seen_updates:
            return False
        self.seen_updates.append(update.update_id)
        return True


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Context with typed access to the services."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ):
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def services(self) -> Services:
        services: Services = self.bot_data["services"]
        return services


def keyboard(rendered: Rendered) -> InlineKeyboardMarkup | None:
    if not rendered.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.text, url=b.url)
                if b.url
                else InlineKeyboardButton(b.text, callback_data=b.data)
                for b in row
            ]
            for row in rendered.buttons
        ]
    )


def is_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


# Waits between attempts when Telegram is unreachable, times out or answers 5xx; flood control (429) waits
# as long as Telegram says. Bounded: after the last attempt the error reaches the error handler.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def _reply(message: Message, part: Rendered, quote: bool) -> Message:
    """One reply, retried on transient failures so that an answer is not lost to a passing fault."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return await message.reply_text(
                part.text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(part),
                do_quote=quote,
                disable_web_page_preview=True,
            )
        except BadRequest:
            raise  # our request is wrong: retrying cannot help
        except RetryAfter as exc:
            if delay is None:
                raise
            log.warning("flood control: waiting %.1f s before resending", _seconds(exc.retry_after))
            await asyncio.sleep(_seconds(exc.retry_after) + 0.1)
        except (TimedOut, NetworkError) as exc:
            if delay is None:
                raise
            log.warning("sending failed (%s): retrying in %.1f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def send(message: Message, parts: Sequence[Rendered], *, quote: bool) -> Message | None:
    """Reply with each part in order (same forum topic as the question); the first part quotes the asker in groups."""
    last = None
    for n, part in enumerate(parts):
        last = await _reply(message, part, quote and n == 0)
    return last


async def answer_question(update: Update, context: BotContext, question: str) -> None:
    """The core loop: one knowledge call off the event loop, log it, render, reply."""
    message = update.effective_message
    if message is None or not context.services.first_time(update):
        return
    services = context.services
    chat = update.effective_chat
    if chat is None:
        return
    async with services.chat_lock(chat.id):
        await _answer(update, context, message, question)


def _ask_and_log(
    services: Services, update_id: int, chat_id: int, chat_type: str, question: str
) -> tuple[AnswerSet, int]:
    """The blocking part of answering, in one hop off the event loop: region, knowledge call, usage log."""
    region = services.usage.region(chat_id) if chat_id else ""
    result = services.knowledge.current.ask(question, region)
    top = result.answers[0].clause.department if result.answers else ""
    return result, services.usage.record_question(update_id, chat_type, result.outcome, top, question)


async def _answer(update: Update, context: BotContext, message: Message, question: str) -> None:
    services = context.services
    chat = update.effective_chat
    chat_id, chat_type = (chat.id, str(chat.type)) if chat else (0, "")
    result, question_id = await asyncio.to_thread(
        _ask_and_log, services, update.update_id, chat_id, chat_type, question
    )
    services.remember(question_id, result)
    log.debug("question %d: %s -> %s", question_id, question, result.outcome)
    await send(
        message,
        answer_messages(result, question_id=question_id, compact=is_group(update)),
        quote=is_group(update),
    )
