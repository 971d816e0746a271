"""Handler registration: one place decides which update reaches which handler, in priority groups."""

from __future__ import annotations

from typing import Any

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from handlers import admin, buttons, commands, inline, messages
from handlers.errors import on_error


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # Group 0: commands (work in private chats and, addressed as /cmd@bot, in groups).
    application.add_handler(CommandHandler("start", commands.start))
    application.add_handler(CommandHandler("help", commands.help_command))
    application.add_handler(CommandHandler("ask", commands.ask))
    application.add_handler(CommandHandler("dept", commands.dept))
    application.add_handler(CommandHandler("depts", commands.depts))
    application.add_handler(CommandHandler("docs", commands.docs))
    application.add_handler(CommandHandler("region", commands.region))
    application.add_handler(CommandHandler("stats", admin.stats))
    application.add_handler(CommandHandler("reload", admin.reload))
    application.add_handler(CallbackQueryHandler(buttons.button))
    application.add_handler(InlineQueryHandler(inline.inline_query))
    # Group 1: plain messages, after commands had their chance.
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(filters.ChatType.PRIVATE & text, messages.private_text), group=1)
    application.add_handler(MessageHandler(filters.ChatType.GROUPS & text, messages.group_text), group=1)
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
            messages.private_non_text,
        ),
        group=1,
    )
    application.add_error_handler(on_error)
