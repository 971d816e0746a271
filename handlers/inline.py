"""Inline mode: `@bot 秸秆` in any chat lists departments; choosing one inserts a cited answer."""

from __future__ import annotations

import asyncio

from telegram import InlineQueryResultArticle, InlineQueryResultsButton, InputTextMessageContent, Update
from telegram.constants import ParseMode

from bot import render_html
from handlers.common import BotContext

HELP_BUTTON = InlineQueryResultsButton(text="不知道怎么问？点这里看用法", start_parameter="help")


async def inline_query(update: Update, context: BotContext) -> None:
    query = update.inline_query
    if query is None:
        return
    text = query.query.strip()
    if not text:
        await query.answer([], button=HELP_BUTTON, cache_time=300)
        return
    result = await asyncio.to_thread(context.services.knowledge.current.ask, text[:300])
    if result.no_answer or not result.answers:
        await query.answer([], button=HELP_BUTTON, cache_time=60)
        return
    articles = [
        InlineQueryResultArticle(
            id=str(answer.clause.id),
            title=f"{answer.clause.department}（{render_html.role_label(answer.clause.role)}）",
            description=render_html.inline_description(answer),
            input_message_content=InputTextMessageContent(
                render_html.answer_block(answer), parse_mode=ParseMode.HTML, disable_web_page_preview=True
            ),
        )
        for answer in result.answers[: render_html.INLINE_RESULTS]
    ]
    await query.answer(articles, cache_time=300, is_personal=False)
