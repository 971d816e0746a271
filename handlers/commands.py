"""Commands for everyone: /start, /help, /ask, /dept, /depts, /docs, /region."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.constants import ParseMode

from bot import render_html
from handlers.common import BotContext, answer_question, keyboard, send

ASK_USAGE = "用法：/ask 问题，例如 /ask 秸秆禁烧归谁管"
DEPT_USAGE = "用法：/dept 部门名称，例如 /dept 环保局、/dept 国土局"


async def start(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if context.args and context.args[0] == "help":
        await message.reply_text(render_html.help_text(context.bot.username), parse_mode=ParseMode.HTML)
        return
    await message.reply_text(render_html.start_text(), parse_mode=ParseMode.HTML)


async def help_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(
            render_html.help_text(context.bot.username), parse_mode=ParseMode.HTML
        )


async def ask(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    question = " ".join(context.args or [])
    if not question.strip():
        await message.reply_text(ASK_USAGE, do_quote=True)
        return
    await answer_question(update, context, question)


async def dept(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    name = " ".join(context.args or []).strip()
    if not name:
        await message.reply_text(DEPT_USAGE)
        return
    result = await asyncio.to_thread(context.services.knowledge.current.duties, name[:100])
    rendered = render_html.duties_message(result, 0)
    await message.reply_text(rendered.text, parse_mode=ParseMode.HTML, reply_markup=keyboard(rendered))


async def depts(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    groups = context.services.knowledge.current.departments()
    await send(message, [render_html.Rendered(t) for t in render_html.departments_text(groups)], quote=False)


async def docs(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    kb = context.services.knowledge.current
    await message.reply_text(
        render_html.documents_text(kb.documents(), kb.set_aside()), parse_mode=ParseMode.HTML
    )


async def region(update: Update, context: BotContext) -> None:
    """/region 昌吉 sets the chat's preferred region; /region shows it; /region 全部 clears it."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    services = context.services
    word = " ".join(context.args or []).strip()
    if not word:
        current = await asyncio.to_thread(services.usage.region, chat.id)
        known = "、".join(services.knowledge.current.regions())
        await message.reply_text(
            f"本聊天优先地区：{current or '未设置'}。可选：{known}。用法：/region 昌吉；/region 全部 取消。"
        )
        return
    if word in ("全部", "清除", "取消", "all"):
        await asyncio.to_thread(services.usage.set_region, chat.id, "")
        await message.reply_text("已取消优先地区，回答将涵盖全部文件。")
        return
    name = services.knowledge.current.find_region(word)
    if not name:
        known = "、".join(services.knowledge.current.regions())
        await message.reply_text(f"不认识地区「{word[:20]}」。可选：{known}。")
        return
    await asyncio.to_thread(services.usage.set_region, chat.id, name)
    await message.reply_text(f"好的，本聊天将优先显示{name}的规定。")
