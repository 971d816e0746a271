"""Evaluation against a gold question file, with the same figures as the shared scorer (score.py).

Gold lines: {"q", "type": "who"|"none"|"duties", "accept": [{"dept": [...], "phrase", "doc"?}], "tier"?,
"trap"?, "groups"?, "kind"?}. An answer is a hit when its department (as written or canonical) contains an
accepted stem, its text contains the phrase and, if given, its document contains the doc key.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.service import KnowledgeBase


def _n(text: object) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text or "")))


def _dept_fields(answer: dict[str, Any]) -> str:
    return _n(" ".join(str(answer.get(k) or "") for k in ("department", "canonical", "department_canonical")))


def _matches(answer: dict[str, Any], accept: dict[str, Any]) -> bool:
    doc_ok = "doc" not in accept or _n(accept["doc"]) in _n(
        json.dumps(answer.get("document"), ensure_ascii=False)
    )
    dept_ok = any(_n(k) in _dept_fields(answer) for k in accept["dept"])
    return doc_ok and dept_ok and _n(accept["phrase"]) in _n(answer.get("text", ""))


@dataclass
class Figures:
    who: int = 0
    hit1: int = 0
    hit3: int = 0
    dept1: int = 0
    none: int = 0
    refused: int = 0
    confident_wrong: int = 0
    traps: int = 0
    traps_ok: int = 0
    hard: int = 0
    hard_ok: int = 0
    duty_names: int = 0
    duty_names_ok: int = 0
    duty_groups: int = 0
    duty_groups_ok: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_kind_ok: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def rate(self, part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    def lines(self) -> list[str]:
        w = max(self.who, 1)
        out = [
            f"who: {self.who}  hit@1 {self.hit1 / w:.1%}  hit@3 {self.hit3 / w:.1%}  dept@1 {self.dept1 / w:.1%}  "
            f"confident-wrong {self.confident_wrong}  traps {self.traps_ok}/{self.traps}  colloquial {self.hard_ok}/{self.hard}",
            f"out-of-scope refused: {self.refused}/{self.none}",
            f"duties: {self.duty_names_ok}/{self.duty_names} names fully right, "
            f"{self.duty_groups_ok}/{self.duty_groups} department groups with the exact duty count",
        ]
        if self.by_kind:
            out.append(
                "by kind: "
                + ", ".join(f"{k} {self.by_kind_ok[k]}/{n}" for k, n in sorted(self.by_kind.items()))
            )
        return out


def evaluate(kb: KnowledgeBase, gold: list[dict[str, Any]]) -> Figures:
    f = Figures()
    for g in gold:
        kind = g.get("kind") or g["type"]
        if g["type"] == "duties":
            result = kb.duties(g["q"]).to_json()
            f.duty_names += 1
            all_ok = True
            for group in g["groups"]:
                f.duty_groups += 1
                found = [
                    m
                    for m in result["matches"]
                    if _n(group["doc"]) in _n(json.dumps(m["document"], ensure_ascii=False))
                    and any(_n(k) in _n(m["department"]) for k in group["dept"])
                ]
                n = sum(len(m["duties"]) for m in found)
                if n == group["count"]:
                    f.duty_groups_ok += 1
                else:
                    all_ok = False
                    f.failures.append(
                        f"{g.get('id')} {g['q']} | {group['doc']}/{group['dept'][0]}: want {group['count']}, got {n}"
                    )
            f.duty_names_ok += all_ok
            f.by_kind[kind] += 1
            f.by_kind_ok[kind] += all_ok
            continue
        result = kb.ask(g["q"]).to_json()
        answers = result["answers"]
        f.by_kind[kind] += 1
        if g["type"] == "none":
            f.none += 1
            ok = bool(result["no_answer"])
            f.refused += ok
            f.by_kind_ok[kind] += ok
            if not ok:
                top = answers[0] if answers else {}
                f.failures.append(
                    f"{g.get('id')} {g['q']} | expected no answer | {top.get('department')}: {str(top.get('text'))[:60]}"
                )
            continue
        f.who += 1
        hit1 = bool(answers) and not result["no_answer"] and any(_matches(answers[0], a) for a in g["accept"])
        hit3 = not result["no_answer"] and any(_matches(x, a) for x in answers[:3] for a in g["accept"])
        dept1 = bool(answers) and any(
            any(_n(k) in _dept_fields(answers[0]) for k in a["dept"]) for a in g["accept"]
        )
        f.hit1 += hit1
        f.hit3 += hit3
        f.dept1 += dept1
        f.by_kind_ok[kind] += hit1
        if g.get("tier") == "hard":
            f.hard += 1
            f.hard_ok += hit1
        if "trap" in g:
            f.traps += 1
            f.traps_ok += hit1
        if not hit1:
            if answers and not result["no_answer"]:
                f.confident_wrong += 1
            top = answers[0] if answers else {}
            text = str(top.get("text"))[:50]
            got = (
                f"REFUSED {result['message']}" if result["no_answer"] else f"{top.get('department')}: {text}"
            )
            want = f"{g['accept'][0]['dept'][0]}/{g['accept'][0]['phrase']}"
            f.failures.append(f"{g.get('id')} [{kind}] {g['q']} | want {want} | {got}")
    return f


def load_gold(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
