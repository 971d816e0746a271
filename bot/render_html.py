"""Telegram rendering: pure functions from knowledge results to HTML message texts and buttons.

Every string that comes from the database or the user is HTML-escaped here and nowhere else. Messages are
split between clauses (or, for one very long clause, between its sentences) to stay under Telegram's
4096-character limit, and buttons carry only the short tokens of `bot.callbacks`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.callbacks import DutiesPage, Feedback, More
from knowledge.models import (
    Answer,
    AnswerSet,
    DocumentDepartments,
    DocumentInfo,
    DutiesResult,
    SetAside,
)

MESSAGE_LIMIT = 4096
# Room under the limit: the limit counts parsed text; we measure the HTML source, which is longer.
PAGE_BUDGET = 3500
PRIVATE_ANSWERS = 5
GROUP_ANSWERS = 2
RELEVANCE_SHARE = 0.4  # answers scoring under this share of the best are left for 「更多条款」
INLINE_RESULTS = 10
LOW_CONFIDENCE = "把握不大：以下条款可能相关，请核对原文。"
DUTIES_PAGE_BUDGET = 1500  # a phone screen or two per page


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


def esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def role_label(role: str) -> str:
    return "配合" if role == "assist" else "负责"


def canonical_suffix(department: str, canonical: str) -> str:
    """（今农业农村部门） after 农牧业部门; （生态环境部门） after 州生态环境局; nothing when they are the same."""
    if not canonical or canonical == department:
        return ""
    if canonical.startswith(department):
        return esc(canonical[len(department) :])
    return f"（{esc(canonical)}）"


def citation(doc: DocumentInfo) -> str:
    return esc(doc.citation())


def answer_block(answer: Answer, number: int | None = None) -> str:
    """One department's clause: bold department with its role, the clause verbatim, the citation."""
    c = answer.clause
    prefix = f"{number}. " if number is not None else ""
    canonical = canonical_suffix(c.department, c.canonical)
    lines = [
        f"<b>{prefix}{esc(c.department)}</b>{canonical} · {role_label(c.role)}",
        f"「{esc(c.text)}」",
        f"<i>—— {citation(c.document)}，{esc(c.location())}</i>",
    ]
    if c.partners:
        lines.append(f"涉及：{esc('、'.join(c.partners))}")
    return "\n".join(lines)


def _answer_buttons(result: AnswerSet, question_id: int | None, more: bool) -> tuple[tuple[Button, ...], ...]:
    rows: list[tuple[Button, ...]] = []
    first: list[Button] = []
    if more and question_id is not None:
        first.append(Button("更多条款", More(question_id).encode()))
    if result.answers:
        key = result.answers[0].clause.department_key
        first.append(
            Button(f"{result.answers[0].clause.department}全部职责"[:40], DutiesPage(key, 0).encode())
        )
    if first:
        rows.append(tuple(first))
    if question_id is not None:
        rows.append(
            (
                Button("👍 有用", Feedback(question_id, True).encode()),
                Button("👎 没用", Feedback(question_id, False).encode()),
            )
        )
    return tuple(rows)


def answer_messages(result: AnswerSet, *, question_id: int | None, compact: bool = False) -> list[Rendered]:
    """The reply to a question: answers (short in groups), a refusal, or a department's duties."""
    if result.outcome == "duties" and result.duties is not None:
        return [duties_message(result.duties, 0)]
    if result.no_answer:
        return [refusal(result)]
    shown, rest = result.leading(GROUP_ANSWERS if compact else PRIVATE_ANSWERS, RELEVANCE_SHARE)
    head = [f"<i>{esc(note)}</i>" for note in result.notes]
    if result.confidence == "low":
        head.append(f"<i>{LOW_CONFIDENCE}</i>")
    blocks = [answer_block(a, n) for n, a in enumerate(shown, start=1)]
    texts = split_blocks([*head, *blocks])
    buttons = _answer_buttons(result, question_id, more=bool(rest))
    messages = [Rendered(t) for t in texts]
    messages[-1] = Rendered(messages[-1].text, buttons)
    return messages


