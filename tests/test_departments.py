import pytest

from knowledge.departments import DepartmentLexicon, stem
from knowledge.service import KnowledgeBase


def counts(kb: KnowledgeBase, name: str) -> dict[tuple[str, str], int]:
    return {(m.document.id, m.department): len(m.duties) for m in kb.duties(name).matches}


def test_duties_of_public_security_across_documents(kb: KnowledgeBase) -> None:
    found = counts(kb, "公安")
    assert found[("im2015", "公安部门")] == 5
    assert found[("changji2021", "州公安局")] == 11


def test_everyday_name_of_the_environment_bureau(kb: KnowledgeBase) -> None:
    found = counts(kb, "环保局")
    assert found[("im2015", "环境保护部门")] == 15
    assert found[("changji2021", "州生态环境局")] == 14


def test_reform_successor_finds_the_pre_2018_department(kb: KnowledgeBase) -> None:
    result = kb.duties("农业农村局")
    found = {(m.document.id, m.department): m for m in result.matches}
    old = found[("im2015", "农牧业部门")]
    assert [d.item for d in old.duties] == [1, 2, 3, 4]
    assert found[("changji2021", "州农业农村局")].duties
    assert old.via


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("国土局", "国土资源部门", "州自然资源局"),
        ("安监局", "安全生产监督管理部门", "州应急管理局"),
        ("卫计委", "卫生和计划生育部门", "州卫生健康委员会"),
        ("发改委", "发展和改革部门", "州发改委"),
        ("工商局", "工商行政管理部门", "州市场监督管理局"),
        ("林业局", "林业部门", "州林业和草原局"),
        ("旅游局", "旅游部门", "州文化体育广播电视和旅游局"),
    ],
)
def test_historical_names_resolve_to_both_documents(kb: KnowledgeBase, name: str, old: str, new: str) -> None:
    result = kb.duties(name)
    departments = {(m.document.id, m.department) for m in result.matches}
    assert ("im2015", old) in departments
    assert ("changji2021", new) in departments


def test_the_older_document_is_noted_as_predating_the_reform(kb: KnowledgeBase) -> None:
    result = kb.duties("国土局")
    assert any("早于机构改革" in note and "自然资源" in note for note in result.notes)


def test_market_regulation_gathers_the_three_merged_bureaus(kb: KnowledgeBase) -> None:
    departments = {m.department for m in kb.duties("市场监管局").matches}
    assert {"工商行政管理部门", "质量技术监督部门", "食品药品监督管理部门", "州市场监督管理局"} <= departments


def test_a_party_committee_and_its_government_named_together_are_both_and_their_joint_duties(
    kb: KnowledgeBase,
) -> None:
    named = kb.duties("县委县政府")
    blocks = {(m.document.id, m.department) for m in named.matches}
    assert {("im2015", "各级党委"), ("im2015", "旗县级以上政府")} <= blocks
    # The pages after the first are read by key: the same list.
    assert kb.duties_for_key(named.resolved[0].key).matches == named.matches
    assert ("changji2021", "各县市（园区）党委（党工委）、人民政府（管委会）") in blocks
    # A collective subject is no one's duty list by a stem: 有关部门 names no department.
    assert kb.duties("有关部门").matches == ()
    asked = kb.ask("县委县政府对环保到底负什么责")
    assert asked.understood.department == "县委县政府"
    assert {"party_committees", "government", "party_government"} <= set(asked.understood.department_keys)


def test_unknown_names_get_suggestions_not_silence(kb: KnowledgeBase) -> None:
    result = kb.duties("环宝局")
    assert result.matches == ()
    assert "环保局" in result.suggestions


def test_empty_name_returns_nothing_without_error(kb: KnowledgeBase) -> None:
    result = kb.duties("   ")
    assert result.matches == () and result.suggestions == ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [("州公安局", "公安"), ("环境保护部门", "环境保护"), ("自治区生态环境厅", "生态环境")],
)
def test_stem(name: str, expected: str) -> None:
    assert stem(name) == expected


def test_every_block_of_the_corpus_maps_to_a_lexicon_department(
    kb: KnowledgeBase, lexicon: DepartmentLexicon
) -> None:
    for group in kb.departments():
        for block in group.departments:
            assert block.department_key in lexicon.entries, block.department


def test_successors_in_the_lexicon_exist(lexicon: DepartmentLexicon) -> None:
    for entry in lexicon.entries.values():
        if entry.department.successor:
            assert entry.department.successor in lexicon.entries
            assert entry.department.note, entry.department.key
