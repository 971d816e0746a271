"""Where answers come from at query time: the memory-mapped index and the clauses in SQLite.

`ClauseIndex` holds the three BM25 fields and, per clause, what ranking needs (document, department,
attribution, role) as arrays; `ClauseStore` reads whole clauses by id when an answer is assembled.
"""

from __future__ import annotations

import functools
import json
import operator
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from knowledge.array_file import read_arrays
from knowledge.build import ATTRIBUTIONS, ROLES
from knowledge.departments import DepartmentLexicon
from knowledge.errors import DatabaseCorrupt
from knowledge.index import BIGRAM_SHARE, SparseField, decode_vocab
from knowledge.models import Clause, DocumentInfo

CACHED_CLAUSES = 5_000
# The columns `ClauseStore._clause` reads, in its order.
CLAUSE_COLUMNS = (
    "id",
    "ref",
    "document_id",
    "section",
    "block",
    "item",
    "sentence",
    "department",
    "department_key",
    "subjects",
    "attribution",
    "role",
    "partners",
    "text",
    "original",
)
SELECT_CLAUSE = ", ".join(CLAUSE_COLUMNS)


@functools.lru_cache(maxsize=8192)
def _names(encoded: str) -> tuple[str, ...]:
    """A JSON list of department keys or names; clauses share a few thousand such lists, so decode each once."""
    return tuple(json.loads(encoded))