def more_messages(result: AnswerSet) -> list[Rendered]:
    """Answers beyond those first shown (「更多条款」)."""
    shown, extra = result.leading(PRIVATE_ANSWERS, RELEVANCE_SHARE)
    if not extra:
        return [Rendered("没有更多相关条款了。")]
    start = len(shown) + 1
    return [Rendered(t) for t in split_blocks([answer_block(a, n) for n, a in enumerate(extra, start=start)])]


def refusal(result: AnswerSet) -> Rendered:
    lines = [esc(result.message)]
    if result.outcome == "refused":
        found = [u for u in result.understood.units if u not in result.understood.missing]
        if result.understood.missing:
            lines.append(f"未在清单中找到：{esc('、'.join(result.understood.missing))}")
        if found:
            lines.append(f"可以试试只问「{esc(found[0])}」，或用 /depts 浏览各部门职责。")
        else:
            lines.append("可以换个说法，或用 /depts 浏览各部门职责。")
    return Rendered("\n".join(lines))


def split_blocks(blocks: Sequence[str], budget: int = PAGE_BUDGET) -> list[str]:
    """Join blocks with blank lines into as few messages as fit; a block too long alone is split at 。."""
    pieces: list[str] = []
    for block in blocks:
        pieces.extend(_split_long(block, budget) if len(block) > budget else [block])
    messages: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}\n\n{piece}" if current else piece
        if len(candidate) > budget and current:
            messages.append(current)
            current = piece
        else:
            current = candidate
    if current or not messages:
        messages.append(current or "（无内容）")
    return messages


def _split_long(block: str, budget: int) -> list[str]:
    """Sentence boundaries first; a sentence longer than the budget is cut between characters outside tags."""
    parts: list[str] = []
    current = ""
    for sentence in re.findall(r"[^。\n]*[。\n]?", block):
        if not sentence:
            continue
        if len(current) + len(sentence) > budget and current:
            parts.append(current)
            current = ""
        while len(sentence) > budget:
            cut = _safe_cut(sentence, budget)
            parts.append(sentence[:cut])
            sentence = sentence[cut:]
        current += sentence
    if current:
        parts.append(current)
    return [_balance(p) for p in parts]


def _safe_cut(text: str, budget: int) -> int:
    """A cut position at or before `budget` that is not inside a tag or an entity."""
    cut = budget
    while cut > 0 and (
        text.rfind("<", 0, cut) > text.rfind(">", 0, cut) or text.rfind("&", 0, cut) > text.rfind(";", 0, cut)
    ):
        cut -= 1
    return cut or budget


_TAG = re.compile(r"<(/?)([a-z]+)[^>]*>")


def _balance(fragment: str) -> str:
    """Make one piece of a split block valid on its own: reopen tags closed in it, close tags left open."""
    still_open: list[str] = []
    opened_before: list[str] = []
    for closing, name in _TAG.findall(fragment):
        if not closing:
            still_open.append(name)
        elif still_open and still_open[-1] == name:
            still_open.pop()
        else:
            opened_before.append(name)
    reopen = "".join(f"<{name}>" for name in reversed(opened_before))
    return reopen + fragment + "".join(f"</{name}>" for name in reversed(still_open))


def duties_pages(result: DutiesResult, budget: int = DUTIES_PAGE_BUDGET) -> list[str]:
    """A department's duties grouped by document, cut into pages at duty boundaries."""
    if not result.matches:
        hint = (
            f"您是不是要找：{esc('、'.join(result.suggestions))}"
            if result.suggestions
            else "请检查名称，或用 /depts 浏览。"
        )
        return [f"没有找到「{esc(result.query)}」的职责清单。{hint}"]
    blocks: list[str] = []
    for group in result.matches:
        where = f" {esc(group.block)}" if group.block else ""
        name = f"<b>{esc(group.department)}</b>{canonical_suffix(group.department, group.canonical)}"
        header = f"{name} — 《{esc(group.document.title)}》{where}"
        if group.via:
            header += f"\n<i>{esc(group.via)}</i>"
        blocks.append(header)
        for clause in group.duties:
            number = (
                f"{clause.item}." if clause.sentence is None else f"{esc(clause.block)}第{clause.sentence}句"
            )
            marker = "（配合）" if clause.role == "assist" else ""
            blocks.append(f"{number} {marker}{esc(clause.text)}")
    notes = [f"<i>注：{esc(n)}</i>" for n in result.notes]
    pages: list[str] = []
    current = ""
    for block in [*blocks, *notes]:
        # Each document's block starts a page: one document per screen, cut further only when long.
        starts_group = block.startswith("<b>")
        candidate = f"{current}\n{block}" if current else block
        if current and (starts_group or len(candidate) > budget):
            pages.append(current)
            current = block
        else:
            current = candidate
    pages.append(current)
    return [p for piece in pages for p in (split_blocks([piece], budget) if len(piece) > budget else [piece])]


