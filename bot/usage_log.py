"""Questions and feedback, in a writable SQLite database separate from the read-only knowledge database.

Counts are always kept (for /stats); the question text only when LOG_QUESTIONS is on, and then only for the
most recent RETENTION questions. Every statement is parameterized. Calls are synchronous and short; the bot
runs them through `asyncio.to_thread`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

RETENTION = 10_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    update_id INTEGER UNIQUE,
    asked_at REAL NOT NULL,
    chat_type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    top_department TEXT NOT NULL DEFAULT '',
    text TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    question_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    helpful INTEGER NOT NULL,
    given_at REAL NOT NULL,
    PRIMARY KEY (question_id, user_id)
);
CREATE TABLE IF NOT EXISTS chat_settings (
    chat_id INTEGER PRIMARY KEY,
    region TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True, slots=True)
class Stats:
    questions: int
    answered: int
    refused: int
    helpful: int
    unhelpful: int
    top_unanswered: tuple[tuple[str, int], ...]


class UsageLog:
    def __init__(self, path: Path, *, keep_text: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.keep_text = keep_text
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        # WAL with NORMAL sync loses at most the last transactions on power loss, never consistency.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record_question(
        self, update_id: int | None, chat_type: str, outcome: str, top_department: str, text: str
    ) -> int:
        """Store one question (its text only when text logging is on) and return its id; idempotent per update."""
        with self._lock:
            if update_id is not None:
                row = self._conn.execute(
                    "SELECT id FROM questions WHERE update_id = ?", (update_id,)
                ).fetchone()
                if row:
                    return int(row[0])
            cursor = self._conn.execute(
                "INSERT INTO questions (update_id, asked_at, chat_type, outcome, top_department, text) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    update_id,
                    time.time(),
                    chat_type,
                    outcome,
                    top_department,
                    text[:500] if self.keep_text else None,
                ),
            )
            question_id = int(cursor.lastrowid or 0)
            self._conn.execute(
                "UPDATE questions SET text = NULL WHERE id <= ? AND text IS NOT NULL",
                (question_id - RETENTION,),
            )
            return question_id

    def record_feedback(self, question_id: int, user_id: int, helpful: bool) -> bool:
        """Store or change a user's vote on an answer; False when the question is unknown."""
        with self._lock:
            if not self._conn.execute("SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone():
                return False
            self._conn.execute(
                "INSERT INTO feedback (question_id, user_id, helpful, given_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (question_id, user_id) DO UPDATE SET helpful = excluded.helpful, given_at = excluded.given_at",
                (question_id, user_id, int(helpful), time.time()),
            )
            return True

    def set_region(self, chat_id: int, region: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO chat_settings (chat_id, region) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET region = excluded.region",
                (chat_id, region),
            )

    def region(self, chat_id: int) -> str:
        with self._lock:
            row = self._conn.execute(
                "SELECT region FROM chat_settings WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return str(row[0]) if row else ""

    def stats(self, top: int = 5) -> Stats:
        with self._lock:
            total, answered, refused = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(outcome IN ('answered', 'duties')), 0), "
                "COALESCE(SUM(outcome = 'refused'), 0) FROM questions"
            ).fetchone()
            helpful, unhelpful = self._conn.execute(
                "SELECT COALESCE(SUM(helpful = 1), 0), COALESCE(SUM(helpful = 0), 0) FROM feedback"
            ).fetchone()
            rows = self._conn.execute(
                "SELECT text, COUNT(*) AS n FROM questions WHERE outcome = 'refused' AND text IS NOT NULL "
                "GROUP BY text ORDER BY n DESC, MAX(id) DESC LIMIT ?",
                (top,),
            ).fetchall()
        return Stats(
            int(total),
            int(answered),
            int(refused),
            int(helpful),
            int(unhelpful),
            tuple((str(t), int(n)) for t, n in rows),
        )
