"""Answering 「哪个部门负责…」: rank clauses, choose one per department, or refuse honestly.

1. The question is parsed (query.py): topic units, search terms with everyday-word expansions, filters.
2. Refusal first: when most of the topic is words that occur nowhere in the lists (and no everyday-word
   entry explains them), the lists do not cover it, whatever BM25 would return.
3. Two BM25 fields score every clause, each normalized by its best score for this question and fused;
   a clause attributed only to a document's general subject weighs less than a named department's.
4. Clauses are grouped by department and document; each group shows its best clause, preferring one
   where the department leads over one where it only assists, and no clause text is shown twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from knowledge.models import Answer, AnswerSet, Clause, DocumentInfo, DutiesResult, Understanding
from knowledge.query import EXPANSION_WEIGHT, QueryParser
from knowledge.retrieval import FieldIndex
from knowledge.tokenize import bigrams

BIGRAM_WEIGHT = 0.5
NAME_WEIGHT = 0.3
MAX_ANSWERS = 8
CANDIDATES = 60
# Share of the topic (by characters) that may be unknown to every list before the question is refused.
MAX_MISSING_SHARE = 0.75
LEAD_PREFERENCE = 0.8  # a leading clause within this share of an assisting one's score is shown instead
ATTRIBUTION_PRIOR = {"block": 1.0, "named": 1.0, "inherited": 0.85, "inferred": 0.85, "general": 0.6}
GENERIC_PRIOR = 0.8
CONFIDENT_SCORE = 0.8
COVERAGE_EXPONENT = (
    1.0  # clauses that hold more of the question's distinct topics rank higher (Lucene's coord)
)
PREFERRED_REGION_BOOST = 1.3
ASSIST_PRIOR = 0.9


class Answerer:
    """Ranks clauses of one loaded database for parsed questions."""

    def __init__(
        self,
        clauses: Sequence[Clause],
        clause_words: Sequence[Sequence[str]],
        parser: QueryParser,
        generic_keys: set[str],
    ) -> None:
        self.clauses = tuple(clauses)
        self.parser = parser
        self.words = FieldIndex.build(clause_words)
        self.bigrams = FieldIndex.build([bigrams(c.text) for c in clauses])
        # Question words that name a department (统计指标 → 统计部门, 国有企业 → 国有资产…) point to its clauses.
        self.names = FieldIndex.build([bigrams(c.department + c.canonical) for c in clauses])
        prior = [
            ATTRIBUTION_PRIOR.get(c.attribution, 1.0)
            * (GENERIC_PRIOR if c.department_key in generic_keys else 1.0)
            * (ASSIST_PRIOR if c.role == "assist" else 1.0)
            for c in clauses
        ]
        self.prior: NDArray[np.float64] = np.array(prior or [1.0], dtype=np.float64)
        self.document_of = np.array([c.document.id for c in clauses] or [""], dtype=object)

    def _allowed(
        self, understood: Understanding, documents: Sequence[DocumentInfo]
    ) -> tuple[NDArray[np.bool_], list[str]]:
        notes: list[str] = []
        allowed = np.ones(len(self.clauses), dtype=bool)
        if understood.document:
            allowed &= self.document_of == understood.document
        if understood.regions:
            ids = [d.id for d in documents if d.region in understood.regions]
            if ids:
                allowed &= np.isin(self.document_of, ids)
            else:
                notes.append(f"尚未收录{understood.region}的责任清单，以下为其他文件的规定")
        if understood.department_keys:
            keys = set(understood.department_keys)
            dept_mask = np.array([bool(keys & set(c.subjects)) for c in self.clauses], dtype=bool)
            allowed &= dept_mask
        return allowed, notes

    def scores(self, understood: Understanding) -> NDArray[np.float64]:
        """Fused, prior-weighted score of every clause (0 where no term matches)."""
        word_scores = self.words.scores(dict(understood.terms))
        gram_weights: dict[str, float] = {}
        for unit in understood.units:
            for gram in bigrams(unit):
                gram_weights[gram] = 1.0
        for _, written in understood.expansions:
            for term in written:
                for gram in bigrams(term):
                    gram_weights.setdefault(gram, EXPANSION_WEIGHT)
        gram_scores = self.bigrams.scores(gram_weights)
        name_scores = self.names.scores({g: w for g, w in gram_weights.items() if w >= 1.0})
        fused = np.zeros(len(self.clauses), dtype=np.float64)
        if word_scores.max(initial=0.0) > 0:
            fused += word_scores / word_scores.max()
        if gram_scores.max(initial=0.0) > 0:
            fused += BIGRAM_WEIGHT * gram_scores / gram_scores.max()
        if name_scores.max(initial=0.0) > 0:
            fused += NAME_WEIGHT * name_scores / name_scores.max()
        return fused * self.prior[: len(fused)]

    def _coverage(self, indices: NDArray[np.int64], understood: Understanding) -> NDArray[np.float64]:
        """Share of the question's distinct topic units each clause contains (by words or, failing that, text)."""
        units = [u for u in understood.units if len(u) > 1 and u not in understood.missing]
        if not units:
            return np.ones(len(indices), dtype=np.float64)
        unit_words = [set(self.parser.analyzer.words(u)) or {u} for u in units]
        shares = []
        for index in indices:
            freqs = self.words.bm25.doc_freqs[index]
            text = self.clauses[index].text
            hit = sum(
                1 for u, words in zip(units, unit_words, strict=True) if u in text or words & freqs.keys()
            )
            shares.append(hit / len(units))
        return np.array(shares, dtype=np.float64)

    def _matched(self, index: int, understood: Understanding) -> tuple[str, ...]:
        freqs = self.words.bm25.doc_freqs[index]
        matched = [t for t, _ in understood.terms if t in freqs]
        if not matched:
            matched = [u for u in understood.units if u in self.clauses[index].text]
        return tuple(matched)

    def rank(
        self, understood: Understanding, documents: Sequence[DocumentInfo], prefer_region: str = ""
    ) -> tuple[list[Answer], list[str]]:
        scores = self.scores(understood)
        if prefer_region and not understood.regions:
            family = self.parser.region_family(prefer_region)
            preferred = [d.id for d in documents if d.region in family]
            scores = np.where(np.isin(self.document_of, preferred), scores * PREFERRED_REGION_BOOST, scores)
        allowed, notes = self._allowed(understood, documents)
        masked = np.where(allowed, scores, 0.0)
        if masked.max(initial=0.0) <= 0 and allowed.sum() < len(allowed):
            if understood.department_keys:
                notes.append(f"{understood.department}的职责中没有找到相关内容，以下为其他部门的规定")
            elif understood.region:
                notes.append(f"{understood.region}的清单中没有找到相关内容，以下为其他文件的规定")
            masked = scores
        order = np.argsort(-masked, kind="stable")[:CANDIDATES]
        if COVERAGE_EXPONENT:
            masked = masked.copy()
            masked[order] *= (0.5 + 0.5 * self._coverage(order, understood)) ** COVERAGE_EXPONENT
            order = order[np.argsort(-masked[order], kind="stable")]
        groups: dict[tuple[str, str], list[int]] = {}
        for index in order:
            if masked[index] <= 0:
                break
            clause = self.clauses[index]
            groups.setdefault((clause.department_key, clause.document.id), []).append(int(index))
        answers: list[Answer] = []
        shown: set[tuple[str, str]] = set()
        for members in groups.values():
            best = members[0]
            if self.clauses[best].role == "assist":
                leading = [
                    i
                    for i in members
                    if self.clauses[i].role == "lead" and masked[i] >= LEAD_PREFERENCE * masked[best]
                ]
                best = leading[0] if leading else best
            clause = self.clauses[best]
            if (clause.document.id, clause.text) in shown:
                continue
            shown.add((clause.document.id, clause.text))
            answers.append(Answer(clause, float(masked[best]), self._matched(best, understood)))
        answers.sort(key=lambda a: -a.score)
        return answers[:MAX_ANSWERS], notes

    def ask(
        self,
        question: str,
        documents: Sequence[DocumentInfo],
        duties: Callable[[str], DutiesResult],
        prefer_region: str = "",
    ) -> AnswerSet:
        understood = self.parser.parse(question)
        notes = ["问题较长，只读取了前300个字"] if understood.truncated else []
        if not understood.units:
            if understood.department_keys:
                result = duties(understood.department)
                firsts = tuple(Answer(g.duties[0], 1.0, ()) for g in result.matches if g.duties)[:MAX_ANSWERS]
                return AnswerSet(
                    question,
                    understood,
                    firsts,
                    "duties",
                    f"{understood.department}的职责清单",
                    duties=result,
                )
            return AnswerSet(
                question,
                understood,
                (),
                "no_topic",
                "请说明是什么事项，例如「秸秆禁烧归谁管」「工地扬尘找哪个部门」。",
                suggestions=("/depts", "/help"),
                notes=tuple(notes),
            )
        answers, rank_notes = self.rank(understood, documents, prefer_region)
        if not answers or self._out_of_scope(understood, answers[0]):
            return self._refusal(question, understood, notes)
        # The fused score reaches its maximum only when the word and bigram fields agree on the best clause;
        # when they disagree the answer is shown with a caution rather than hidden.
        confidence: Literal["high", "low"] = "high" if answers[0].score >= CONFIDENT_SCORE else "low"
        return AnswerSet(
            question,
            understood,
            tuple(answers),
            "answered",
            notes=tuple(notes + rank_notes),
            confidence=confidence,
        )

    def _out_of_scope(self, understood: Understanding, top: Answer) -> bool:
        """Whether the lists do not cover the question, judged on the best clause found.

        Strong evidence that they do: an everyday-word entry led to the clause, two distinct topic words of the
        question are in it, or every topic word is one the lists use. Without it, a question about a known
        non-environmental matter (out_of_scope.txt) or one whose topic is mostly words the lists never use is
        refused.
        """
        expanded = {
            w
            for _, written in understood.expansions
            for term in written
            for w in self.parser.analyzer.words(term)
        }
        original = set(self.parser.analyzer.words(" ".join(understood.units)))
        matched = set(top.matched_terms)
        lexicon_led = bool(matched & (expanded - original))
        topic_hits = {
            u
            for u in understood.units
            if len(u) > 1 and (u in top.clause.text or set(self.parser.analyzer.words(u)) & matched)
        }
        if understood.out_of_scope:
            # A named non-environmental matter (公积金, 超速 …) outweighs anything but an equal weight of
            # everyday environmental words that led to the clause.
            spoken = sum(len(s) for s, _ in understood.expansions) if lexicon_led else 0
            return sum(len(t) for t in understood.out_of_scope) >= spoken
        if lexicon_led or len(topic_hits) >= 2 or not understood.missing:
            return False
        missing = sum(len(u) for u in understood.missing)
        topic = sum(len(u) for u in understood.units)
        return missing >= MAX_MISSING_SHARE * topic

    def _refusal(self, question: str, understood: Understanding, notes: list[str]) -> AnswerSet:
        missing = "、".join(understood.missing) or "、".join(understood.units)
        nearby = [u for u in understood.units if u not in understood.missing]
        message = f"现有责任清单没有规定「{missing}」由哪个部门负责。"
        suggestions = (*nearby[:3], "/depts")
        return AnswerSet(
            question, understood, (), "refused", message, suggestions=suggestions, notes=tuple(notes)
        )
