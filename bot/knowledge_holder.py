"""The bot's current knowledge base, replaceable at run time by `/reload` without a restart."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from knowledge.build import build_database
from knowledge.loading import open_knowledge
from knowledge.manifest import KNOWLEDGE_DIR
from knowledge.models import BuildReport
from knowledge.service import KnowledgeBase

log = logging.getLogger(__name__)


class KnowledgeHolder:
    """Holds one loaded `KnowledgeBase`; readers take the reference, `reload` swaps it in one assignment."""

    def __init__(self, db_path: Path, knowledge_dir: Path = KNOWLEDGE_DIR) -> None:
        self.db_path = db_path
        self.knowledge_dir = knowledge_dir
        self._kb: KnowledgeBase | None = None
        self._reload_lock = threading.Lock()
        self._file: tuple[int, int] | None = None  # (inode, mtime) of the database file that is loaded

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            stat = self.db_path.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def load(self) -> KnowledgeBase:
        """Open (building first if missing or stale) and warm up; called once at start-up."""
        kb = open_knowledge(self.db_path, self.knowledge_dir)
        kb.warm_up()
        self._kb, self._file = kb, self._file_identity()
        return kb

    @property
    def current(self) -> KnowledgeBase:
        if self._kb is None:
            return self.load()
        return self._kb

    def reload(self) -> BuildReport:
        """Rebuild from the sources and switch to the new database; on any error the old one keeps serving."""
        with self._reload_lock:
            report = build_database(
                self.db_path, self.knowledge_dir / "manifest.toml", self.knowledge_dir / "lexicon"
            )
            kb = KnowledgeBase.open(self.db_path)
            kb.warm_up()
            self._kb, self._file = kb, self._file_identity()
            log.info("knowledge reloaded: %d documents, %d clauses", report.documents, report.clauses)
            return report

    def refresh_if_replaced(self) -> bool:
        """Open the database again if another process replaced the file (a /reload in another bot worker).

        The build renames the index into place before the database, so a new database file means a new index.
        """
        with self._reload_lock:
            if self._kb is None:
                return False
            identity = self._file_identity()
            if identity is None or identity == self._file:
                return False
            kb = KnowledgeBase.open(self.db_path)
            kb.warm_up()
            self._kb, self._file = kb, identity
            log.info("knowledge database replaced by another process: switched to it")
            return True
