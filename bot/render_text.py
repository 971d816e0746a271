"""Plain-text rendering for the CLI and the console chat: pure functions from results to strings."""

from __future__ import annotations

from knowledge.models import AnswerSet, DocumentDepartments, DocumentInfo, DutiesResult, SetAside


def document_line(doc: DocumentInfo) -> str:
    parts = [
        f"《{doc.title}》",
        doc.issuer or "发文机关未载明",
        doc.doc_number or doc.date or "日期未载明",
        doc.region,
    ]
    inferred = f"（推定：{'、'.join(doc.inferred)}）" if doc.inferred else ""
    return "，".join(p for p in parts if p) + inferred


def documents(docs: tuple[DocumentInfo, ...], set_aside: tuple[SetAside, ...] = ()) -> str:
    lines = [f"{n}. {document_line(d)}" for n, d in enumerate(docs, start=1)]
    for s in set_aside:
        lines.append(f"未采用：{s.document_id}（与 {s.duplicate_of} 重复）：{s.reason}")
    return "\n".join(lines)


def departments(groups: tuple[DocumentDepartments, ...]) -> str:
    lines = []
    for group in groups:
        if not group.departments:
            continue
        lines.append(f"《{group.document.title}》 {len(group.departments)} 个部门")
        lines.extend(f"  {d.block}  {d.count} 项" for d in group.departments)
    return "\n".join(lines)


def duties(result: DutiesResult) -> str:
    if not result.query:
        return "请给出部门名称，例如：duties 环保局"
    if not result.matches:
        hint = f"，您是不是要找：{'、'.join(result.suggestions)}" if result.suggestions else ""
        return f"没有找到「{result.query}」的职责清单{hint}。"
    lines = [f"「{result.query}」的职责："]
    for group in result.matches:
        where = f"{group.block} " if group.block else ""
        lines.append(
            f"\n■ {group.department}（{group.canonical}） {len(group.duties)} 项 — 《{group.document.title}》{where}"
        )
        for clause in group.duties:
            number = f"{clause.item}." if clause.sentence is None else f"{clause.block}第{clause.sentence}句"
            role = "（配合）" if clause.role == "assist" else ""
            lines.append(f"  {number} {role}{clause.text}")
    for note in result.notes:
        lines.append(f"\n注：{note}")
    return "\n".join(lines)


def answer(result: AnswerSet) -> str:
    """A question's answer as plain text: department and role, the clause verbatim, the citation."""
    if result.outcome == "duties" and result.duties is not None:
        return duties(result.duties)
    if result.no_answer:
        lines = [result.message]
        if result.outcome == "refused":
            lines.append("可以换个说法，或发送 /depts 浏览各部门职责。")
        return "\n".join(lines)
    lines = []
    for note in result.notes:
        lines.append(f"（{note}）")
    if result.confidence == "low":
        lines.append("（把握不大：以下条款可能相关，请核对原文。）")
    shown, rest = result.leading(5)
    for n, a in enumerate(shown, start=1):
        c = a.clause
        role = "配合" if c.role == "assist" else "负责"
        lines.append(f"{n}. {c.department}（{role}）")
        lines.append(f"   「{c.text}」")
        lines.append(f"   —— {c.document.citation()}，{c.location()}")
        if c.partners:
            lines.append(f"   涉及部门：{'、'.join(c.partners)}")
    if rest:
        lines.append(f"（另有 {len(rest)} 条相关性较低的条款，可用 ask --json 查看）")
    return "\n".join(lines)
