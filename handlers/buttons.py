"""Button presses: feedback, more clauses, duty pages. Only data the bot issued is accepted."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import callbacks, render_html
from handlers.common import BotContext, keyboard, send

log = logging.getLogger(__name__)
STALE = "这个按钮已过期，请重新提问。"
UNKNOWN = "无法识别这个按钮。"


async def button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = callbacks.parse(query.data)
    services = context.services
    if data is None:
        log.info("refused callback data of %d bytes", len((query.data or "").encode()))
        await query.answer(UNKNOWN)
        return
    if isinstance(data, callbacks.Feedback):
        user_id = query.from_user.id
        stored = await asyncio.to_thread(
            services.usage.record_feedback, data.question_id, user_id, data.helpful
        )
        await query.answer(
            ("谢谢反馈 👍" if data.helpful else "谢谢反馈，我们会改进 👎") if stored else STALE
        )
        return
    if isinstance(data, callbacks.More):
        result = services.recent_answers.get(data.question_id)
        await query.answer(None if result else STALE)
        if result and query.message is not None and hasattr(query.message, "reply_text"):
            await send(query.message, render_html.more_messages(result), quote=False)  # type: ignore[arg-type]
        return
    result_duties = await asyncio.to_thread(services.knowledge.current.duties_for_key, data.department_key)
    rendered = render_html.duties_message(result_duties, data.page)
    await query.answer()
    try:
        await query.edit_message_text(
            rendered.text, parse_mode=ParseMode.HTML, reply_markup=keyboard(rendered)
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise
