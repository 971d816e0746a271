"""Answering 「哪个部门负责…」: rank clauses, choose one per department, or refuse honestly.

1. The question is parsed (query.py): topic units, search terms with everyday-word expansions, filters.
2. Three BM25 fields score every clause — jieba words, character bigrams, the department's name — each
   normalized by its best score for this question and fused; priors favour clauses that name their
   department and that it leads. Clauses holding more of the question's distinct topics rank higher.
3. Clauses are grouped by department and document; each group shows its best clause, preferring one where
   the department leads over one where it only assists, and no clause text is shown twice.
4. The best clause found is then judged: a question about a known non-environmental matter, or whose topic
   is mostly words the lists never use, is refused unless strong evidence led to the clause.
5. A question asking to whom a matter is handed over (「…应当移交给哪个部门」) is answered with the departments
   a clause hands it to (转至 / 移交 / 移送 …), those clauses first.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from knowledge.models import Answer, AnswerSet, DocumentInfo, DutiesResult, Understanding
from knowledge.query import EXPANSION_WEIGHT, PROCEDURAL_WORDS, QueryParser
from knowledge.storage import ClauseIndex, ClauseStore
from knowledge.tokenize import bigrams

BIGRAM_WEIGHT = 0.5
NAME_WEIGHT = 0.3
MAX_ANSWERS = 8
CANDIDATES = 60
NEAR_BEST = 0.2
# Share of the topic (by characters) that may be unknown to every list before the question is refused.
MAX_MISSING_SHARE = 0.75
LEAD_PREFERENCE = 0.8  # a leading clause within this share of an assisting one's score is shown instead
ATTRIBUTION_PRIOR = {"block": 1.0, "named": 1.0, "inherited": 0.85, "inferred": 0.85, "general": 0.6}
GENERIC_PRIOR = 0.8
CONFIDENT_SCORE = 0.8
PREFERRED_REGION_BOOST = 1.3
ASSIST_PRIOR = 0.9
# A duty stated for the epidemic (「指导做好疫情期间城镇生活污水处理工作」) answers questions about that time; asked
# about a smelly sewage works today, the standing duty comes first.
_SPECIAL_PERIOD = "疫情"
_PERIOD_ASKED = re.compile("疫情|新冠|防疫|肺炎|核酸|隔离|传染")
SPECIAL_PERIOD_PRIOR = 0.85
COVERAGE_EXPONENT = (
    1.0  # clauses that hold more of the question's distinct topics rank higher (Lucene's coord)
)
# Everyday words ending so name a place or party (饭馆, 医院, 加油站, 保险公司, 快递员), not a matter.
_PARTY = re.compile(r"(?:店|馆|院|站|公司|员)$")
# 「没有执法职能的可转至生态环境部门依法执行」: the departments after such a verb, up to the next punctuation, receive
# the matter.
_HANDED_TO = re.compile(r"(?:转至|转交|移交|移送|交由|送交)(?:给|至|到)?(?P<to>[^，。；：]*)")


class Answerer:
    """Ranks the clauses of one loaded database for parsed questions."""

    def __init__(
        self,
        index: ClauseIndex,
        store: ClauseStore,
        parser: QueryParser,
        documents: Sequence[DocumentInfo],
        generic_keys: set[str],
    ) -> None:
        from knowledge.build import ATTRIBUTIONS, ROLES

        self.index = index
        self.store = store
        self.parser = parser
        self.documents = tuple(documents)
        self._document_position = {d.id: i for i, d in enumerate(self.documents)}
        self._lead_role = ROLES.index("lead")
        attribution_prior = np.array([ATTRIBUTION_PRIOR[a] for a in ATTRIBUTIONS], dtype=np.float32)
        generic = np.array([k in generic_keys for k in index.department_keys] or [False], dtype=bool)
        self.prior: NDArray[np.float32] = (
            attribution_prior[index.attribution]
            * np.where(generic[index.department], GENERIC_PRIOR, 1.0).astype(np.float32)
            * np.where(index.role == 1, ASSIST_PRIOR, 1.0).astype(np.float32)
        )

    def _documents_mask(self, document_ids: set[str]) -> NDArray[np.bool_]:
        allowed = np.zeros(len(self.documents) or 1, dtype=bool)
        allowed[[self._document_position[i] for i in document_ids if i in self._document_position]] = True
        return self.index.in_documents(allowed)

    def _allowed(self, understood: Understanding) -> tuple[NDArray[np.bool_], list[str]]:
        notes: list[str] = []
        allowed = np.ones(self.index.size, dtype=bool)
        if understood.document:
            allowed &= self._documents_mask({understood.document})
        if understood.regions:
            regions = set(understood.regions)  # a province's question names every county of it
            ids = {d.id for d in self.documents if d.region in regions}
            if ids:
                allowed &= self._documents_mask(ids)
            else:
                notes.append(f"尚未收录{understood.region}的责任清单，以下为其他文件的规定")
        if understood.department_keys:
            allowed &= self.index.clauses_of(understood.department_keys)
        return allowed, notes

    def scores(self, understood: Understanding) -> NDArray[np.float32]:
        """Fused, prior-weighted score of every clause (0 where no term matches)."""
        word_scores = self.index.words.scores(dict(understood.terms))
        gram_weights: dict[str, float] = {}
        for unit in understood.units:
            for gram in bigrams(unit):
                gram_weights[gram] = 1.0
        for _, written in understood.expansions:
            for term in written:
                for gram in bigrams(term):
                    gram_weights.setdefault(gram, EXPANSION_WEIGHT)
        gram_scores = self.index.bigrams.scores(gram_weights)
        name_scores = self.index.names.scores({g: w for g, w in gram_weights.items() if w >= 1.0})
        # In place: a question at national scale touches a few arrays of a million floats, not dozens.
        fused = word_scores
        best = fused.max(initial=0.0)
        if best > 0:
            fused *= np.float32(1.0 / best)
        best = gram_scores.max(initial=0.0)
        if best > 0:
            gram_scores *= np.float32(BIGRAM_WEIGHT / best)
            fused += gram_scores
        best = name_scores.max(initial=0.0)
        if best > 0:
            name_scores *= np.float32(NAME_WEIGHT / best)
            named = np.flatnonzero(name_scores)
            clauses, counts = self.index.by_name.members(named)
            np.add.at(fused, clauses, np.repeat(name_scores[named], counts))
        fused *= self.prior
        return fused

    def _coverage(
        self, candidates: Sequence[tuple[str, str]], understood: Understanding
    ) -> NDArray[np.float32]:
        """Share of the question's distinct topic units each candidate contains (by words or, failing that, text)."""
        unit_words = [
            (u, [f" {w} " for w in words or (u,)])
            for u, words in zip(understood.units, understood.unit_words, strict=True)
            if len(u) > 1 and u not in understood.missing
        ]
        if not unit_words:
            return np.ones(len(candidates), dtype=np.float32)
        shares = []
        for text, clause_words in candidates:  # loops, not generators: this runs for 60 candidates a question
            held = 0
            for unit, words in unit_words:
                if unit in text:
                    held += 1
                    continue
                for word in words:
                    if word in clause_words:
                        held += 1
                        break
            shares.append(held / len(unit_words))
        return np.array(shares, dtype=np.float32)

    @staticmethod
    def _matched(text: str, clause_words: str, understood: Understanding) -> tuple[str, ...]:
        """The question's terms among a clause's words (as `ClauseStore.texts` gives them), or its units in the text."""
        matched = [t for t, _ in understood.terms if f" {t} " in clause_words]
        if not matched:
            matched = [u for u in understood.units if u in text]
        return tuple(matched)

    def rank(self, understood: Understanding, prefer_region: str = "") -> tuple[list[Answer], list[str]]:
        scores = self.scores(understood)
        if prefer_region and not understood.regions:
            family = self.parser.region_family(prefer_region)
            preferred = self._documents_mask({d.id for d in self.documents if d.region in family})
            # In place: the scores are this question's own array.
            np.multiply(scores, np.float32(PREFERRED_REGION_BOOST), out=scores, where=preferred)
        masked = scores
        notes: list[str] = []
        if understood.document or understood.regions or understood.department_keys:
            allowed, notes = self._allowed(understood)
            masked = np.zeros_like(scores)
            np.copyto(masked, scores, where=allowed)
            if masked.max(initial=0.0) <= 0:
                if understood.department_keys:
                    notes.append(f"{understood.department}的职责中没有找到相关内容，以下为其他部门的规定")
                elif understood.region:
                    notes.append(f"{understood.region}的清单中没有找到相关内容，以下为其他文件的规定")
                masked = scores
        # Selecting among a million mostly-zero scores is slow (ties), so only clauses near the best compete;
        # the field widens to every match when fewer than CANDIDATES are near it.
        best = float(masked.max(initial=0.0))
        top = np.flatnonzero(masked >= NEAR_BEST * best) if best > 0 else np.zeros(0, dtype=np.int64)
        if len(top) < CANDIDATES:
            top = np.flatnonzero(masked > 0)
        if len(top) > CANDIDATES:
            top = top[np.argpartition(masked[top], len(top) - CANDIDATES)[-CANDIDATES:]]
        if len(top) == 0:
            return [], notes
        top = top[np.argsort(-masked[top], kind="stable")]
        # Candidates are ranked and grouped on the index's arrays and their text and words alone; whole clauses
        # are read for the few answers shown.
        ids = [int(p) + 1 for p in top]
        candidates = self.store.texts(ids)
        keys = [self.index.department_keys[k] for k in self.index.department[top].tolist()]
        documents = [self.documents[d].id for d in self.index.document[top].tolist()]
        leads = (self.index.role[top] == self._lead_role).tolist()
        ranked = masked[top].astype(np.float64)
        if COVERAGE_EXPONENT:
            ranked *= (0.5 + 0.5 * self._coverage(candidates, understood)) ** COVERAGE_EXPONENT
        if not _PERIOD_ASKED.search(understood.normalized):
            for i, (text, _) in enumerate(candidates):
                if _SPECIAL_PERIOD in text:
                    ranked[i] *= SPECIAL_PERIOD_PRIOR
        order = np.argsort(-ranked, kind="stable").tolist()
        groups: dict[tuple[str, str], list[int]] = {}
        for i in order:
            if keys[i] in understood.excluded_departments or (
                understood.excluded and any(known in candidates[i][0] for known in understood.excluded)
            ):
                continue
            groups.setdefault((keys[i], documents[i]), []).append(i)
        chosen: list[int] = []
        shown: set[tuple[str, str]] = set()
        for members in groups.values():
            best_i = members[0]
            if not leads[best_i]:
                leading = [i for i in members if leads[i] and ranked[i] >= LEAD_PREFERENCE * ranked[best_i]]
                best_i = leading[0] if leading else best_i
            if (documents[best_i], candidates[best_i][0]) in shown:
                continue
            shown.add((documents[best_i], candidates[best_i][0]))
            chosen.append(best_i)
        chosen.sort(key=lambda i: -ranked[i])
        chosen = chosen[:MAX_ANSWERS]
        clauses = self.store.get_many([ids[i] for i in chosen])
        answers = [
            Answer(clause, float(ranked[i]), self._matched(*candidates[i], understood))
            for i, (clause, _) in zip(chosen, clauses, strict=True)
        ]
        return answers, notes

    def ask(self, question: str, duties: Callable[[str], DutiesResult], prefer_region: str = "") -> AnswerSet:
        understood = self.parser.parse(question)
        notes = ["问题较长，只读取了前300个字"] if understood.truncated else []
        if not understood.units:
            if understood.department_keys:
                result = duties(understood.department)
                firsts = tuple(
                    Answer(other[0], 1.0, ())
                    for g in result.matches
                    if (other := [d for d in g.duties if not any(k in d.text for k in understood.excluded)])
                )[:MAX_ANSWERS]
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
        answers, rank_notes = self.rank(understood, prefer_region)
        if not answers or self._out_of_scope(understood, answers[0]):
            return self._refusal(question, understood, notes)
        if understood.recipient:
            # Only a clause that hands the matter over answers 「移交给谁」: those come first.
            received = [self._received(a) for a in answers]
            answers = [r for r, a in zip(received, answers, strict=True) if r is not a] + [
                a for r, a in zip(received, answers, strict=True) if r is a
            ]
        # The fused score reaches its maximum only when the word and bigram fields agree on the best clause;
        # when they disagree the answer shown first is given with a caution rather than hidden.
        confidence: Literal["high", "low"] = "high" if answers[0].score >= CONFIDENT_SCORE else "low"
        return AnswerSet(
            question,
            understood,
            tuple(answers),
            "answered",
            notes=tuple(notes + rank_notes),
            confidence=confidence,
        )

    def _received(self, answer: Answer) -> Answer:
        """The answer as the duty of the departments its clause hands the matter to, if it names any."""
        clause = answer.clause
        handed = _HANDED_TO.search(clause.text)
        if not handed:
            return answer
        lexicon = self.parser.departments
        names = [
            (name, key)
            for _, name, key in lexicon.mentions(handed.group("to"))
            if not lexicon.get(key).generic
        ]
        if not names:
            return answer
        keys = tuple(k for _, k in names)
        receivers = {n for n, _ in names}
        received = dataclasses.replace(
            clause,
            department="、".join(n for n, _ in names),
            department_key=keys[0],
            canonical=lexicon.get(keys[0]).canonical,
            subjects=keys,
            attribution="named",
            role="lead",
            partners=tuple(p for p in (clause.department, *clause.partners) if p not in receivers),
        )
        return dataclasses.replace(answer, clause=received)

    def _out_of_scope(self, understood: Understanding, top: Answer) -> bool:
        """Whether the lists do not cover the question, judged on the best clause found.

        Strong evidence that they do: an everyday word for the matter (not for a place or party) led to the
        clause, two distinct topic words of the question are in it, or every topic word is one the lists use. A
        question about a known non-environmental matter (out_of_scope.txt) is refused unless an equal weight of
        everyday environmental words (of two characters or more) led to the clause; without strong evidence, one
        whose topic is mostly words the lists never use is refused too.
        """
        # A one-character everyday word (卖, 买, 钱) is too slight to vouch for a matter otherwise not covered, and
        # one naming a place or party (饭馆, 卫生院, 加油站, 保险公司, 快递员) says where or who, not what the matter is.
        telling = [
            (spoken, words)
            for (spoken, _), words in zip(understood.expansions, understood.expansion_words, strict=True)
            if len(spoken) > 1 and not _PARTY.search(spoken)
        ]
        # How the asker reaches an office (举报, 投诉) is not the matter: its everyday words vouch only beside a
        # topic word the lists know, and never outweigh a named non-environmental matter (老师收红包找谁举报).
        matter = [(spoken, words) for spoken, words in telling if spoken not in PROCEDURAL_WORDS]
        if not any(
            len(u) > 1 and u not in PROCEDURAL_WORDS and u not in understood.missing for u in understood.units
        ):
            telling = matter
        expanded = {word for _, words in telling for word in words}
        original = {w for words in understood.unit_words for w in words}
        matched = set(top.matched_terms)
        lexicon_led = bool(matched & (expanded - original))
        topic_hits = {
            u
            for u, words in zip(understood.units, understood.unit_words, strict=True)
            if len(u) > 1 and (u in top.clause.text or matched.intersection(words))
        }
        if understood.out_of_scope:
            spoken = sum(len(s) for s, _ in matter) if lexicon_led else 0
            return sum(len(t) for t in understood.out_of_scope) >= spoken
        if lexicon_led or len(topic_hits) >= 2 or not understood.missing:
            return False
        # How the asker wants to reach an office (申请, 举报 …) is not part of what they ask about.
        missing = sum(len(u) for u in understood.missing)
        topic = sum(len(u) for u in understood.units if u not in PROCEDURAL_WORDS)
        return missing >= MAX_MISSING_SHARE * topic

    def _refusal(self, question: str, understood: Understanding, notes: list[str]) -> AnswerSet:
        missing = "、".join(understood.missing) or "、".join(understood.units)
        nearby = [u for u in understood.units if u not in understood.missing]
        message = f"现有责任清单没有规定「{missing}」由哪个部门负责。"
        return AnswerSet(
            question,
            understood,
            (),
            "refused",
            message,
            suggestions=(*nearby[:3], "/depts"),
            notes=tuple(notes),
        )
