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


def _build_info(path: Path, key: str) -> str | None:
    """One value of the database's build_info, or None when it cannot be read."""
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM build_info WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def stored_fingerprint(path: Path) -> str | None:
    """The inputs hash the database was built from, or None when it cannot be read."""
    return _build_info(path, "inputs")


def prepare_database(path: Path, knowledge_dir: Path = KNOWLEDGE_DIR) -> None:
    """Build the database at `path` when it is missing or older than its sources; otherwise leave it alone.

    A database built from another sources folder (a benchmark corpus, another deployment's lists) is used as it
    is: rebuilding it from this folder would silently replace it. A corrupt file is not replaced either: the
    caller gets DatabaseCorrupt with what to run. Separate from opening so that a process that serves nothing
    itself (the supervisor of several bot workers) can build once before its workers open the file.
    """
    manifest, lexicon_dir = knowledge_dir / "manifest.toml", knowledge_dir / "lexicon"
    if path.exists():
        built_from, fingerprint = _build_info(path, "knowledge_dir"), stored_fingerprint(path)
        if built_from is None and fingerprint is None:
            raise DatabaseCorrupt(
                f"{path} is not a readable knowledge database: rebuild it with `python -m bot build`"
            )
        if built_from and Path(built_from) != knowledge_dir.resolve():
            log.warning(
                "knowledge database %s was built from %s, not %s: using it as it is",
                path,
                built_from,
                knowledge_dir,
            )
            return
        if fingerprint == input_fingerprint(manifest, lexicon_dir) and index_path(path).exists():
            return
    log.warning("knowledge database %s is missing or older than its sources: building it", path)
    build_database(path, manifest, lexicon_dir)


def open_knowledge(path: Path, knowledge_dir: Path = KNOWLEDGE_DIR, *, rebuild: bool = True) -> KnowledgeBase:
    """The knowledge base at `path`; with `rebuild`, first `prepare_database` (built when missing or stale)."""
    if rebuild:
        prepare_database(path, knowledge_dir)
    return KnowledgeBase.open(path)
