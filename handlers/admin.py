"""Admin commands (/stats, /reload) for the user ids in ADMIN_IDS; everyone else is refused and logged."""

from __future__ import annotations

import asyncio
import logging

from telegram import Message, Update

from handlers.common import BotContext
from knowledge.errors import KnowledgeError

log = logging.getLogger(__name__)
REFUSED = "此命令仅管理员可用。"


def _is_admin(update: Update, context: BotContext) -> bool:
    user = update.effective_user
    allowed = user is not None and user.id in context.services.settings.admin_ids
    if not allowed:
        log.warning("admin command refused for user %s", user.id if user else "unknown")
    return allowed


async def _admin_message(update: Update, context: BotContext) -> Message | None:
    """The message to answer when an admin sent it; otherwise refuse (and log) and return None."""
    message = update.effective_message
    if message is None:
        return None
    if not _is_admin(update, context):
        await message.reply_text(REFUSED)
        return None
    return message


async def stats(update: Update, context: BotContext) -> None:
    message = await _admin_message(update, context)
    if message is None:
        return
    s = await asyncio.to_thread(context.services.usage.stats)
    lines = [
        f"提问 {s.questions} 次：回答 {s.answered}，如实拒答 {s.refused}",
        f"反馈：👍 {s.helpful}  👎 {s.unhelpful}",
    ]
    if s.top_unanswered:
        lines.append("最常见的未回答问题：")
        lines.extend(f"  {n}× {text[:60]}" for text, n in s.top_unanswered)
    elif not context.services.settings.log_questions:
        lines.append("（问题文本记录已关闭）")
    await message.reply_text("\n".join(lines))


async def reload(update: Update, context: BotContext) -> None:
    message = await _admin_message(update, context)
    if message is None:
        return
    try:
        report = await asyncio.to_thread(context.services.knowledge.reload)
    except KnowledgeError as exc:
        log.error("reload failed: %s", exc)
        await message.reply_text(f"重新加载失败，继续使用原数据库。\n{str(exc)[:500]}")
        return
    await message.reply_text(
        f"已重新加载：{report.documents} 份文件，{report.blocks} 个部门，{report.clauses} 条条款。"
    )
