"""Line-level cleaning of converted documents, keeping every original line beside its cleaned form.

The converters that produced the sources damage text in a few recurring ways; each fix here is counted
by kind so the build report says what was repaired. Nothing is invented: fixes only remove spacing,
re-map characters the converter confused, or mark lines as document metadata.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass

CJK = r"\u3400-\u9fff"

# Structural markers that start a section, block or item; a marked line is never metadata.
SECTION_RE = re.compile(r"^([一二三四五六七八九十]+)、(.*)$")
BLOCK_RE = re.compile(r"^（([一二三四五六七八九十百]+)）(.*)$")
ITEM_RE = re.compile(r"^(\d{1,2})[.．](.*)$")

_BULLET_RE = re.compile(r"^\s*[-•·]\s+")
# A converter wrote the conjunction 和 as an English "and" between Chinese words.
_STRAY_AND_RE = re.compile(rf"(?<=[{CJK}（）、”])\s*\band\b\s*(?=[{CJK}“])")
_SPACE_RE = re.compile(r"[ \t\u3000\u00a0]+")
# OCR reads the digit 1 of an item number as a lower-case l or capital I.
_ITEM_L_RE = re.compile(r"^[lI](?=[.．])")
_ASCII_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}

_COVER_PATTERNS = (
    re.compile(r"^各.{2,120}[：:]$"),  # addressees of the cover notice
    re.compile(r"印发给你们"),
    re.compile(r"关于印发"),
    re.compile(r"的通知$"),
    re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日(印发)?$"),
    re.compile(r"^[^，。；]{0,20}〔\d{4}〕\d+号$"),
    re.compile(r"^抄送[：:]"),
    re.compile(r"^本文自.{0,10}之日起(执行|施行)"),
    re.compile(r"^中国共产党$"),
    re.compile(r"^[^，。；：:]{2,40}(办公厅|办公室)(印发)?$"),
)


@dataclass(frozen=True, slots=True)
class CleanLine:
    number: int  # 1-based line number in the source file
    raw: str
    text: str  # cleaned; empty for blank lines
    metadata: str = ""  # "" for body text, else page_header / cover_notice

    @property
    def is_body(self) -> bool:
        return bool(self.text) and not self.metadata


def _remove_spacing(text: str) -> tuple[str, bool]:
    """Drop whitespace except between two ASCII letters or digits (keeps 'PM 2.5'-like runs readable)."""
    out: list[str] = []
    changed = False
    pos = 0
    for match in _SPACE_RE.finditer(text):
        out.append(text[pos : match.start()])
        before = text[match.start() - 1] if match.start() > 0 else ""
        after = text[match.end()] if match.end() < len(text) else ""
        if before.isascii() and before.isalnum() and after.isascii() and after.isalnum():
            out.append(" ")
        elif before and after:
            changed = True
        pos = match.end()
    out.append(text[pos:])
    return "".join(out).strip(), changed


# Full-width letters and digits to ASCII; ASCII punctuation that stands in Chinese text to full width.
_WIDTH = str.maketrans(
    {
        **{
            chr(c): chr(c - 0xFEE0)
            for c in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
        },
        **_ASCII_TO_FULL,
    }
)
_OPEN_PAREN = re.compile(rf"\((?=[{CJK}])")
_CLOSE_PAREN = re.compile(rf"(?<=[{CJK}])\)")


def normalize_width(text: str) -> str:
    """Full-width letters and digits to ASCII; ASCII punctuation inside Chinese text to full width."""
    text = text.translate(_WIDTH)
    return _CLOSE_PAREN.sub("）", _OPEN_PAREN.sub("（", text))


def is_cover_line(text: str) -> bool:
    """True for lines of a cover notice (addressees, issuers, dates, 文号, 抄送) rather than the body."""
    if SECTION_RE.match(text) or BLOCK_RE.match(text) or ITEM_RE.match(text):
        return False
    return any(p.search(text) for p in _COVER_PATTERNS)


def clean_line(raw: str, fixes: Counter[str]) -> str:
    text = raw.replace("\ufeff", "")
    if _BULLET_RE.match(text):
        text = _BULLET_RE.sub("", text, count=1)
        fixes["list_bullet"] += 1
    text, n_and = _STRAY_AND_RE.subn("和", text)
    fixes["stray_and"] += n_and
    text, spaced = _remove_spacing(text)
    if spaced:
        fixes["ocr_spacing"] += 1
    widened = normalize_width(text)
    if widened != text:
        fixes["punctuation_width"] += 1
        text = widened
    if _ITEM_L_RE.match(text):
        text = _ITEM_L_RE.sub("1", text, count=1)
        fixes["item_number"] += 1
    return text


def clean_lines(
    raw_text: str, *, title: str, page_headers: tuple[str, ...] = ()
) -> tuple[list[CleanLine], Counter[str]]:
    """Clean every line of a source file and mark page headers and cover-notice lines as metadata."""
    fixes: Counter[str] = Counter()
    headers = {normalize_width(h) for h in page_headers} | {title, f"《{title}》"}
    lines = []
    for number, raw in enumerate(raw_text.splitlines(), start=1):
        text = clean_line(raw, fixes)
        metadata = ""
        if text in headers:
            metadata = "page_header"
        elif text and is_cover_line(text):
            metadata = "cover_notice"
        lines.append(CleanLine(number, raw, text, metadata))
    lines = _extend_cover_notices(lines)
    for line in lines:
        if line.metadata:
            fixes[line.metadata] += 1
    return lines, +fixes


_SENTENCE_END = ("。", "；", "！", "？", "：")


def _extend_cover_notices(lines: list[CleanLine]) -> list[CleanLine]:
    """A cover notice broken mid-sentence across lines: mark the neighbour whose join still reads as one."""
    out = list(lines)
    changed = True
    while changed:
        changed = False
        nonblank = [i for i, line in enumerate(out) if line.text]
        for a, b in itertools.pairwise(nonblank):
            first, second = out[a], out[b]
            if (first.metadata and second.metadata) or first.text.endswith(_SENTENCE_END):
                continue
            if is_cover_line(first.text + second.text):
                for i in (a, b):
                    if not out[i].metadata:
                        out[i] = CleanLine(out[i].number, out[i].raw, out[i].text, "cover_notice")
                changed = True
    return out


def compact(text: str) -> str:
    """Text with all whitespace removed, for containment checks against the sources."""
    return re.sub(r"\s+", "", text)