def connect_readonly(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


@dataclass(frozen=True)
class Groups:
    """Positions of an array grouped by value, computed at load: finding where a few values occur then costs
    their number of occurrences, not a pass over a million clauses."""

    order: NDArray[np.int32]  # positions sorted by value
    starts: NDArray[np.int64]  # value v's positions are order[starts[v]:starts[v + 1]]

    @classmethod
    def of(cls, values: NDArray[np.int32], n_values: int) -> Groups:
        counts = np.bincount(values, minlength=n_values)
        return cls(
            np.argsort(values, kind="stable").astype(np.int32), np.concatenate([[0], np.cumsum(counts)])
        )

    def members(self, values: NDArray[np.intp]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        """The positions holding any of these values (value by value), and how many hold each value."""
        starts = self.starts[values]
        counts = self.starts[values + 1] - starts
        # Position k of the result is order[starts[v] + (k - first k of v)] for the value v it belongs to.
        shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return self.order[shift + np.arange(len(shift))], counts


@dataclass(frozen=True)
class ClauseIndex:
    """The memory-mapped index: three BM25 fields and what ranking needs to know of each clause."""

    words: SparseField
    bigrams: SparseField
    names: SparseField
    document: NDArray[np.int32]  # per clause: index into the active documents
    department: NDArray[np.int32]  # per clause: index into department_keys
    name: NDArray[np.int32]  # per clause: index into the names field's documents
    attribution: NDArray[np.uint8]
    role: NDArray[np.uint8]
    subject_clause: NDArray[np.int32]
    subject_department: NDArray[np.int32]
    department_keys: tuple[str, ...]
    # Derived at load so that a question touches the clauses it concerns, not every clause: clauses by name
    # and subject entries by department; and the runs of clauses of one document (clauses are stored
    # document by document, so a document mask is a few thousand runs).
    by_name: Groups
    by_subject: Groups
    department_index: dict[str, int]
    run_document: NDArray[np.int32]
    run_length: NDArray[np.int64]

    @property
    def size(self) -> int:
        return len(self.document)

    @classmethod
    def load(cls, path: Path, build_id: str) -> ClauseIndex:
        try:
            found_id, arrays = read_arrays(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DatabaseCorrupt(
                f"{path} is not a readable index ({exc}): rebuild with `python -m bot build`"
            ) from exc
        if found_id != build_id:
            raise DatabaseCorrupt(f"{path} belongs to another build: rebuild with `python -m bot build`")
        n = len(arrays["clause_document"])
        n_names = int(arrays["clause_name"].max()) + 1 if n else 0
        keys = decode_vocab(arrays["department_keys"])
        document = arrays["clause_document"]
        runs = np.concatenate([[0], np.flatnonzero(document[1:] != document[:-1]) + 1]) if n else np.zeros(0)
        return cls(
            words=SparseField.load("words", arrays, n),
            bigrams=SparseField.load("bigrams", arrays, n, prune_share=BIGRAM_SHARE),
            names=SparseField.load("names", arrays, n_names),
            document=arrays["clause_document"],
            department=arrays["clause_department"],
            name=arrays["clause_name"],
            attribution=arrays["clause_attribution"],
            role=arrays["clause_role"],
            subject_clause=arrays["subject_clause"],
            subject_department=arrays["subject_department"],
            department_keys=tuple(sorted(keys, key=keys.__getitem__)),
            by_name=Groups.of(arrays["clause_name"], n_names),
            by_subject=Groups.of(arrays["subject_department"], len(keys)),
            department_index=keys,
            run_document=document[runs.astype(np.int64)],
            run_length=np.diff(np.append(runs, n)).astype(np.int64),
        )

    def attribution_of(self, position: int) -> str:
        return ATTRIBUTIONS[int(self.attribution[position])]

    def role_of(self, position: int) -> str:
        return ROLES[int(self.role[position])]

    def in_documents(self, allowed: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Mask of the clauses of the documents `allowed` marks (indexed like the active documents)."""
        return np.repeat(allowed[self.run_document], self.run_length)

    def clauses_of(self, keys: Iterable[str]) -> NDArray[np.bool_]:
        """Mask of the clauses whose subjects include any of these department keys."""
        wanted = np.array(sorted({self.department_index[k] for k in keys if k in self.department_index}))
        mask = np.zeros(self.size, dtype=bool)
        if len(wanted):
            mask[self.subject_clause[self.by_subject.members(wanted)[0]]] = True
        return mask


class ClauseStore:
    """Clauses read from SQLite on demand, one read-only connection per thread, with a bounded cache."""

    def __init__(self, path: Path, documents: dict[str, DocumentInfo], lexicon: DepartmentLexicon) -> None:
        self.path = path
        self.documents = documents
        self.lexicon = lexicon
        self._local = threading.local()
        # Filled up to CACHED_CLAUSES, then kept: a corpus of a few thousand clauses is served from memory, and on
        # a large one clauses are not evicted and replaced at every question, which (as an LRU) made questions at
        # 100k-1M clauses slower than reading every candidate from SQLite (freeing old objects is not free).
        self._cache: dict[int, tuple[Clause, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect_readonly(self.path)
            self._local.conn = conn
        return conn

    def _clause(self, r: Sequence[Any]) -> Clause:
        """A clause from a row starting with CLAUSE_COLUMNS (by position: reading a Row by name costs more)."""
        (
            id_,
            ref,
            document_id,
            section,
            block,
            item,
            sentence,
            department,
            key,
            subjects,
            attribution,
            role,
            partners,
            text,
            original,
            *_,
        ) = r
        entry = self.lexicon.entries.get(key)
        clause = Clause(
            id=id_,
            ref=ref,
            document=self.documents[document_id],
            section=section,
            block=block,
            item=item,
            sentence=sentence,
            department=department,
            department_key=key,
            canonical=entry.department.canonical if entry else department,
            attribution=attribution,
            role=role,
            partners=_names(partners),
            text=text,
            original=original,
            subjects=_names(subjects),
        )
        return clause

    def get_many(self, ids: Sequence[int]) -> list[tuple[Clause, frozenset[str]]]:
        """Clauses (with their index words) in the order asked."""
        found: dict[int, tuple[Clause, frozenset[str]]] = {}
        with self._lock:
            for i in ids:
                if i in self._cache:
                    found[i] = self._cache[i]
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        for r in self._select_ids(f"{SELECT_CLAUSE}, words", missing):
            found[r[0]] = (self._clause(r), frozenset(r[-1].split()))
        with self._lock:
            for i in missing[: max(0, CACHED_CLAUSES - len(self._cache))]:
                if i in found:
                    self._cache[i] = found[i]
        return [found[i] for i in ids if i in found]

    def texts(self, ids: Sequence[int]) -> list[tuple[str, str]]:
        """(text, index words) of each clause, in the order asked: what ranking reads of every candidate. The words
        are space-separated with a space at each end, so word w is among them when f" {w} " is in the string.

        Two columns instead of a whole clause, and no set of words built: ranking looks at ~60 candidates and
        shows a few, and reading and building 60 full clauses was the largest cost of a question at 100k clauses
        (bench/RESULTS.md, session 3).
        """
        found: dict[int, tuple[str, str]] = {}
        with self._lock:
            for i in ids:
                if i in self._cache:
                    clause, words = self._cache[i]
                    found[i] = (clause.text, f" {' '.join(words)} ")
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        for id_, text, words in self._select_ids("id, text, ' ' || words || ' '", missing):
            found[id_] = (text, words)
        return [found[i] for i in ids]

    def _select_ids(self, columns: str, ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
        """Plain tuples of `columns` of the clauses with these ids, 500 ids to a statement (SQLite's variable limit)."""
        cursor = self._conn().cursor()
        cursor.row_factory = None
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            # `columns` is one of this module's constants; the ids are bound.
            query = f"SELECT {columns} FROM clauses WHERE id IN ({','.join('?' * len(chunk))})"
            yield from cursor.execute(query, chunk)

    def sql(self, sql: str, params: Sequence[Any] = ()) -> Iterator[sqlite3.Row]:
        """Rows of any read-only query on this thread's connection."""
        yield from self._conn().execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Clause]:
        """Clauses of a query that selects at least CLAUSE_COLUMNS (`SELECT_CLAUSE` reads no more than needed)."""
        cursor = self._conn().cursor()
        cursor.row_factory = None
        cursor.execute(sql, params)
        names = [d[0] for d in cursor.description]
        columns = operator.itemgetter(*(names.index(c) for c in CLAUSE_COLUMNS))
        for r in cursor:
            yield self._clause(columns(r))
