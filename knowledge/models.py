"""Typed, frozen results that cross the knowledge boundary.

Everything the bot, the CLI and the tests receive from `knowledge` is one of these: plain data with no
database handle or jieba state attached, so it can be rendered, serialized or compared freely.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["lead", "assist"]
Attribution = Literal["block", "named", "inherited", "inferred", "general"]


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A source document as cited to users."""

    id: str
    title: str
    issuer: str
    date: str
    doc_number: str
    region: str
    level: str
    kind: str
    inferred: tuple[str, ...] = ()
    notes: str = ""

    def citation(self) -> str:
        """《title》, issuer, 文号 or date — the short form printed under a clause."""
        parts = [f"《{self.title}》"]
        if self.issuer:
            parts.append(self.issuer)
        if self.doc_number:
            parts.append(self.doc_number)
        elif self.date:
            parts.append(self.date)
        return "，".join(parts)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["inferred"] = list(self.inferred)
        return data


@dataclass(frozen=True, slots=True)
class Department:
    """A department as resolved through the lexicon."""

    key: str
    canonical: str
    successor: str = ""
    note: str = ""
    generic: bool = False


@dataclass(frozen=True, slots=True)
class Clause:
    """One citable unit: a numbered duty of a department block, or one sentence of a narrative paragraph."""

    id: int
    ref: str
    document: DocumentInfo
    section: str
    block: str
    item: int | None
    sentence: int | None
    department: str
    department_key: str
    canonical: str
    attribution: Attribution
    role: Role
    partners: tuple[str, ...]
    text: str
    original: str
    subjects: tuple[str, ...] = ()

    def location(self) -> str:
        """Section, block and item as an official would quote them: 三、…（六）公安部门 第4项."""
        parts = [p for p in (self.section, self.block) if p]
        if self.item is not None and self.sentence is None:
            parts.append(f"第{self.item}项")
        if self.sentence is not None:
            parts.append(f"第{self.sentence}句")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "department": self.department,
            "canonical": self.canonical,
            "department_key": self.department_key,
            "role": self.role,
            "partners": list(self.partners),
            "attribution": self.attribution,
            "text": self.text,
            "document": self.document.to_json(),
            "section": self.section,
            "block": self.block,
            "item": self.item,
            "sentence": self.sentence,
            "location": self.location(),
        }


@dataclass(frozen=True, slots=True)
class DutyGroup:
    """One department block (or one department's sentences) in one document."""

    department: str
    department_key: str
    canonical: str
    document: DocumentInfo
    block: str
    duties: tuple[Clause, ...]
    via: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "canonical": self.canonical,
            "department_key": self.department_key,
            "document": self.document.to_json(),
            "block": self.block,
            "via": self.via,
            "duties": [
                {
                    "item": c.item,
                    "sentence": c.sentence,
                    "text": c.text,
                    "role": c.role,
                    "partners": list(c.partners),
                    "ref": c.ref,
                    "id": c.id,
                    "location": c.location(),
                }
                for c in self.duties
            ],
        }


@dataclass(frozen=True, slots=True)
class DutiesResult:
    """What `duties NAME` returns: the groups found, how the name was read, and suggestions when nothing matched."""

    query: str
    resolved: tuple[Department, ...]
    matches: tuple[DutyGroup, ...]
    suggestions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "resolved": [{"key": d.key, "canonical": d.canonical} for d in self.resolved],
            "matches": [m.to_json() for m in self.matches],
            "suggestions": list(self.suggestions),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class DepartmentCount:
    department: str
    department_key: str
    canonical: str
    block: str
    count: int


@dataclass(frozen=True, slots=True)
class DocumentDepartments:
    document: DocumentInfo
    departments: tuple[DepartmentCount, ...]

    def to_json(self) -> dict[str, Any]:
        data = self.document.to_json()
        data["departments"] = [
            {"department": d.department, "canonical": d.canonical, "block": d.block, "count": d.count}
            for d in self.departments
        ]
        return data


@dataclass(frozen=True, slots=True)
class SetAside:
    """A source the build kept out of the index, and why."""

    document_id: str
    duplicate_of: str
    reason: str


