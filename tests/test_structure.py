import json

import pytest

from knowledge.cleaning import clean_lines
from knowledge.service import KnowledgeBase
from knowledge.structure import chinese_number, parse, split_sentences
from tests.conftest import SHARED

GOLD = json.loads((SHARED / "eval" / "structure.json").read_text(encoding="utf-8"))
DOC_FOR = {"im2015": "im2015", "changji2021": "changji2021"}


@pytest.mark.parametrize("key", ["im2015", "changji2021"])
def test_duty_lists_reproduce_the_gold_structure(kb: KnowledgeBase, key: str) -> None:
    groups = {g.document.id: g for g in kb.departments()}
    got = [(d.department, d.count) for d in groups[DOC_FOR[key]].departments]
    want = GOLD[key]
    assert len(got) == len(want)
    for (name, count), (department, n) in zip(want, got, strict=True):
        assert name in department
        assert n == count, department


def test_totals_are_44_blocks_165_items_and_46_blocks_207_items(kb: KnowledgeBase) -> None:
    groups = {g.document.id: g.departments for g in kb.departments()}
    assert (len(groups["im2015"]), sum(d.count for d in groups["im2015"])) == (44, 165)
    assert (len(groups["changji2021"]), sum(d.count for d in groups["changji2021"])) == (46, 207)


@pytest.mark.parametrize("name", ["宣传部门", "税务部门", "保险监督管理部门", "气象部门", "海关管理部门"])
def test_single_paragraph_departments_of_2015_are_one_item(kb: KnowledgeBase, name: str) -> None:
    [block] = [
        d
        for g in kb.departments()
        if g.document.id == "im2015"
        for d in g.departments
        if d.department == name
    ]
    assert block.count == 1


@pytest.mark.parametrize("name", ["州党委政法委", "州党委编办", "州人民防空办公室", "国网昌吉供电公司"])
def test_single_paragraph_departments_of_changji_are_one_item(kb: KnowledgeBase, name: str) -> None:
    [block] = [
        d
        for g in kb.departments()
        if g.document.id == "changji2021"
        for d in g.departments
        if d.department == name
    ]
    assert block.count == 1


def test_headers_broken_across_lines_are_rejoined() -> None:
    raw = "一、政府职能部门环境保护工\n作职责\n（一）国有资产监督管理机构工\n作职责\n1.指导督促监管企业。\n2.指导监管企\n业整改。"
    lines, _ = clean_lines(raw, title="t")
    doc = parse(lines, duty_list=True)
    assert [u.section for u in doc.units] == ["一、政府职能部门环境保护工作职责"] * 2
    assert [(u.department, u.item, u.text) for u in doc.units] == [
        ("国有资产监督管理机构", 1, "指导督促监管企业。"),
        ("国有资产监督管理机构", 2, "指导监管企业整改。"),
    ]
    assert doc.anomalies == ()


def test_closing_requirements_are_paragraphs_not_departments(kb: KnowledgeBase) -> None:
    requirement = [
        c for c in list(kb.all_clauses()) if c.document.id == "changji2021" and c.section.startswith("五、")
    ]
    assert requirement and all(c.attribution != "block" for c in requirement)


def _clauses(kb: KnowledgeBase, doc: str, block: str) -> list[tuple[str, str]]:
    return [
        (c.department, c.text) for c in list(kb.all_clauses()) if c.document.id == doc and c.block == block
    ]


def test_narrative_sentences_are_attributed_to_their_subjects(kb: KnowledgeBase) -> None:
    eighteen = _clauses(kb, "national-opinion", "（十八）")
    assert [d for d, _ in eighteen] == ["公安机关", "人民法院", "人民检察院"]
    assert "强制执行申请" in eighteen[1][1]
    assert [d for d, _ in _clauses(kb, "national-opinion", "（十九）")] == ["司法行政机关"]
    twenty_five = dict(_clauses(kb, "im-governance", "（二十五）"))
    assert twenty_five["自治区发展改革委"] == "自治区发展改革委要加强统筹协调和政策支持"
    assert twenty_five["自治区生态环境厅"].startswith("自治区生态环境厅要牵头推进相关具体工作")


def test_sentences_without_a_subject_inherit_or_fall_back_to_the_general_subject(kb: KnowledgeBase) -> None:
    four = [c for c in list(kb.all_clauses()) if c.document.id == "national-opinion" and c.block == "（四）"]
    assert [c.attribution for c in four] == ["named", "inherited", "named"]
    assert four[1].department == four[0].department == "国务院有关职能部门"
    heading = next(c for c in list(kb.all_clauses()) if c.ref == "im-governance/2.5.1")
    assert (heading.text, heading.department, heading.attribution) == (
        "全面实行排污许可管理制度。",
        "各级党委和政府",
        "general",
    )


def test_every_clause_text_is_verbatim_from_its_source(kb: KnowledgeBase) -> None:
    """A clause is its source lines with only the documented cleaning fixes applied: nothing added."""
    from collections import Counter

    from knowledge.cleaning import clean_line

    for clause in list(kb.all_clauses()):
        cleaned = "".join(clean_line(line, Counter()) for line in clause.original.split("\n"))
        assert clause.text in cleaned, clause.ref


@pytest.mark.parametrize(
    ("text", "n"), [("一", 1), ("十", 10), ("十六", 16), ("二十", 20), ("三十五", 35), ("四十六", 46)]
)
def test_chinese_numbers(text: str, n: int) -> None:
    assert chinese_number(text) == n


def test_sentences_keep_their_punctuation() -> None:
    assert split_sentences("甲负责一。乙配合二！丙“三。”丁") == ["甲负责一。", "乙配合二！", "丙“三。”", "丁"]
