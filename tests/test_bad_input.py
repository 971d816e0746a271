"""Bad input gets a normal answer or a clear message: never a traceback, never invalid output."""

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import render_html
from bot.console import reply
from knowledge.service import KnowledgeBase
from tests.conftest import ROOT
from tests.fake_bot_api import parse_html, utf16_len
from tests.reliability import Recorder

BATTERY = {
    "empty": "",
    "whitespace only": " \t\u3000\n ",
    "10,000+ characters": "工地扬尘归谁管？" * 1300,
    "emoji with ZWJ sequences": "👨\u200d👩\u200d👧\u200d👦🏳️\u200d🌈 谁管扬尘" * 20,
    "RTL and zero-width characters": "\u202eسلام\u200f\u200b\u200c\u200d扬尘\u2066归谁管\u2069",
    "control characters": "\x01\x07\x1b[31m秸秆\x7f禁烧\x08",
    "HTML metacharacters": "<b>扬尘</b> & <script>alert('x')</script> <a href='javascript:x'>",
    "MarkdownV2 metacharacters": "*_[]()~`>#+-=|{}.! 秸秆禁烧 \\*",
    "SQL-looking": "'; DROP TABLE clauses; -- 扬尘\" OR 1=1",
    "FTS-looking": "秸秆 OR 禁烧 NEAR(扬尘 噪声) AND NOT * ^",
    "one 5,000-character token": "秸" * 5000,
    "mixed scripts": "Who管 扬尘 ДымПыль 123 ابج 한국어 日本語のゴミ",
    "lone surrogates escaped": "\\ud800 扬尘 \\udfff",
}


@pytest.fixture(scope="module")
def battery_record(reliability: Recorder) -> Recorder:
    return reliability


@pytest.mark.parametrize("name", list(BATTERY))
def test_ask_answers_or_explains_every_battery_input(
    kb: KnowledgeBase, name: str, battery_record: Recorder
) -> None:
    result = kb.ask(BATTERY[name])
    json.dumps(result.to_json(), ensure_ascii=False)
    assert result.outcome in ("answered", "refused", "no_topic", "duties")
    if result.no_answer:
        assert result.message
    for message in render_html.answer_messages(result, question_id=1, compact=False):
        plain, _ = parse_html(message.text)
        assert plain.strip() and utf16_len(plain) <= render_html.MESSAGE_LIMIT
    assert reply(kb, BATTERY[name])
    battery_record.record("Bad input", "battery through ask, the renderer and the console", 1, 1)


def test_cli_answers_every_battery_input_with_valid_json(real_db: object, reliability: Recorder) -> None:
    questions = [q for q in BATTERY.values() if "\x00" not in q]
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "--db", str(real_db), *questions],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(questions)
    assert all("no_answer" in json.loads(line) for line in lines)
    assert "Traceback" not in proc.stderr
    reliability.record(
        "Bad input",
        "battery through the CLI (`ask --json`): exit 0, one valid JSON line each",
        len(questions),
        len(lines),
    )


def test_cli_reads_invalid_utf8_and_nul_on_stdin(real_db: object, reliability: Recorder) -> None:
    # invalid bytes then 秸; NUL around 秸秆禁烧; an overlong sequence then 扬尘
    data = (
        b"\xff\xfe\xfa\xe7\xa7\xb8\n"
        + b"\x00"
        + "秸秆禁烧".encode()
        + b"\x00\n"
        + b"\xc3\x28 "
        + "扬尘".encode()
        + b"\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "--db", str(real_db)],
        cwd=ROOT,
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode("utf-8").splitlines()
    assert len(lines) == 3 and all("no_answer" in json.loads(line) for line in lines)
    reliability.record("Bad input", "invalid UTF-8 and NUL on stdin (CLI)", 3, len(lines))


def test_console_survives_invalid_utf8(real_db: object, reliability: Recorder) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--db", str(real_db)],
        cwd=ROOT,
        input=b"\xff\xfe bad\n\xe6\x89\xac\xe5\xb0\x98\n",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    assert "扬尘" in proc.stdout.decode("utf-8") or "住" in proc.stdout.decode("utf-8")
    reliability.record("Bad input", "invalid UTF-8 in the console chat", 1, 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_ask_never_raises_for_any_string(kb: KnowledgeBase, reliability: Recorder, text: str) -> None:
    result = kb.ask(text)
    json.dumps(result.to_json(), ensure_ascii=False)
    for message in render_html.answer_messages(result, question_id=7):
        plain, _ = parse_html(message.text)
        assert utf16_len(plain) <= render_html.MESSAGE_LIMIT
    reliability.record("Bad input", "Hypothesis: ask never raises and renders valid HTML, any string", 1, 1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_duties_never_raise_for_any_name(kb: KnowledgeBase, reliability: Recorder, name: str) -> None:
    result = kb.duties(name)
    json.dumps(result.to_json(), ensure_ascii=False)
    rendered = render_html.duties_message(result, 0)
    parse_html(rendered.text)
    reliability.record("Bad input", "Hypothesis: duties never raise and render valid HTML, any name", 1, 1)
