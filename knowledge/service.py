"""The knowledge service: a read-only view of one built database and its index.

Every method is synchronous and safe to call from several threads; the bot calls it through
`asyncio.to_thread`. Documents, departments and the index arrays are loaded (the arrays memory-mapped) when the
service opens; clauses stay in SQLite and are read when an answer needs them, so opening takes the same time
for five documents as for five thousand. Reloading means opening a new `KnowledgeBase` and swapping the
reference: a loaded instance never changes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from knowledge.answering import Answerer
from knowledge.build import index_path
from knowledge.departments import DepartmentEntry, DepartmentLexicon
from knowledge.errors import DatabaseCorrupt, DatabaseMissing
from knowledge.models import (
    AnswerSet,
    Clause,
    Department,
    DepartmentCount,
    DocumentDepartments,
    DocumentInfo,
    DutiesResult,
    DutyGroup,
    SetAside,
)
from knowledge.query import QueryParser, Region
from knowledge.storage import SELECT_CLAUSE, ClauseIndex, ClauseStore, connect_readonly
from knowledge.tokenize import TextAnalyzer, bigrams

log = logging.getLogger(__name__)
FULL_CHECK_BYTES = 50 * 1024 * 1024
REQUIRED_TABLES = {"documents", "blocks", "clauses", "clause_subjects", "departments", "build_info"}


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open the database read-only and check it; the bot never writes to the knowledge database."""
    if not path.is_file():
        raise DatabaseMissing(f"no knowledge database at {path}: run `python -m bot build` (or `make build`)")
    try:
        conn = connect_readonly(path)
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        if path.stat().st_size < page_count * page_size:
            raise DatabaseCorrupt(f"{path} is truncated: rebuild it with `python -m bot build`")
        # A full check reads every page: done for databases of ordinary size, skipped at national scale where it
        # would cost seconds at every start (truncation and a damaged header or schema are still caught here).
        if (
            page_count * page_size <= FULL_CHECK_BYTES
            and conn.execute("PRAGMA quick_check").fetchone()[0] != "ok"
        ):
            raise DatabaseCorrupt(f"{path} failed its integrity check: rebuild it with `python -m bot build`")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise DatabaseCorrupt(
            f"{path} is not a readable knowledge database ({exc}): rebuild it with `python -m bot build`"
        ) from exc
    if not tables >= REQUIRED_TABLES:
        conn.close()
        raise DatabaseCorrupt(
            f"{path} lacks tables {sorted(REQUIRED_TABLES - tables)}: rebuild it with `python -m bot build`"
        )
    return conn


@dataclass(frozen=True)
class LoadedData:
    documents: tuple[DocumentInfo, ...]
    set_aside: tuple[SetAside, ...]
    lexicon: DepartmentLexicon
    analyzer: TextAnalyzer
    build_info: dict[str, str]
    index: ClauseIndex


def _load(path: Path) -> LoadedData:
    conn = open_readonly(path)
    try:
        info = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM build_info")}
        documents: list[DocumentInfo] = []
        set_aside = []
        for r in conn.execute("SELECT * FROM documents ORDER BY position"):
            if r["status"] != "active":
                set_aside.append(SetAside(r["id"], r["duplicate_of"], r["set_aside_reason"]))
                continue
            documents.append(
                DocumentInfo(
                    id=r["id"],
                    title=r["title"],
                    issuer=r["issuer"],
                    date=r["date"],
                    doc_number=r["doc_number"],
                    region=r["region"],
                    level=r["level"],
                    kind=r["kind"],
                    inferred=tuple(json.loads(r["inferred"])),
                    notes=r["notes"],
                )
            )
        lexicon = DepartmentLexicon(
            DepartmentEntry(
                Department(r["key"], r["canonical"], r["successor"], r["note"], bool(r["generic"])),
                tuple(json.loads(r["written"])),
                tuple(json.loads(r["aliases"])),
                tuple(json.loads(r["functions"])),
            )
            for r in conn.execute("SELECT * FROM departments ORDER BY key")
        )
        analyzer = TextAnalyzer.from_export(info["analyzer"])
    except (sqlite3.DatabaseError, KeyError, json.JSONDecodeError) as exc:
        raise DatabaseCorrupt(
            f"{path} does not match this version's schema ({exc}): rebuild it with `python -m bot build`"
        ) from exc
    finally:
        conn.close()
    index_file = index_path(path)
    if not index_file.is_file():
        raise DatabaseCorrupt(f"{index_file} is missing: rebuild with `python -m bot build`")
    return LoadedData(
        documents=tuple(documents),
        set_aside=tuple(set_aside),
        lexicon=lexicon,
        analyzer=analyzer,
        build_info=info,
        index=ClauseIndex.load(index_file, info["inputs"]),
    )


