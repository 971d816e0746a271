"""The CLI JSON contract other tools depend on, and its plain-text twin."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.console import reply, run_console
from knowledge.service import KnowledgeBase
from tests.conftest import ROOT, SHARED


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(list(args)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_depts_json_contract(capsys: pytest.CaptureFixture[str], real_db: Path) -> None:
    [out] = run_cli(capsys, "depts", "--json", "--db", str(real_db))
    docs = out["documents"]
    assert isinstance(docs, list)
    assert all({"title", "departments"} <= set(d) for d in docs)
    assert all({"department", "count"} <= set(dep) for d in docs for dep in d["departments"])


def test_duties_json_one_object_per_name(capsys: pytest.CaptureFixture[str], real_db: Path) -> None:
    out = run_cli(capsys, "duties", "--json", "--db", str(real_db), "公安", "环保局", "不存在的局")
    assert len(out) == 3
    first = out[0]["matches"]
    assert isinstance(first, list)
    assert {"department", "document", "duties"} <= set(first[0])
    assert {"item", "text"} <= set(first[0]["duties"][0])
    assert out[2]["matches"] == [] and out[2]["suggestions"]


def test_docs_json_lists_documents_and_what_was_set_aside(
    capsys: pytest.CaptureFixture[str], real_db: Path
) -> None:
    [out] = run_cli(capsys, "docs", "--json", "--db", str(real_db))
    changji = next(d for d in out["documents"] if d["id"] == "changji2021")
    assert changji["doc_number"] == "昌州党办字〔2021〕17号"
    assert out["set_aside"][0]["id"] == "im2015-copy2"


def test_plain_text_duties_cite_the_document(capsys: pytest.CaptureFixture[str], real_db: Path) -> None:
    assert main(["duties", "--db", str(real_db), "国土局"]) == 0
    text = capsys.readouterr().out
    assert "国土资源部门" in text and "州自然资源局" in text and "早于机构改革" in text


def test_user_errors_are_one_line_not_a_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 50)
    assert main(["depts", "--db", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_every_command_has_an_example_in_its_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, type(parser._subparsers._group_actions[0])))  # type: ignore[union-attr]
    for name, command in sub.choices.items():
        description = command.description or ""
        assert "Example:" in description and f"python -m bot {name}" in description, name


def test_structure_check_passes_90_of_90(real_db: Path) -> None:
    """The shared structure checker, run against the CLI exactly as the brief specifies."""
    checker = SHARED / "eval" / "check_structure.py"
    if not checker.exists():
        pytest.skip("shared/eval is not beside this checkout")
    env_cmd = [
        sys.executable,
        str(checker),
        str(SHARED / "eval" / "structure.json"),
        "--",
        sys.executable,
        "-m",
        "bot",
    ]
    proc = subprocess.run(
        env_cmd, cwd=ROOT, capture_output=True, text=True, env={"SHUIGUAN_DB": str(real_db), "PATH": ""}
    )
    assert proc.stdout.strip().splitlines()[-1] == "structure: 90/90 department blocks exact", (
        proc.stdout + proc.stderr
    )


def test_console_commands_and_quit(kb: KnowledgeBase) -> None:
    assert "/depts" in reply(kb, "/help")
    assert "/dept 环保局" in reply(kb, "/dept")
    unknown = reply(kb, "/foo bar")
    assert "不认识的命令「/foo」" in unknown and "/quit" in unknown
    out = io.StringIO()
    run_console(kb, io.StringIO("工地扬尘归谁管\n/quit\n秸秆禁烧归谁管\n"), out)
    assert "扬尘" in out.getvalue() and "秸秆" not in out.getvalue()
