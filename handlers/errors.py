"""The one error handler: expected Telegram errors are events, anything else is logged and apologized for."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TimedOut

from handlers.common import BotContext

log = logging.getLogger(__name__)
APOLOGY = "抱歉，处理这条消息时出错了，请稍后再试。"
# BadRequest descriptions that are normal in a busy chat, not bugs.
EXPECTED_BAD_REQUESTS = (
    "message is not modified",
    "query is too old",
    "query id is invalid",
    "message to edit not found",
)


async def on_error(update: object, context: BotContext) -> None:
    """Never assumes an Update; falls back to plain text for the apology."""
    error = context.error
    if isinstance(error, Forbidden):
        log.info("bot was blocked or removed: %s", error)
        return
    if isinstance(error, ChatMigrated):
        log.info("chat migrated to %s", error.new_chat_id)
        return
    if isinstance(error, (RetryAfter, TimedOut)):
        log.warning("telegram flood control or timeout: %s", error)
        return
    if isinstance(error, BadRequest) and any(text in str(error).lower() for text in EXPECTED_BAD_REQUESTS):
        log.info("expected telegram error: %s", error)
        return
    log.error("unhandled error while handling an update", exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(APOLOGY)
        except Exception:  # the apology is best effort: the original error is already logged
            log.warning("could not send the apology", exc_info=True)
