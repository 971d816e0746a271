"""Settings, read once from the environment (and `.env`) into a frozen object.

Every variable is documented in `.env.example`. The token is never printed: `repr` masks it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = PROJECT_ROOT / "data" / "knowledge.db"
DEFAULT_LOG_DB = PROJECT_ROOT / "data" / "usage.db"
DEFAULT_KNOWLEDGE_DIR = PROJECT_ROOT / "knowledge"
# Each worker is a whole bot process (~130 MB with the real corpus); more than a few per core only adds switching.
MAX_WORKERS = 32


class SettingsError(ValueError):
    """A variable is set to something unusable; the message names it."""


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; # comments; surrounding quotes removed. Missing file → {}."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


def _mask(token: str) -> str:
    return f"{token[:4]}…(masked)" if token else ""


@dataclass(frozen=True)
class Settings:
    token: str = field(default="", repr=False)
    base_url: str = ""
    admin_ids: frozenset[int] = frozenset()
    db_path: Path = DEFAULT_DB
    knowledge_dir: Path = DEFAULT_KNOWLEDGE_DIR
    log_db_path: Path = DEFAULT_LOG_DB
    log_questions: bool = True
    log_level: str = "INFO"
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_port: int = 8443
    # Behind a reverse proxy terminating TLS (the usual setup) the webhook listens on loopback only.
    webhook_listen: str = "127.0.0.1"
    # Telegram's documented ceiling for a bot's outgoing messages; raise it only for a local Bot API server.
    rate_limit: float = 30.0
    # Bot processes answering updates; 1 = the single-process bot. More: one process receives updates and hands
    # each chat's to the same worker process (bot/workers.py), the rate limit split evenly between workers.
    workers: int = 1

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in (
                "base_url",
                "admin_ids",
                "db_path",
                "knowledge_dir",
                "log_db_path",
                "log_questions",
                "log_level",
                "webhook_url",
                "workers",
            )
        )
        return f"Settings(token={_mask(self.token)!r}, {shown})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        """Environment variables win over `.env` (found in the working directory or the project root)."""
        env: dict[str, str] = {}
        for candidate in [dotenv] if dotenv else [Path.cwd() / ".env", PROJECT_ROOT / ".env"]:
            if candidate and candidate.is_file():
                env.update(read_dotenv(candidate))
                break
        env.update(os.environ if environ is None else environ)

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name, "").strip().lower()
            if not raw:
                return default
            if raw in ("1", "true", "yes", "on"):
                return True
            if raw in ("0", "false", "no", "off"):
                return False
            raise SettingsError(f"{name} must be true or false, not {raw!r}")

        try:
            admins = frozenset(int(x) for x in env.get("ADMIN_IDS", "").replace(",", " ").split())
        except ValueError as exc:
            raise SettingsError("ADMIN_IDS must be numeric Telegram user ids separated by commas") from exc
        try:
            port = int(env.get("WEBHOOK_PORT", "8443") or 8443)
        except ValueError as exc:
            raise SettingsError("WEBHOOK_PORT must be a number") from exc
        try:
            rate_limit = float(env.get("TELEGRAM_RATE_LIMIT", "30") or 30)
        except ValueError as exc:
            raise SettingsError("TELEGRAM_RATE_LIMIT must be a number of messages per second") from exc
        try:
            workers = int(env.get("BOT_WORKERS", "1") or 1)
        except ValueError as exc:
            raise SettingsError("BOT_WORKERS must be a whole number of processes") from exc
        if not 1 <= workers <= MAX_WORKERS:
            raise SettingsError(f"BOT_WORKERS must be between 1 and {MAX_WORKERS}, not {workers}")
        level = env.get("LOG_LEVEL", "INFO").upper() or "INFO"
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
        webhook_url = env.get("WEBHOOK_URL", "").strip()
        secret = env.get("WEBHOOK_SECRET", "").strip()
        if webhook_url and not secret:
            raise SettingsError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        return cls(
            token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
            base_url=env.get("TELEGRAM_BASE_URL", "").strip(),
            admin_ids=admins,
            db_path=Path(env.get("SHUIGUAN_DB") or DEFAULT_DB),
            knowledge_dir=Path(env.get("SHUIGUAN_KNOWLEDGE_DIR") or DEFAULT_KNOWLEDGE_DIR),
            log_db_path=Path(env.get("SHUIGUAN_LOG_DB") or DEFAULT_LOG_DB),
            log_questions=flag("LOG_QUESTIONS", True),
            log_level=level,
            webhook_url=webhook_url,
            webhook_secret=secret,
            webhook_port=port,
            rate_limit=rate_limit,
            workers=workers,
            webhook_listen=env.get("WEBHOOK_LISTEN", "").strip() or "127.0.0.1",
        )
