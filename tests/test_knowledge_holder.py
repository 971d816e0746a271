"""bot.knowledge_holder: /reload in one bot worker reaches the others through the replaced database file."""

from __future__ import annotations

from pathlib import Path

from bot.knowledge_holder import KnowledgeHolder
from knowledge.loading import prepare_database


def test_a_database_replaced_by_another_process_is_picked_up(
    tiny_knowledge_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "k.db"
    prepare_database(db, tiny_knowledge_dir)
    here = KnowledgeHolder(db, tiny_knowledge_dir)
    first = here.load()
    assert here.refresh_if_replaced() is False  # nothing changed: no reopening on every check

    # Another worker's /reload: rebuilds from the sources and renames the new files over the old ones.
    elsewhere = KnowledgeHolder(db, tiny_knowledge_dir)
    elsewhere.load()
    elsewhere.reload()
    assert elsewhere.refresh_if_replaced() is False  # the worker that reloaded is already on the new file

    assert here.refresh_if_replaced() is True
    assert here.current is not first
    assert here.current.ask("社会生活噪声归谁管").answers
    assert here.refresh_if_replaced() is False


def test_nothing_to_refresh_before_loading_or_without_a_file(
    tiny_knowledge_dir: Path, tmp_path: Path
) -> None:
    holder = KnowledgeHolder(tmp_path / "absent.db", tiny_knowledge_dir)
    assert holder.refresh_if_replaced() is False
