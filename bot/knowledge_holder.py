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

    def load(self) -> KnowledgeBase:
        """Open (building first if missing or stale) and warm up; called once at start-up."""
        kb = open_knowledge(self.db_path, self.knowledge_dir)
        kb.warm_up()
        self._kb = kb
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
            self._kb = kb
            log.info("knowledge reloaded: %d documents, %d clauses", report.documents, report.clauses)
            return report
