"""Build the knowledge database from the manifest, the sources and the lexicons.

The build is deterministic (same inputs → same rows) and atomic: it writes a temporary file next to the
target, checks it, and only then renames it over the old database, so a failed build leaves the previous
database serving.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from knowledge.array_file import write_arrays
from knowledge.cleaning import CleanLine, clean_lines, compact
from knowledge.corpus_tokens import CorpusTokens, tokenize_corpus
from knowledge.departments import LEXICON_PATH, DepartmentLexicon
from knowledge.errors import SourceError
from knowledge.index import BIGRAM_SHARE, WORD_SHARE, build_field, encode_vocab
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
from knowledge.tokenize import TextAnalyzer, bigrams, read_everyday, read_terms

log = logging.getLogger(__name__)
SCHEMA_VERSION = 2


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


# Lists repeat their templates' wording: each distinct text is analysed once per build.
@functools.lru_cache(maxsize=200_000)
def _role(text: str) -> str:
    return role_of(text)


@functools.lru_cache(maxsize=200_000)
def _partners(text: str, own: frozenset[str], lexicon: DepartmentLexicon) -> tuple[str, ...]:
    return partners_of(text, set(own), lexicon)


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
                "role": _role(text),
                "partners": json.dumps(list(_partners(text, frozenset(keys), lexicon)), ensure_ascii=False),
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


ATTRIBUTIONS = ("block", "named", "inherited", "inferred", "general")
ROLES = ("lead", "assist")


def index_path(db: Path) -> Path:
    """The index file that belongs to a database file."""
    return db.with_name(db.name + ".index")


def build_database(
    target: Path, manifest: Path = MANIFEST_PATH, lexicon_dir: Path = LEXICON_PATH.parent
) -> BuildReport:
    """Build the database and its index at `target` atomically and return the build report."""
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
    active = [d for d in docs if d.spec.info.id not in set_aside]
    rows: list[dict[str, Any]] = []
    for doc in active:
        rows.extend(_clause_rows(doc, lexicon, len(rows) + 1))
    corpus = "".join(row["text"] for row in rows)
    analyzer = TextAnalyzer.from_lexicons(lexicon_dir, lexicon, corpus)
    tokens = tokenize_corpus([row["text"] for row in rows], analyzer)
    for row, joined in zip(rows, tokens.joined_words, strict=True):
        row["words"] = joined
    fingerprint = input_fingerprint(manifest, lexicon_dir)

    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = f".tmp-{os.getpid()}"
    tmp, tmp_index = (
        target.with_name(target.name + suffix),
        index_path(target).with_name(index_path(target).name + suffix),
    )
    for path in (tmp, tmp_index):
        path.unlink(missing_ok=True)
    try:
        write_arrays(tmp_index, fingerprint, _index_arrays(rows, active, tokens, lexicon))
        report = _write(tmp, docs, set_aside, rows, lexicon, analyzer, fingerprint, lexicon_dir)
        with sqlite3.connect(tmp) as conn:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise SourceError(f"{tmp}: integrity check failed after build")
        conn.close()
        # The index goes first: a reader that opens the old database with the new index sees the build ids
        # differ and reopens; a database is never paired silently with another build's index.
        os.replace(tmp_index, index_path(target))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp_index.unlink(missing_ok=True)
        raise
    return report


def _index_arrays(
    rows: list[dict[str, Any]], active: list[_Parsed], tokens: CorpusTokens, lexicon: DepartmentLexicon
) -> dict[str, Any]:
    doc_index = {d.spec.info.id: i for i, d in enumerate(active)}
    keys: dict[str, int] = {}
    names: dict[str, int] = {}
    subject_clause: list[int] = []
    subject_key: list[int] = []
    for n, row in enumerate(rows):
        for key in json.loads(row["subjects"]):
            subject_clause.append(n)
            subject_key.append(keys.setdefault(key, len(keys)))
        canonical = (
            lexicon.get(row["department_key"]).canonical if row["department_key"] in lexicon.entries else ""
        )
        row["_name"] = names.setdefault(row["department"] + canonical, len(names))
    name_tokens = [bigrams(name) for name in names]
    name_vocab: dict[str, int] = {}
    name_ids = np.array(
        [name_vocab.setdefault(t, len(name_vocab)) for ts in name_tokens for t in ts], dtype=np.int64
    )
    arrays: dict[str, Any] = {
        "clause_document": np.array([doc_index[r["document_id"]] for r in rows], dtype=np.int32),
        "clause_department": np.array(
            [keys.setdefault(r["department_key"], len(keys)) for r in rows], dtype=np.int32
        ),
        "clause_name": np.array([r.pop("_name") for r in rows], dtype=np.int32),
        "clause_attribution": np.array([ATTRIBUTIONS.index(r["attribution"]) for r in rows], dtype=np.uint8),
        "clause_role": np.array([ROLES.index(r["role"]) for r in rows], dtype=np.uint8),
        "subject_clause": np.array(subject_clause, dtype=np.int32),
        "subject_department": np.array(subject_key, dtype=np.int32),
        "department_keys": encode_vocab(list(keys)),
    }
    arrays.update(
        build_field("words", tokens.words.vocab, tokens.words.ids, tokens.words.lengths, WORD_SHARE)
    )
    arrays.update(
        build_field("bigrams", tokens.bigrams.vocab, tokens.bigrams.ids, tokens.bigrams.lengths, BIGRAM_SHARE)
    )
    arrays.update(
        build_field(
            "names", list(name_vocab), name_ids, np.array([len(ts) for ts in name_tokens], dtype=np.int64)
        )
    )
    return arrays


def _write(
    path: Path,
    docs: list[_Parsed],
    set_aside: dict[str, Any],
    rows: list[dict[str, Any]],
    lexicon: DepartmentLexicon,
    analyzer: TextAnalyzer,
    fingerprint: str,
    lexicon_dir: Path,
) -> BuildReport:
    db = sqlite_utils.Database(path)
    # A private temporary file, renamed into place only when complete: no journal or fsync needed while writing.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    total_fixes: Counter[str] = Counter()
    per_document: dict[str, dict[str, int]] = {}
    documents: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    by_document: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_document.setdefault(row["document_id"], []).append(row)
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
        doc_rows = by_document.get(info.id, [])
        doc_blocks: dict[str, dict[str, Any]] = {}
        for row in doc_rows:
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
        per_document[info.id] = {"blocks": len(doc_blocks), "clauses": len(doc_rows)}

    db.table("documents").insert_all(documents, pk="id")
    db.table("blocks").insert_all(blocks, pk=("document_id", "position"))
    db.table("clauses").insert_all(
        rows, pk="id", foreign_keys=[("document_id", "documents", "id")], batch_size=5000
    )
    db.table("clauses").create_index(["document_id"])
    db.table("clause_subjects").insert_all(
        (
            {"clause_id": row["id"], "department_key": key}
            for row in rows
            for key in json.loads(row["subjects"])
        ),
        pk=("clause_id", "department_key"),
        batch_size=10000,
    )
    db.table("clause_subjects").create_index(["department_key"])
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
        blocks=len(blocks),
        clauses=len(rows),
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
            {"key": "knowledge_dir", "value": str(lexicon_dir.parent.resolve())},
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
