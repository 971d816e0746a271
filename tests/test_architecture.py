"""Layering rules from STYLE.md that a test can hold."""

import subprocess
import sys

from tests.conftest import ROOT


def test_importing_knowledge_does_not_import_telegram() -> None:
    code = (
        "import sys, knowledge.service, knowledge.build, knowledge.loading;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'httpx')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_knowledge_sources_never_mention_telegram() -> None:
    for path in (ROOT / "knowledge").glob("*.py"):
        assert "telegram" not in path.read_text(encoding="utf-8"), path
