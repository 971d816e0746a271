import pytest

from knowledge.departments import DepartmentLexicon
from knowledge.roles import partners_of, role_of
from knowledge.service import KnowledgeBase


def test_public_security_item_4_assists_the_environment_department(kb: KnowledgeBase) -> None:
    clause = next(c for c in list(kb.all_clauses()) if c.ref == "im2015/3.6.4")
    assert clause.department == "公安部门"
    assert clause.role == "assist"
    assert clause.partners == ("环境保护部门",)


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("负责自来水厂建设管理，监管出水水质安全。", "lead"),
        ("配合有关部门调解辖区内环境污染纠纷。", "assist"),
        ("配合环境保护部门加强重大灾害性天气监测预警，及时提供重大环境事件气象信息。", "assist"),
        ("编制环境功能区划。参与编制主体功能区规划。", "lead"),
        ("依法对交通噪声污染进行监督管理，协助有关部门开展老旧机动车淘汰工作。", "lead"),
        ("会同有关部门指导和推动环境科技进步。", "lead"),
        ("协助有关部门开展宣传，负责组织落实。", "lead"),
    ],
)
def test_role_of(text: str, role: str) -> None:
    assert role_of(text) == role


def test_partners_exclude_own_and_generic_departments(lexicon: DepartmentLexicon) -> None:
    text = "会同有关部门做好工作，配合环境保护部门和公安部门，会同环境保护、农牧业等部门开展土壤修复。"
    assert partners_of(text, {"public_security"}, lexicon) == ("环境保护部门", "农牧业")
