"""Whether a clause's department leads or assists, and which other departments it names."""

from __future__ import annotations

import re

from knowledge.departments import DepartmentLexicon
from knowledge.models import Role

# A segment (text between commas) that opens with one of these only helps someone else.
ASSIST_OPENERS = ("配合", "协助", "参与", "协同", "支持有关部门", "联合", "会同和配合", "按职责配合")
# 会同 ("together with") on its own neither owns nor helps: 公安部门 item 4 of the 2015 list,
# 「会同有关部门推动淘汰黄标车…，协助环境保护部门对机动车尾气污染进行监督管理」, reads as assisting.
NEUTRAL_OPENERS = ("会同",)
# An owner verb after an assisting opener starts the department's own work again.
LEAD_OPENERS = ("负责", "牵头", "组织", "主管", "统筹", "依法对", "对")
_SENTENCE = re.compile(r"[。！？]")
_SEGMENT = re.compile(r"[，；]")
_LEADING_ADVERB = re.compile(r"^(依法依规|按照职责|根据职责|按职责分工|积极|主动|同时|并)")


def role_of(text: str) -> Role:
    """lead when some part of the clause is the department's own work; assist when every part only helps.

    An assisting verb governs the rest of its sentence (配合X加强A，及时提供B，制定C) until an owner verb
    such as 负责 or 牵头 opens a new task.
    """
    helps = owns = False
    for sentence in _SENTENCE.split(text):
        assisting = False
        for raw in _SEGMENT.split(sentence):
            segment = _LEADING_ADVERB.sub("", raw.strip())
            if not segment:
                continue
            if segment.startswith(ASSIST_OPENERS):
                assisting = helps = True
            elif segment.startswith(LEAD_OPENERS) or not (assisting or segment.startswith(NEUTRAL_OPENERS)):
                assisting = False
                owns = True
    return "assist" if helps and not owns else "lead"


def partners_of(text: str, own_keys: set[str], lexicon: DepartmentLexicon) -> tuple[str, ...]:
    """Specific departments named in the clause other than its own, as written, in order of appearance."""
    names: list[str] = []
    for _, name, key in lexicon.mentions(text):
        if key in own_keys or lexicon.get(key).generic or name in names:
            continue
        names.append(name)
    return tuple(names)
