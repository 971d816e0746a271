"""Wiring: settings + knowledge + usage log → a python-telegram-bot Application.

Usage: python -m bot run   (TELEGRAM_BOT_TOKEN set; optional TELEGRAM_BASE_URL, ADMIN_IDS, WEBHOOK_*)

`build_application` only builds (tests build it freely); `post_init` loads the knowledge base once, off the
event loop, and registers the command menus; `run_bot` runs long polling, or a webhook when WEBHOOK_URL is set,
in this process — or, with BOT_WORKERS > 1, hands over to bot/workers.py, whose workers build their
Application here too (`worker=`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import urlparse

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

import handlers
from bot.knowledge_holder import KnowledgeHolder
from bot.logging_setup import configure_logging
from bot.settings import Settings
from bot.usage_log import UsageLog
from handlers.common import BotContext, Services

log = logging.getLogger(__name__)
# Opt in to python-telegram-bot's timedelta durations (RetryAfter.retry_after …) instead of deprecated ints.
os.environ.setdefault("PTB_TIMEDELTA", "1")

PRIVATE_COMMANDS = [
    BotCommand("ask", "提问：某事项归哪个部门管"),
    BotCommand("dept", "查看某部门的全部职责"),
    BotCommand("depts", "按文件浏览部门"),
    BotCommand("docs", "收录的文件"),
    BotCommand("region", "设置优先显示的地区"),
    BotCommand("help", "用法"),
]
GROUP_COMMANDS = [c for c in PRIVATE_COMMANDS if c.command in ("ask", "dept", "region", "help")]
ADMIN_COMMANDS = [
    *PRIVATE_COMMANDS,
    BotCommand("stats", "使用统计"),
    BotCommand("reload", "从源文件重建知识库"),
]
MAX_RETRIES = 5
# A leaky bucket of capacity C refilling C per minute sends at most 2C in any minute: Telegram allows 20 per group.
GROUP_BURST = 10


async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    kb = await asyncio.to_thread(services.knowledge.load)
    log.info("knowledge loaded: %d documents, %d clauses", len(kb.documents()), kb.data.index.size)
    if not application.bot_data.get("set_commands", True):
        return  # another worker process registers the menus (they are the bot's, not a process's)
    bot = application.bot
    await bot.set_my_commands(PRIVATE_COMMANDS, scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(GROUP_COMMANDS, scope=BotCommandScopeAllGroupChats())
    for admin_id in sorted(services.settings.admin_ids):
        try:
            await bot.set_my_commands(ADMIN_COMMANDS, scope=BotCommandScopeChat(admin_id))
        except BadRequest as exc:
            # An admin who has never opened a chat with the bot ("chat not found") must not stop the bot.
            log.warning("admin commands not set for user %s: %s", admin_id, exc)


async def post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    services.usage.close()


def build_application(
    settings: Settings, services: Services | None = None, *, worker: int | None = None
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The configured Application; nothing runs until it is started.

    `worker`: this Application is worker number `worker` of `settings.workers` (bot/workers.py): it gets its
    updates from the supervisor instead of an Updater, its share of the overall rate limit (the per-group limit
    stays whole: a group's updates all go to one worker), and only worker 0 registers the command menus.
    """
    services = services or Services(
        settings=settings,
        knowledge=KnowledgeHolder(settings.db_path, settings.knowledge_dir),
        usage=UsageLog(settings.log_db_path, keep_text=settings.log_questions),
    )
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(settings.token)
        .context_types(ContextTypes(context=BotContext))
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=settings.rate_limit / (settings.workers if worker is not None else 1),
                group_max_rate=GROUP_BURST,
                group_time_period=60,
                max_retries=MAX_RETRIES,
            )
        )
        # More updates in flight make each request dearer in httpx's connection pool (bench/RESULTS.md). Each
        # worker has as many as one process (halving them per worker made no measurable difference, session 3).
        .concurrent_updates(16)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if worker is not None:
        builder = builder.updater(None)
    if settings.base_url:
        builder = builder.base_url(settings.base_url).base_file_url(
            settings.base_url.replace("/bot", "/file/bot", 1)
        )
    application = builder.build()
    application.bot_data["services"] = services
    application.bot_data["set_commands"] = worker in (None, 0)
    handlers.register(application)
    return application


def run_bot(settings: Settings) -> None:
    if settings.workers > 1:
        from bot.workers import run_workers

        raise SystemExit(run_workers(settings))
    configure_logging(settings)
    application = build_application(settings)
    if settings.webhook_url:
        path = urlparse(settings.webhook_url).path.lstrip("/") or "telegram"
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
