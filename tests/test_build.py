import sqlite3
from pathlib import Path

import pytest

from knowledge.build import build_database
from knowledge.cleaning import compact
from knowledge.errors import DatabaseCorrupt, DatabaseMissing, SourceError
from knowledge.manifest import CHECKED_FIELDS, load_manifest, read_source
from knowledge.service import KnowledgeBase


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def test_tiny_corpus_builds_with_every_fix_kind(tiny_knowledge_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    report = build_database(db, tiny_knowledge_dir / "manifest.toml", tiny_knowledge_dir / "lexicon")
    assert (report.documents, report.blocks, report.clauses) == (1, 2, 3)
    assert {"ocr_spacing", "item_number", "stray_and", "line_join", "cover_notice"} <= set(report.fixes)
    kb = KnowledgeBase.open(db)
    texts = [(c.department, c.item, c.role, c.text) for c in list(kb.all_clauses())]
    assert texts == [
        ("公安部门", 1, "assist", "协助环境保护部门对机动车尾气污染进行监督管理。"),
        ("公安部门", 2, "lead", "负责社会生活噪声污染和交通噪声的监督管理。"),
        ("税务部门", 1, "lead", "落实有利于环境保护的税收政策。"),
    ]


def test_build_is_deterministic(tiny_knowledge_dir: Path, tmp_path: Path) -> None:
    args = (tiny_knowledge_dir / "manifest.toml", tiny_knowledge_dir / "lexicon")
    build_database(tmp_path / "a.db", *args)
    build_database(tmp_path / "b.db", *args)
    assert dump(tmp_path / "a.db") == dump(tmp_path / "b.db")


def test_failed_build_leaves_the_old_database_intact(tiny_knowledge_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    manifest = tiny_knowledge_dir / "manifest.toml"
    build_database(db, manifest, tiny_knowledge_dir / "lexicon")
    before = dump(db)
    (tiny_knowledge_dir / "sources" / "tiny.txt").write_bytes(b"\xff\xfe broken \n")
    with pytest.raises(SourceError, match=r"tiny.txt:1: not valid UTF-8"):
        build_database(db, manifest, tiny_knowledge_dir / "lexicon")
    assert dump(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.db", "k.db.index", "knowledge"]


def test_manifest_errors_name_the_entry(tiny_knowledge_dir: Path, tmp_path: Path) -> None:
    manifest = tiny_knowledge_dir / "manifest.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace('level = "county"', 'level = "galactic"'),
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r"document #1 \(tiny\): level must be"):
        build_database(tmp_path / "k.db", manifest, tiny_knowledge_dir / "lexicon")


def test_a_sixth_document_needs_only_a_file_and_a_manifest_entry(
    tiny_knowledge_dir: Path, tmp_path: Path
) -> None:
    manifest = tiny_knowledge_dir / "manifest.toml"
    extra = manifest.read_text(encoding="utf-8").replace('"tiny"', '"tiny2"').replace("tiny.txt", "tiny2.txt")
    manifest.write_text(
        manifest.read_text(encoding="utf-8") + extra.replace("某县", "某旗"), encoding="utf-8"
    )
    (tiny_knowledge_dir / "sources" / "tiny2.txt").write_text(
        "一、旗直部门职责\n（一）旗水务局\n1.组织开展河道采砂监督检查，查处非法采砂。\n2.指导农村饮水安全运行管理。\n",
        encoding="utf-8",
    )
    build_database(tmp_path / "k.db", manifest, tiny_knowledge_dir / "lexicon")
    kb = KnowledgeBase.open(tmp_path / "k.db")
    assert {d.id for d in kb.documents()} == {"tiny", "tiny2"}
    assert [m.department for m in kb.duties("水务局").matches] == ["旗水务局"]


def test_manifest_fields_not_marked_inferred_are_read_from_the_text() -> None:
    for spec in load_manifest():
        text = compact(read_source(spec)).replace(",", "，")
        for field in CHECKED_FIELDS:
            value = getattr(spec.info, field)
            if not value or field in spec.info.inferred:
                continue
            if field == "date":
                y, m, d = value.split("-")
                value = f"{int(y)}年{int(m)}月{int(d)}日"
            for part in value.split("、"):
                assert part in text, f"{spec.info.id}.{field}: {part!r} not in the text; mark it inferred"


def test_missing_database_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(DatabaseMissing, match="python -m bot build"):
        KnowledgeBase.open(tmp_path / "none.db")


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_corrupt_database_is_detected_at_open(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    with pytest.raises(DatabaseCorrupt, match="rebuild"):
        KnowledgeBase.open(path)


def test_truncated_database_is_detected_at_open(real_db: Path, tmp_path: Path) -> None:
    data = real_db.read_bytes()
    path = tmp_path / "cut.db"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatabaseCorrupt):
        KnowledgeBase.open(path)


def test_report_names_what_was_set_aside_and_fixed(real_db: Path) -> None:
    with sqlite3.connect(real_db) as conn:
        report = conn.execute("SELECT value FROM build_info WHERE key='report'").fetchone()[0]
    assert "set aside: im2015-copy2 (near-duplicate of im2015)" in report
    for kind in ("ocr_spacing", "item_number", "stray_and", "page_header", "cover_notice", "line_join"):
        assert kind in report
