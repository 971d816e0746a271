"""Opening the knowledge database, rebuilding it first when it is missing or older than its sources."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from knowledge.build import build_database, index_path, input_fingerprint
from knowledge.errors import DatabaseCorrupt
from knowledge.manifest import KNOWLEDGE_DIR
from knowledge.service import KnowledgeBase

log = logging.getLogger(__name__)


def stored_fingerprint(path: Path) -> str | None:
    """The inputs hash the database was built from, or None when it cannot be read."""
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM build_info WHERE key = 'inputs'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def open_knowledge(path: Path, knowledge_dir: Path = KNOWLEDGE_DIR, *, rebuild: bool = True) -> KnowledgeBase:
    """The knowledge base at `path`; with `rebuild`, a missing or stale database is built first.

    A corrupt file is not silently replaced: the caller gets DatabaseCorrupt with what to run.
    """
    manifest, lexicon_dir = knowledge_dir / "manifest.toml", knowledge_dir / "lexicon"
    missing = not path.exists() or not index_path(path).exists()
    if rebuild and (missing or stored_fingerprint(path) != input_fingerprint(manifest, lexicon_dir)):
        if path.exists() and stored_fingerprint(path) is None:
            raise DatabaseCorrupt(
                f"{path} is not a readable knowledge database: rebuild it with `python -m bot build`"
            )
        log.warning("knowledge database %s is missing or older than its sources: building it", path)
        build_database(path, manifest, lexicon_dir)
    return KnowledgeBase.open(path)
