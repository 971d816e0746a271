"""Faults of the knowledge files: detected at start with a clear message; a failed reload keeps serving."""

import shutil
from pathlib import Path

import pytest

from bot.knowledge_holder import KnowledgeHolder
from knowledge.build import build_database, index_path
from knowledge.errors import DatabaseCorrupt, SourceError
from knowledge.loading import open_knowledge
from knowledge.service import KnowledgeBase
from tests.reliability import Recorder


@pytest.fixture()
def built(tiny_knowledge_dir: Path, tmp_path: Path) -> Path:
    db = tmp_path / "k.db"
    build_database(db, tiny_knowledge_dir / "manifest.toml", tiny_knowledge_dir / "lexicon")
    return db


@pytest.mark.parametrize("damage", ["missing", "truncated", "empty", "garbage", "other build"])
def test_a_damaged_index_is_detected_at_open(
    built: Path, tmp_path: Path, damage: str, reliability: Recorder
) -> None:
    index = index_path(built)
    if damage == "missing":
        index.unlink()
    elif damage == "truncated":
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    elif damage == "empty":
        index.write_bytes(b"")
    elif damage == "garbage":
        index.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all" * 10)
    else:
        other = tmp_path / "other"
        shutil.copytree(tmp_path / "knowledge", other)
        (other / "sources" / "tiny.txt").write_text("一、部门\n（一）某局\n1.负责某事。\n", encoding="utf-8")
        build_database(tmp_path / "o.db", other / "manifest.toml", other / "lexicon")
        shutil.copyfile(index_path(tmp_path / "o.db"), index)
    with pytest.raises(DatabaseCorrupt, match="rebuild"):
        KnowledgeBase.open(built)
    reliability.record(
        "Faults",
        "damaged index file (missing, truncated, empty, garbage, another build's) detected at start",
        1,
        1,
    )


def test_a_missing_database_is_rebuilt_on_start(
    tiny_knowledge_dir: Path, tmp_path: Path, reliability: Recorder
) -> None:
    db = tmp_path / "fresh" / "k.db"
    kb = open_knowledge(db, tiny_knowledge_dir)
    assert db.exists() and index_path(db).exists()
    assert kb.ask("社会生活噪声归谁管").answers
    reliability.record("Faults", "missing knowledge database rebuilt at start", 1, 1)


def test_a_corrupt_database_is_not_silently_replaced(
    built: Path, tiny_knowledge_dir: Path, reliability: Recorder
) -> None:
    built.write_bytes(b"\0" * 4096)
    with pytest.raises(DatabaseCorrupt, match="python -m bot build"):
        open_knowledge(built, tiny_knowledge_dir)
    reliability.record("Faults", "corrupt knowledge database reported with what to run", 1, 1)


def test_a_failed_reload_names_the_file_and_line_and_keeps_serving(
    tiny_knowledge_dir: Path, tmp_path: Path, reliability: Recorder
) -> None:
    holder = KnowledgeHolder(tmp_path / "k.db", tiny_knowledge_dir)
    before = holder.load()
    question = "社会生活噪声归谁管"
    answer_before = before.ask(question).answers[0].clause.text
    source = tiny_knowledge_dir / "sources" / "tiny.txt"
    source.write_bytes(source.read_bytes() + b"\n3.\xff\xfe broken\n")
    with pytest.raises(SourceError, match=r"tiny\.txt:\d+: not valid UTF-8"):
        holder.reload()
    assert holder.current is before
    assert holder.current.ask(question).answers[0].clause.text == answer_before
    assert KnowledgeBase.open(tmp_path / "k.db").ask(question).answers[0].clause.text == answer_before
    reliability.record(
        "Faults", "failed /reload (bad source file): file and line reported, previous database kept", 1, 1
    )


def test_a_reload_with_a_bad_manifest_keeps_serving(tiny_knowledge_dir: Path, tmp_path: Path) -> None:
    holder = KnowledgeHolder(tmp_path / "k.db", tiny_knowledge_dir)
    before = holder.load()
    (tiny_knowledge_dir / "manifest.toml").write_text("[[document]]\nid = 'x'\n", encoding="utf-8")
    with pytest.raises(SourceError, match="missing"):
        holder.reload()
    assert holder.current is before


def test_a_missing_index_is_rebuilt_on_start(built: Path, tiny_knowledge_dir: Path) -> None:
    index_path(built).unlink()
    kb = open_knowledge(built, tiny_knowledge_dir)
    assert index_path(built).exists() and kb.ask("社会生活噪声归谁管").answers


def test_a_truncated_database_is_detected_without_a_full_check(
    built: Path, monkeypatch: pytest.MonkeyPatch, reliability: Recorder
) -> None:
    from knowledge import service

    monkeypatch.setattr(service, "FULL_CHECK_BYTES", 0)  # as for a national-scale database
    data = built.read_bytes()
    built.write_bytes(data[: len(data) - 4096])
    with pytest.raises(DatabaseCorrupt, match="truncated"):
        KnowledgeBase.open(built)
    reliability.record(
        "Faults", "truncated knowledge database detected at start (size check, any scale)", 1, 1
    )


def test_a_database_built_from_other_sources_is_used_as_it_is(built: Path, tmp_path: Path) -> None:
    """A benchmark or another deployment's database must never be rebuilt from this project's sources."""
    from knowledge.manifest import KNOWLEDGE_DIR

    before = built.read_bytes()
    kb = open_knowledge(built, KNOWLEDGE_DIR)
    assert built.read_bytes() == before
    assert {d.id for d in kb.documents()} == {"tiny"}
