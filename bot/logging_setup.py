"""Logging for the bot: per-module loggers, httpx's request lines silenced, and the token never printed."""

from __future__ import annotations

import logging
import re

from bot.settings import Settings

# Anything shaped like a bot token (digits:35 url-safe characters), even one we were not configured with.
TOKEN_SHAPE = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{20,}\b")


class RedactingFilter(logging.Filter):
    """Replaces the configured token and token-shaped strings in the final message, arguments and tracebacks."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
        return TOKEN_SHAPE.sub("[REDACTED]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redact(formatted)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(settings: Settings, label: str = "") -> RedactingFilter:
    """Root logging at the configured level, with the redacting filter on every handler.

    `label` names the process in every line when several bot processes share one log (bot/workers.py); each
    of them calls this, so each has its own redacting filter.
    """
    prefix = f"[{label}] " if label else ""
    logging.basicConfig(
        format=f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s",
        level=settings.log_level,
        force=True,
    )
    redactor = RedactingFilter([settings.token, settings.webhook_secret])
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    # httpx logs every request URL, and the URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return redactor
