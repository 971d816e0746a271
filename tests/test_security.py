"""Security properties that hold without a network: secrets never logged, data minimal, access refused."""

import io
import logging
import re
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot import usage_log
from bot.logging_setup import RedactingFilter, configure_logging
from bot.settings import Settings
from bot.usage_log import UsageLog
from handlers import admin
from knowledge.service import KnowledgeBase
from tests.conftest import ROOT
from tests.reliability import Recorder

TOKEN = "7362514098:AAH2kXq3-pZ9_wLr8TtYvBnMcD4eFgHiJkL"
OTHER_TOKEN = "1234567890:ZZZyyyXXXwwwVVVuuuTTTsssRRRqqqPPPooo"


def _logging_paths(logger: logging.Logger) -> None:
    logger.info("plain %s", TOKEN)
    logger.warning(f"f-string https://api.telegram.org/bot{TOKEN}/getMe")
    logger.error("dict %(t)s", {"t": TOKEN})
    try:
        raise RuntimeError(f"Bad Request for url https://api.telegram.org/bot{TOKEN}/sendMessage")
    except RuntimeError:
        logger.exception("exception with the token in its message")
    logger.warning("token-shaped, not configured: %s", OTHER_TOKEN)
    logger.info("stack", stack_info=True)
    logging.getLogger("httpx").warning("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
    logging.getLogger("telegram.ext.Application").error("Error: %r", SimpleNamespace(token=TOKEN))


def test_a_token_sent_through_every_logging_path_never_appears(reliability: Recorder) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings(token=TOKEN))
        for handler in root.handlers:
            handler.setStream(stream)  # type: ignore[attr-defined]
        _logging_paths(logging.getLogger("shuiguan.test"))
    finally:
        root.handlers, level = saved
        root.setLevel(level)
    output = stream.getvalue()
    assert "[REDACTED]" in output and "exception with the token" in output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output and OTHER_TOKEN not in output
    reliability.record(
        "Security", "token through every logging path (args, f-string, dict, traceback, httpx, stack)", 8, 8
    )


def test_settings_repr_masks_the_token_and_the_webhook_secret() -> None:
    settings = Settings.from_env(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://x/y", "WEBHOOK_SECRET": "s3cr3t-value"}
    )
    assert TOKEN not in repr(settings) and "s3cr3t-value" not in repr(settings)


def test_redacting_filter_keeps_other_text() -> None:
    assert RedactingFilter([TOKEN]).redact(f"a {TOKEN} b") == "a [REDACTED] b"


def test_with_question_logging_off_no_question_text_is_stored(tmp_path: Path, reliability: Recorder) -> None:
    log = UsageLog(tmp_path / "u.db", keep_text=False)
    log.record_question(1, "private", "refused", "", "谁负责办理护照 my phone is 13800000000")
    log.record_question(2, "private", "answered", "公安部门", "放射源丢了找谁")
    log.close()
    with sqlite3.connect(tmp_path / "u.db") as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM questions")]
        dump = "\n".join(conn.iterdump())
    assert texts == [None, None]
    assert "护照" not in dump and "13800000000" not in dump
    reliability.record("Security", "question logging off: no question text stored", 2, 2)


def test_with_question_logging_on_retention_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reliability: Recorder
) -> None:
    monkeypatch.setattr(usage_log, "RETENTION", 5)
    log = UsageLog(tmp_path / "u.db", keep_text=True)
    for n in range(20):
        log.record_question(n, "private", "refused", "", f"问题{n}")
    kept = [r for r in log._conn.execute("SELECT text FROM questions WHERE text IS NOT NULL")]
    assert len(kept) == 5
    assert log.stats().questions == 20  # counts survive; only text is dropped
    reliability.record(
        "Security", "question text kept only for the most recent RETENTION questions", 20, 20 - 15
    )


def _update(user_id: int | None) -> Any:
    user = SimpleNamespace(id=user_id) if user_id is not None else None
    return SimpleNamespace(effective_user=user)


def _context(admin_ids: frozenset[int]) -> Any:
    return SimpleNamespace(services=SimpleNamespace(settings=Settings(admin_ids=admin_ids)))


def test_empty_admin_ids_admits_nobody_and_refusals_are_logged(
    caplog: pytest.LogCaptureFixture, reliability: Recorder
) -> None:
    with caplog.at_level(logging.WARNING, logger="handlers.admin"):
        assert not admin._is_admin(_update(111), _context(frozenset()))
        assert not admin._is_admin(_update(None), _context(frozenset({111})))
        assert not admin._is_admin(_update(222), _context(frozenset({111})))
    assert admin._is_admin(_update(111), _context(frozenset({111})))
    assert len([r for r in caplog.records if "admin command refused" in r.getMessage()]) == 3
    assert Settings.from_env({}).admin_ids == frozenset()
    reliability.record(
        "Security", "admin commands by non-admins refused and logged; empty ADMIN_IDS admits nobody", 4, 4
    )


SQL_CALL = re.compile(r"\.execute\((f?)\"([^\"]*)\"|\.execute\(\s*\n\s*(f?)\"([^\"]*)\"")


def test_all_sql_is_parameterized(reliability: Recorder) -> None:
    """No SQL string interpolates values: the only f-string SQL builds `?` placeholders or a fixed query."""
    checked = 0
    for path in [*ROOT.glob("knowledge/*.py"), *ROOT.glob("bot/*.py"), *ROOT.glob("handlers/*.py")]:
        source = path.read_text(encoding="utf-8")
        for match in re.finditer(r"execute\(\s*(f?)\"", source):
            checked += 1
            if match.group(1):
                line = source[match.start() : source.index("\n", match.start())]
                assert (
                    re.search(r"\{','\.join\('\?' \* len\(\w+\)\)\}|\{marks\}|\{query\}", line) or "?" in line
                ), (path, line)
    assert checked >= 5
    for path in [*ROOT.glob("knowledge/*.py"), *ROOT.glob("bot/*.py"), *ROOT.glob("handlers/*.py")]:
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"execute\([^)]*%\s*\(", source), path
        assert ".format(" not in "".join(line for line in source.splitlines() if "execute" in line), path
    reliability.record("Security", "SQL statements checked for interpolated values", checked, checked)


def test_the_knowledge_database_is_opened_read_only(kb: KnowledgeBase, reliability: Recorder) -> None:
    conn = kb.store._conn()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM clauses")
    assert kb.clause(1) is not None
    reliability.record("Security", "knowledge database refuses writes from the bot", 1, 1)


def test_nothing_is_pickled() -> None:
    for path in [*ROOT.glob("knowledge/*.py"), *ROOT.glob("bot/*.py"), *ROOT.glob("handlers/*.py")]:
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"\bimport pickle\b|\bpickle\.|PicklePersistence|marshal\.loads", source), path