class KnowledgeBase:
    """Documents, departments, duties and answers, from one built database."""

    def __init__(self, data: LoadedData, path: Path) -> None:
        self.data = data
        self.store = ClauseStore(path, {d.id: d for d in data.documents}, data.lexicon)
        self._characters = frozenset(c for gram in data.index.bigrams.vocab for c in gram)
        info = data.build_info
        everyday = [(tuple(s), tuple(w)) for s, w in json.loads(info.get("everyday", "[]"))]
        regions = [
            Region(r["name"], tuple(r["aliases"]), r.get("within", ""))
            for r in json.loads(info.get("regions", "[]"))
        ]
        titles = {d.id: d.title for d in data.documents}
        out_of_scope = json.loads(info.get("out_of_scope", "[]"))
        parser = QueryParser(
            data.analyzer, data.lexicon, regions, everyday, self._known, titles, out_of_scope
        )
        generic = {k for k, e in data.lexicon.entries.items() if e.department.generic}
        self._answerer = Answerer(data.index, self.store, parser, data.documents, generic)

    @classmethod
    def open(cls, path: Path) -> KnowledgeBase:
        return cls(_load(path), path)

    def _known(self, unit: str) -> bool:
        """Whether the lists use this piece of a question: as an indexed word, or every character pair of it."""
        if self.data.index.words.knows(unit):
            return True
        if len(unit) == 1:
            return unit in self._characters
        grams = bigrams(unit)
        return bool(grams) and all(self.data.index.bigrams.knows(g) for g in grams)

    @property
    def lexicon(self) -> DepartmentLexicon:
        return self.data.lexicon

    def warm_up(self) -> None:
        """Do the first-question work (dictionary load) now."""
        self.data.analyzer.warm_up()

    def ask(self, question: str, prefer_region: str = "") -> AnswerSet:
        """The departments responsible for what the question asks about, with their clauses, or a refusal.

        `prefer_region` (a chat's default region) ranks that region's documents first without hiding others.
        """
        return self._answerer.ask(question, self.duties, prefer_region)

    def regions(self) -> tuple[str, ...]:
        """Regions a chat can prefer: those of the documents, in document order."""
        return tuple(dict.fromkeys(d.region for d in self.data.documents))

    def find_region(self, text: str) -> str:
        """The region a user's word names (昌吉 → 昌吉回族自治州), or ""."""
        return self._answerer.parser.region_named(text)

    def documents(self) -> tuple[DocumentInfo, ...]:
        return self.data.documents

    def set_aside(self) -> tuple[SetAside, ...]:
        return self.data.set_aside

    def clause(self, clause_id: int) -> Clause | None:
        found = self.store.get_many([clause_id])
        return found[0][0] if found else None

    def all_clauses(self) -> Iterator[Clause]:
        """Every indexed clause in document order (for exports and checks; answers never need this)."""
        return self.store.rows("SELECT * FROM clauses ORDER BY id")

    def departments(self) -> tuple[DocumentDepartments, ...]:
        """The department blocks of each document with their duty counts (narratives have none)."""
        blocks: dict[str, list[DepartmentCount]] = defaultdict(list)
        for r in self.store.sql("SELECT * FROM blocks ORDER BY document_id, position"):
            key = r["department_key"]
            canonical = self.lexicon.get(key).canonical if key in self.lexicon.entries else r["department"]
            blocks[r["document_id"]].append(
                DepartmentCount(r["department"], key, canonical, r["block"], r["count"])
            )
        return tuple(DocumentDepartments(d, tuple(blocks.get(d.id, ()))) for d in self.data.documents)

    def duties(self, name: str) -> DutiesResult:
        """A department's duties across documents, found by any of its names, old or new."""
        query = name.strip()
        resolved = tuple(self.lexicon.resolve(query)) if query else ()
        keys = {d.key for d in resolved}
        if not keys and query:
            # A name the lexicon lacks may still be a block header of a newly added document.
            keys = {
                c.department_key
                for c in self.store.rows(
                    "SELECT * FROM clauses WHERE attribution = 'block' AND department LIKE ?", (f"%{query}%",)
                )
            }
        return self._duties(query, resolved, keys)

    def duties_for_key(self, key: str) -> DutiesResult:
        """The same view as `duties`, for a department key carried by a button."""
        if key in self.lexicon.entries:
            resolved = tuple(self.lexicon.meant_by(key))
            return self._duties(resolved[0].canonical, resolved, {d.key for d in resolved})
        names = [
            c.department
            for c in self.store.rows("SELECT * FROM clauses WHERE department_key = ? LIMIT 1", (key,))
        ]
        return self._duties(names[0] if names else key, (), {key})

    def _duties(self, query: str, resolved: tuple[Department, ...], keys: set[str]) -> DutiesResult:
        groups: dict[tuple[str, str, str], list[Clause]] = {}
        if keys:
            marks = ",".join("?" * len(keys))
            # Only the columns a clause needs: a large department has tens of thousands of clauses at national scale.
            sql = (
                f"SELECT {SELECT_CLAUSE} FROM clauses WHERE id IN "
                f"(SELECT clause_id FROM clause_subjects WHERE department_key IN ({marks})) ORDER BY id"
            )
            for clause in self.store.rows(sql, sorted(keys)):
                group_key = (
                    clause.document.id,
                    clause.department,
                    clause.block if clause.attribution == "block" else "",
                )
                groups.setdefault(group_key, []).append(clause)
        matches = []
        notes = []
        for (_, department, block), clauses in groups.items():
            first = clauses[0]
            dept = (
                self.lexicon.get(first.department_key)
                if first.department_key in self.lexicon.entries
                else None
            )
            via = ""
            if dept and resolved and dept.key != resolved[0].key:
                via = dept.note or f"与{resolved[0].canonical}相关"
            matches.append(
                DutyGroup(
                    department=department,
                    department_key=first.department_key,
                    canonical=first.canonical,
                    document=first.document,
                    block=block,
                    duties=tuple(clauses),
                    via=via,
                )
            )
            if dept and dept.successor and dept.note and dept.note not in notes:
                notes.append(
                    f"{first.document.title}（{first.document.date[:4] or '旧'}年）早于机构改革：{dept.note}"
                )
        suggestions = () if matches else tuple(self.lexicon.suggest(query)) if query else ()
        return DutiesResult(query, resolved, tuple(matches), suggestions, tuple(notes))