@dataclass(frozen=True, slots=True)
class BuildReport:
    documents: int
    blocks: int
    clauses: int
    set_aside: tuple[SetAside, ...]
    fixes: dict[str, int] = field(default_factory=dict)
    per_document: dict[str, dict[str, int]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"documents: {self.documents} indexed, {len(self.set_aside)} set aside",
            f"department blocks: {self.blocks}",
            f"clauses: {self.clauses}",
        ]
        for doc_id, counts in sorted(self.per_document.items()):
            out.append(f"  {doc_id}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for s in self.set_aside:
            out.append(f"set aside: {s.document_id} (near-duplicate of {s.duplicate_of}): {s.reason}")
        if self.fixes:
            out.append("cleaning fixes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.fixes.items())))
        return out


@dataclass(frozen=True, slots=True)
class Understanding:
    """How a question was read: filters found, topic units, search terms and what the lists lack."""

    original: str
    normalized: str
    region: str
    regions: tuple[str, ...]
    department: str
    department_keys: tuple[str, ...]
    units: tuple[str, ...]
    terms: tuple[tuple[str, float], ...]
    expansions: tuple[tuple[str, tuple[str, ...]], ...]
    missing: tuple[str, ...]
    truncated: bool = False
    document: str = ""
    out_of_scope: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    excluded_departments: tuple[str, ...] = ()
    # The index words of each topic unit and of the everyday expansions' written terms: jieba cuts the question
    # once at parsing, and ranking and the refusal decision reuse these (they are not part of the JSON).
    unit_words: tuple[tuple[str, ...], ...] = ()
    expansion_words: tuple[tuple[str, ...], ...] = ()  # per expansion, in the order of `expansions`
    recipient: bool = False  # the question asks to whom a matter is handed over (移交给哪个部门)

    def to_json(self) -> dict[str, Any]:
        return {
            "normalized": self.normalized,
            "document": self.document,
            "out_of_scope": list(self.out_of_scope),
            "region": self.region,
            "department": self.department,
            "department_keys": list(self.department_keys),
            "topic": list(self.units),
            "terms": [t for t, _ in self.terms],
            "expansions": {spoken: list(written) for spoken, written in self.expansions},
            "missing": list(self.missing),
            "truncated": self.truncated,
            "excluded": list(self.excluded),
            "excluded_departments": list(self.excluded_departments),
            "recipient": self.recipient,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """One department's best clause for the question."""

    clause: Clause
    score: float
    matched_terms: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        data = self.clause.to_json()
        data["score"] = round(self.score, 4)
        data["matched_terms"] = list(self.matched_terms)
        return data


Outcome = Literal["answered", "refused", "no_topic", "duties"]


@dataclass(frozen=True, slots=True)
class AnswerSet:
    """What `ask` returns: ranked answers, or an honest refusal with what was not found."""

    query: str
    understood: Understanding
    answers: tuple[Answer, ...]
    outcome: Outcome
    message: str = ""
    suggestions: tuple[str, ...] = ()
    duties: DutiesResult | None = None
    notes: tuple[str, ...] = ()
    confidence: Literal["high", "low"] = "high"

    @property
    def no_answer(self) -> bool:
        return self.outcome in ("refused", "no_topic")

    def leading(self, limit: int, share: float = 0.4) -> tuple[tuple[Answer, ...], tuple[Answer, ...]]:
        """(answers worth showing first, the rest): at most `limit`, each within `share` of the best score."""
        if not self.answers:
            return (), ()
        best = self.answers[0].score
        shown = tuple(a for a in self.answers if a.score >= share * best)[:limit]
        return shown, tuple(a for a in self.answers if a not in shown)

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "no_answer": self.no_answer,
            "outcome": self.outcome,
            "confidence": self.confidence,
            "message": self.message,
            "answers": [a.to_json() for a in self.answers],
            "understood": self.understood.to_json(),
            "missing_terms": list(self.understood.missing),
            "suggestions": list(self.suggestions),
            "notes": list(self.notes),
            "duties": self.duties.to_json() if self.duties else None,
        }
