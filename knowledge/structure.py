"""Document structure: sections (一、), department blocks or paragraphs (（六）), numbered items, sentences.

Both kinds of document share one grammar. In a duty list a `（N）` line whose content reads like a name
(short, no sentence punctuation) opens a department block whose `1.` lines are its duties; otherwise a
`（N）` line opens a paragraph, as in the narrative documents and the closing 工作要求 of a duty list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.cleaning import BLOCK_RE, ITEM_RE, SECTION_RE, CleanLine
from knowledge.departments import DepartmentLexicon

SENTENCE_END = ("。", "；", "！", "？", "：")
_CLAUSE_PUNCT = set("，。；：")
_HEADING_PUNCT = set("，。；：、")
_NUMERALS = {c: i for i, c in enumerate("零一二三四五六七八九", start=0)}
_HEADER_SUFFIX = re.compile(r"(环境保护)?(工作)?职责$")
# Prepositional openings: a department named after them is an object, not the subject.
_PREPOSITION_START = ("对", "在", "按照", "根据", "为", "通过", "结合", "向", "把", "将", "由")
_SUBJECT_JOINERS = ("和", "、", "及", "与", "以及")


def chinese_number(text: str) -> int:
    """一 → 1, 十六 → 16, 三十五 → 35, 一百 → 100."""
    if text == "一百":
        return 100
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_NUMERALS[tens] if tens else 1) * 10 + (_NUMERALS[ones] if ones else 0)
    return _NUMERALS[text]


@dataclass(frozen=True, slots=True)
class Unit:
    """A duty item or a paragraph, before sentence attribution."""

    section: str
    block_no: int | None
    block: str
    department: str  # as written in a duty block header; "" for paragraphs
    item: int | None
    text: str
    line_numbers: tuple[int, ...]
    original: str

    @property
    def is_duty(self) -> bool:
        return bool(self.department)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    units: tuple[Unit, ...]
    front_matter: str
    anomalies: tuple[str, ...]
    line_joins: int


def _is_heading_tail(text: str) -> bool:
    return (
        len(text) <= 12
        and not (SECTION_RE.match(text) or BLOCK_RE.match(text) or ITEM_RE.match(text))
        and not (_HEADING_PUNCT & set(text))
    )


def _is_block_header_tail(text: str) -> bool:
    return _is_heading_tail(text) and text.endswith("职责")


def _looks_like_block_header(content: str) -> bool:
    return 2 <= len(content) <= 40 and not (_CLAUSE_PUNCT & set(content))


def department_of_header(content: str) -> str:
    """（十六）农牧业部门工作职责 → 农牧业部门; （一）州纪委监委机关 → 州纪委监委机关."""
    return _HEADER_SUFFIX.sub("", content).strip() or content


class _Builder:
    def __init__(self) -> None:
        self.units: list[Unit] = []
        self.section = ""
        self.block_no: int | None = None
        self.block = ""
        self.department = ""
        self.item: int | None = None
        self.text = ""
        self.lines: list[CleanLine] = []
        self.joins = 0

    def flush(self) -> None:
        if self.text:
            item = self.item
            if self.department and item is None:
                item = 1  # a block written as one paragraph is one duty
            self.units.append(
                Unit(
                    section=self.section,
                    block_no=self.block_no,
                    block=self.block,
                    department=self.department,
                    item=item,
                    text=self.text,
                    line_numbers=tuple(line.number for line in self.lines),
                    original="\n".join(line.raw for line in self.lines),
                )
            )
        self.text = ""
        self.lines = []

    def append(self, line: CleanLine, text: str) -> None:
        if self.text and not self.text.endswith(SENTENCE_END):
            self.joins += 1
        self.text += text
        self.lines.append(line)


def parse(lines: list[CleanLine], *, duty_list: bool) -> ParsedDocument:
    body = [line for line in lines if line.is_body]
    b = _Builder()
    front: list[str] = []
    seen_section = False
    i = 0
    while i < len(body):
        line = body[i]
        text = line.text
        if match := SECTION_RE.match(text):
            b.flush()
            title = match.group(2)
            while i + 1 < len(body) and _is_heading_tail(body[i + 1].text):
                i += 1
                title += body[i].text
            b.section = f"{match.group(1)}、{title}"
            b.block_no, b.block, b.department, b.item = None, "", "", None
            seen_section = True
        elif not seen_section:
            front.append(text)
        elif match := BLOCK_RE.match(text):
            b.flush()
            number = chinese_number(match.group(1))
            content = match.group(2).strip()
            if duty_list and _looks_like_block_header(content):
                while i + 1 < len(body) and _is_block_header_tail(body[i + 1].text) and "职责" not in content:
                    i += 1
                    content += body[i].text
                b.department = department_of_header(content)
                b.block = f"（{match.group(1)}）{b.department}"
            else:
                b.department = ""
                b.block = f"（{match.group(1)}）"
                b.append(line, content)
            b.block_no, b.item = number, None
        elif b.department and (match := ITEM_RE.match(text)):
            b.flush()
            b.item = int(match.group(1))
            b.append(line, match.group(2).strip())
        else:
            b.append(line, text)
        i += 1
    b.flush()
    return ParsedDocument(tuple(b.units), "".join(front), tuple(_anomalies(b.units)), b.joins)


def _anomalies(units: list[Unit]) -> list[str]:
    """Signs of a damaged conversion: repeated or out-of-order blocks, repeated departments, item gaps."""
    found: list[str] = []
    blocks: dict[tuple[str, int], str] = {}
    departments: dict[str, tuple[str, int]] = {}
    last_no: dict[str, int] = {}
    items: dict[tuple[str, int], list[int]] = {}
    for u in units:
        if u.block_no is None or not u.department:
            continue
        key = (u.section, u.block_no)
        if key not in blocks:
            # Lists number blocks either afresh in each section or straight through the document.
            if u.block_no not in (last_no.get(u.section, 0) + 1, last_no.get("", 0) + 1):
                found.append(f"block {u.block} out of order in {u.section}")
            last_no[u.section] = last_no[""] = u.block_no
            blocks[key] = u.department
            if u.department in departments and departments[u.department] != key:
                found.append(f"department {u.department} appears in two blocks")
            departments.setdefault(u.department, key)
        elif blocks[key] != u.department or (u.item is not None and u.item <= items.get(key, [0])[-1]):
            found.append(f"block {u.block} repeated")
        if u.item is not None:
            items.setdefault(key, []).append(u.item)
    for key, numbers in items.items():
        if numbers != list(range(1, len(numbers) + 1)):
            found.append(f"block {blocks[key]} items numbered {numbers}")
    return found


def split_sentences(text: str) -> list[str]:
    """Sentences ending in 。！？ (a closing quote stays with its sentence)."""
    parts = re.findall(r"[^。！？]+[。！？]?[”’」]?", text)
    return [p for p in parts if p.strip()]


def subjects_at_start(segment: str, lexicon: DepartmentLexicon) -> list[tuple[str, str]]:
    """Departments that are the grammatical subject of a segment, as (name, key).

    The subject opens the segment (公安机关依法…; 纪检监察机关和组织（人事）部门应当…) or ends the phrase before
    its first comma (承担…职责的发展改革、…等国务院有关职能部门，根据…). Names after 对/在/按照… are objects.
    """
    if segment.startswith(_PREPOSITION_START):
        return []
    head = re.split(r"[，；]", segment, maxsplit=1)[0]
    mentions = lexicon.mentions(head)
    if not mentions:
        return []
    subjects: list[tuple[str, str]] = []
    pos, name, key = mentions[0]
    if pos == 0:
        subjects.append((name, key))
        end = len(name)
        for next_pos, next_name, next_key in mentions[1:]:
            gap = head[end:next_pos]
            if gap not in _SUBJECT_JOINERS:
                break
            subjects.append((next_name, next_key))
            end = next_pos + len(next_name)
        return subjects
    last_pos, last_name, last_key = mentions[-1]
    if last_pos + len(last_name) == len(head) and len(head) < len(segment):
        return [(last_name, last_key)]
    return []


def split_by_subject(sentence: str, lexicon: DepartmentLexicon) -> list[str]:
    """Split a sentence where a new department becomes the subject after a comma.

    自治区发展改革委要加强统筹协调和政策支持，自治区生态环境厅要牵头推进… → two segments.
    """
    pieces = re.split(r"(?<=[，；])", sentence)
    segments: list[str] = []
    for piece in pieces:
        if not piece:
            continue
        if segments and subjects_at_start(piece, lexicon) and piece[:1] not in "对在":
            segments.append(piece)
        elif segments:
            segments[-1] += piece
        else:
            segments.append(piece)
    return segments
