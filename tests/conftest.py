"""Shared fixtures: the real corpus built once per session, and a tiny hand-written corpus for unit tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.build import build_database
from knowledge.departments import DepartmentLexicon
from knowledge.manifest import KNOWLEDGE_DIR
from knowledge.service import KnowledgeBase
from tests.reliability import Recorder

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("real") / "knowledge.db"
    build_database(path)
    return path


@pytest.fixture(scope="session")
def kb(real_db: Path) -> KnowledgeBase:
    return KnowledgeBase.open(real_db)


@pytest.fixture(scope="session")
def lexicon() -> DepartmentLexicon:
    return DepartmentLexicon.load()


TINY_MANIFEST = """
[[document]]
id = "tiny"
file = "tiny.txt"
title = "某县有关部门环境保护工作职责"
issuer = "某县人民政府办公室"
date = "2020-01-02"
region = "某县"
level = "county"
kind = "duty_list"
general_subject = "各级党委、政府"
"""

TINY_SOURCE = """某县人民政府办公室
一、政府职能部门环境保护工
作职责
（一）公 安 部 门 工 作 职 责
l.协助环境保护部门对机动车尾
气污染进行监督管理。
2.负责社会生活噪声污染 and 交通噪声的监督管理。
（二）税务部门工作职责
落实有利于环境保护的税收政策。
2020年1月2日
"""


@pytest.fixture()
def tiny_knowledge_dir(tmp_path: Path) -> Path:
    """A knowledge/ tree with one small duty list showing each OCR defect, plus the real lexicons."""
    root = tmp_path / "knowledge"
    (root / "sources").mkdir(parents=True)
    shutil.copytree(KNOWLEDGE_DIR / "lexicon", root / "lexicon")
    (root / "manifest.toml").write_text(TINY_MANIFEST, encoding="utf-8")
    (root / "sources" / "tiny.txt").write_text(TINY_SOURCE, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def reliability() -> Recorder:
    from tests.reliability import RECORDER

    return RECORDER


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.reliability import AREAS, OUTPUT, RECORDER

    # Only a run that exercised every reliability area rewrites the document (a single test file does not).
    areas = {f.area for f in RECORDER.findings}
    if len(areas) == len(AREAS):
        OUTPUT.write_text(RECORDER.markdown(failed=exitstatus != 0), encoding="utf-8")