def duties_message(result: DutiesResult, page: int) -> Rendered:
    """One page of a department's duties with 上一页/下一页 buttons that edit the message in place."""
    pages = duties_pages(result)
    page = max(0, min(page, len(pages) - 1))
    title = f"「{esc(result.query)}」的职责" if result.matches else ""
    footer = f"\n\n第 {page + 1}/{len(pages)} 页" if len(pages) > 1 else ""
    text = (f"{title}\n\n" if title else "") + pages[page] + footer
    key = (
        result.resolved[0].key
        if result.resolved
        else (result.matches[0].department_key if result.matches else "")
    )
    nav: list[Button] = []
    if key and page > 0:
        nav.append(Button("◀ 上一页", DutiesPage(key, page - 1).encode()))
    if key and page < len(pages) - 1:
        nav.append(Button("下一页 ▶", DutiesPage(key, page + 1).encode()))
    return Rendered(text, (tuple(nav),) if nav else ())


def start_text() -> str:
    return (
        "<b>谁管</b>：告诉您生态环境保护事项由哪个部门负责，并引用责任清单原文和出处。\n\n"
        "直接发问题即可，例如：\n"
        "• 哪个部门负责秸秆禁烧？\n• 工地扬尘归谁管\n• 放射源丢了找谁\n\n"
        "发部门名称（如「环保局」「国土局」）可查看其全部职责。/help 查看全部用法。"
    )


def help_text(bot_username: str = "") -> str:
    mention = f"@{esc(bot_username)}" if bot_username else "@机器人"
    return (
        "<b>用法</b>\n"
        "• 私聊：直接发问题，如「快递包装谁来管」「昌吉州谁负责快递包装回收」\n"
        "• /ask 问题 — 提问（群里用 /ask 或 @我，或回复我的消息）\n"
        "• /dept 名称 — 某部门的全部职责，如 /dept 环保局、/dept 国土局\n"
        "• /depts — 按文件浏览部门\n"
        "• /docs — 收录的文件（发文机关、日期、文号）\n"
        "• /region 地区 — 本聊天优先显示的地区，如 /region 昌吉\n"
        f"• 在任意聊天输入 {mention} 秸秆 — 快速查询\n\n"
        "回答中的条款均为原文照录；清单没有规定的事项会如实说明。"
    )


def documents_text(docs: Sequence[DocumentInfo], set_aside: Sequence[SetAside] = ()) -> str:
    lines = ["<b>收录的文件</b>"]
    for n, d in enumerate(docs, start=1):
        facts = "，".join(
            esc(x)
            for x in (d.issuer or "发文机关未载明", d.doc_number or d.date or "日期未载明", d.region)
            if x
        )
        inferred = f"（推定：{esc('、'.join(d.inferred))}）" if d.inferred else ""
        lines.append(f"{n}. 《{esc(d.title)}》\n   {facts}{inferred}")
    if set_aside:
        lines.append(f"\n<i>另有 {len(set_aside)} 份重复或损坏的副本未采用。</i>")
    return "\n".join(lines)


def departments_text(groups: Sequence[DocumentDepartments]) -> list[str]:
    blocks = []
    for group in groups:
        if not group.departments:
            continue
        names = "、".join(f"{esc(d.department)}（{d.count}）" for d in group.departments)
        blocks.append(f"<b>《{esc(group.document.title)}》</b>\n{names}")
    blocks.append("发送 /dept 名称 查看某部门的全部职责。")
    return split_blocks(blocks)


def inline_description(answer: Answer) -> str:
    """Plain text (not HTML) for an inline result's description line."""
    c = answer.clause
    snippet = c.text if len(c.text) <= 60 else c.text[:58] + "…"
    return f"{snippet} — 《{c.document.title}》"
