"""Build the knowledge database from the manifest, the sources and the lexicons.

The build is deterministic (same inputs → same rows) and atomic: it writes a temporary file next to the
target, checks it, and only then renames it over the old database, so a failed build leaves the previous
database serving.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from knowledge.cleaning import CleanLine, clean_lines, compact
from knowledge.departments import LEXICON_PATH, DepartmentLexicon
from knowledge.errors import SourceError
from knowledge.manifest import MANIFEST_PATH, SourceSpec, load_manifest, read_source
from knowledge.models import BuildReport, SetAside
from knowledge.near_duplicates import Candidate, choose_copies
from knowledge.query import load_regions
from knowledge.roles import partners_of, role_of
from knowledge.structure import (
    ParsedDocument,
    Unit,
    chinese_number,
    parse,
    split_by_subject,
    split_sentences,
    subjects_at_start,
)
from knowledge.tokenize import TextAnalyzer, read_everyday, read_terms

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class _Parsed:
    spec: SourceSpec
    lines: list[CleanLine]
    parsed: ParsedDocument
    fixes: Counter[str]
    sha256: str


def adhoc_key(document_id: str, name: str) -> str:
    """A short ASCII key for a department the lexicon does not know (button data must stay small and plain)."""
    return "x" + hashlib.sha1(f"{document_id}:{name}".encode()).hexdigest()[:10]


def _section_number(section: str) -> int:
    head = section.split("、", 1)[0]
    return chinese_number(head) if head else 0


def _clause_rows(doc: _Parsed, lexicon: DepartmentLexicon, start_id: int) -> list[dict[str, Any]]:
    """One row per duty item, and one per sentence (or per subject within a sentence) of a paragraph."""
    rows: list[dict[str, Any]] = []
    general = doc.spec.general_subject or "未点名部门"
    general_key = lexicon.key_for_block(general) or adhoc_key(doc.spec.info.id, general)

    def add(
        unit: Unit, text: str, sentence: int | None, part: int, names: list[tuple[str, str]], how: str
    ) -> None:
        keys = [k for _, k in names]
        department = "、".join(n for n, _ in names)
        sec = _section_number(unit.section)
        ref = f"{doc.spec.info.id}/{sec}.{unit.block_no or 0}.{unit.item if sentence is None else sentence}"
        if part:
            ref += "abcdefghij"[part - 1]
        first_line, last_line = unit.line_numbers[0], unit.line_numbers[-1]
        rows.append(
            {
                "id": start_id + len(rows),
                "ref": ref,
                "document_id": doc.spec.info.id,
                "section": unit.section,
                "block": unit.block,
                "item": unit.item,
                "sentence": sentence,
                "department": department,
                "department_key": keys[0],
                "subjects": json.dumps(keys),
                "attribution": how,
                "role": role_of(text),
                "partners": json.dumps(list(partners_of(text, set(keys), lexicon)), ensure_ascii=False),
                "text": text,
                "original": unit.original,
                "line_start": first_line,
                "line_end": last_line,
            }
        )

    for unit in doc.parsed.units:
        if unit.is_duty:
            key = lexicon.key_for_block(unit.department) or adhoc_key(doc.spec.info.id, unit.department)
            add(unit, unit.text, None, 0, [(unit.department, key)], "block")
            continue
        previous: list[tuple[str, str]] = []
        for n, sentence in enumerate(split_sentences(unit.text), start=1):
            segments = split_by_subject(sentence, lexicon)
            for part, segment in enumerate(segments, start=1 if len(segments) > 1 else 0):
                text = segment.rstrip("，；、")
                subjects = subjects_at_start(segment, lexicon)
                if subjects:
                    add(unit, text, n, part, subjects, "named")
                    previous = subjects
                elif previous:
                    add(unit, text, n, part, previous, "inherited")
                elif not lexicon.mentions(text) and (implied := lexicon.implied_by_function(text)):
                    add(unit, text, n, part, [implied], "inferred")
                else:
                    add(unit, text, n, part, [(general, general_key)], "general")
    return rows


def _parse_all(specs: list[SourceSpec]) -> list[_Parsed]:
    parsed = []
    for spec in specs:
        raw = read_source(spec)
        lines, fixes = clean_lines(raw, title=spec.info.title, page_headers=spec.page_headers)
        doc = parse(lines, duty_list=spec.is_duty_list)
        if not doc.units:
            raise SourceError(f"{spec.path}: no sections found (expected lines such as 一、… and （一）…)")
        fixes["line_join"] += doc.line_joins
        parsed.append(_Parsed(spec, lines, doc, fixes, hashlib.sha256(raw.encode()).hexdigest()))
    return parsed


def input_fingerprint(manifest: Path = MANIFEST_PATH, lexicon_dir: Path = LEXICON_PATH.parent) -> str:
    """A hash of every input of the build: the bot compares it to tell a stale database."""
    digest = hashlib.sha256()
    paths = [manifest, *sorted(manifest.parent.joinpath("sources").glob("*")), *sorted(lexicon_dir.glob("*"))]
    for path in paths:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build_database(
    target: Path, manifest: Path = MANIFEST_PATH, lexicon_dir: Path = LEXICON_PATH.parent
) -> BuildReport:
    """Build the database at `target` atomically and return the build report."""
    specs = load_manifest(manifest)
    lexicon = DepartmentLexicon.load(lexicon_dir / "departments.toml")
    docs = _parse_all(specs)
    decisions = choose_copies(
        [
            Candidate(d.spec.info.id, compact("".join(u.text for u in d.parsed.units)), d.parsed.anomalies)
            for d in docs
        ]
    )
    set_aside = {d.set_aside: d for d in decisions}
    corpus = "".join(u.text for d in docs if d.spec.info.id not in set_aside for u in d.parsed.units)
    analyzer = TextAnalyzer.from_lexicons(lexicon_dir, lexicon, corpus)

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        report = _write(
            tmp, docs, set_aside, lexicon, analyzer, input_fingerprint(manifest, lexicon_dir), lexicon_dir
        )
        with sqlite3.connect(tmp) as conn:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise SourceError(f"{tmp}: integrity check failed after build")
        conn.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return report


def _write(
    path: Path,
    docs: list[_Parsed],
    set_aside: dict[str, Any],
    lexicon: DepartmentLexicon,
    analyzer: TextAnalyzer,
    fingerprint: str,
    lexicon_dir: Path,
) -> BuildReport:
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode = DELETE")
    total_fixes: Counter[str] = Counter()
    per_document: dict[str, dict[str, int]] = {}
    blocks_total = clauses_total = 0
    next_id = 1
    documents: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    clauses: list[dict[str, Any]] = []
    for position, doc in enumerate(docs):
        info = doc.spec.info
        decision = set_aside.get(info.id)
        documents.append(
            {
                "id": info.id,
                "position": position,
                "title": info.title,
                "issuer": info.issuer,
                "date": info.date,
                "doc_number": info.doc_number,
                "region": info.region,
                "level": info.level,
                "kind": info.kind,
                "inferred": json.dumps(list(info.inferred)),
                "notes": info.notes,
                "general_subject": doc.spec.general_subject,
                "source_file": doc.spec.path.name,
                "sha256": doc.sha256,
                "front_matter": doc.parsed.front_matter,
                "status": "set_aside" if decision else "active",
                "duplicate_of": decision.kept if decision else "",
                "set_aside_reason": decision.reason if decision else "",
            }
        )
        if decision:
            continue
        total_fixes.update(doc.fixes)
        rows = _clause_rows(doc, lexicon, next_id)
        next_id += len(rows)
        for row in rows:
            row["words"] = " ".join(analyzer.words(row["text"]))
        clauses.extend(rows)
        doc_blocks: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["attribution"] != "block":
                continue
            block = doc_blocks.setdefault(
                row["block"],
                {
                    "document_id": info.id,
                    "position": len(doc_blocks),
                    "section": row["section"],
                    "block": row["block"],
                    "department": row["department"],
                    "department_key": row["department_key"],
                    "count": 0,
                },
            )
            block["count"] += 1
        blocks.extend(doc_blocks.values())
        blocks_total += len(doc_blocks)
        clauses_total += len(rows)
        per_document[info.id] = {"blocks": len(doc_blocks), "clauses": len(rows)}

    db.table("documents").insert_all(documents, pk="id")
    db.table("blocks").insert_all(blocks, pk=("document_id", "position"))
    db.table("clauses").insert_all(clauses, pk="id", foreign_keys=[("document_id", "documents", "id")])
    db.table("clauses").create_index(["document_id"])
    db.table("clauses").create_index(["department_key"])
    db.table("departments").insert_all(
        (
            {
                "key": e.department.key,
                "canonical": e.department.canonical,
                "successor": e.department.successor,
                "note": e.department.note,
                "generic": int(e.department.generic),
                "written": json.dumps(list(e.written), ensure_ascii=False),
                "aliases": json.dumps(list(e.aliases), ensure_ascii=False),
                "functions": json.dumps(list(e.functions), ensure_ascii=False),
            }
            for e in lexicon.entries.values()
        ),
        pk="key",
    )
    report = BuildReport(
        documents=len(docs) - len(set_aside),
        blocks=blocks_total,
        clauses=clauses_total,
        set_aside=tuple(
            SetAside(doc_id, d.kept, d.reason)
            for doc_id, d in sorted(set_aside.items(), key=lambda kv: kv[0])
        ),
        fixes=dict(sorted(total_fixes.items())),
        per_document=per_document,
    )
    db.table("build_info").insert_all(
        [
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            {"key": "inputs", "value": fingerprint},
            {"key": "report", "value": json.dumps(report.lines(), ensure_ascii=False)},
            {"key": "analyzer", "value": analyzer.export()},
            {
                "key": "out_of_scope",
                "value": json.dumps(read_terms(lexicon_dir / "out_of_scope.txt"), ensure_ascii=False),
            },
            {
                "key": "everyday",
                "value": json.dumps(read_everyday(lexicon_dir / "everyday.txt"), ensure_ascii=False),
            },
            {
                "key": "regions",
                "value": json.dumps(
                    [asdict(r) for r in load_regions(lexicon_dir / "regions.toml")], ensure_ascii=False
                ),
            },
        ],
        pk="key",
    )
    db.close()
    return report
