"""What every handler shares: the injected services, the context type, and the ask-render-reply path."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
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

    def remember(self, question_id: int, result: AnswerSet) -> None:
        self.recent_answers[question_id] = result
        while len(self.recent_answers) > RECENT_ANSWERS:
            self.recent_answers.popitem(last=False)

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


async def send(message: Message, parts: Sequence[Rendered], *, quote: bool) -> Message | None:
    """Reply with each part in order (same forum topic as the question); the first part quotes the asker in groups."""
    last = None
    for n, part in enumerate(parts):
        last = await message.reply_text(
            part.text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(part),
            do_quote=quote and n == 0,
            disable_web_page_preview=True,
        )
    return last


async def answer_question(update: Update, context: BotContext, question: str) -> None:
    """The core loop: one knowledge call off the event loop, log it, render, reply."""
    message = update.effective_message
    if message is None or not context.services.first_time(update):
        return
    services = context.services
    chat = update.effective_chat
    region = await asyncio.to_thread(services.usage.region, chat.id) if chat else ""
    result = await asyncio.to_thread(services.knowledge.current.ask, question, region)
    top = result.answers[0].clause.department if result.answers else ""
    question_id = await asyncio.to_thread(
        services.usage.record_question,
        update.update_id,
        chat.type if chat else "",
        result.outcome,
        top,
        question,
    )
    services.remember(question_id, result)
    log.debug("question %d: %s -> %s", question_id, question, result.outcome)
    await send(
        message,
        answer_messages(result, question_id=question_id, compact=is_group(update)),
        quote=is_group(update),
    )
