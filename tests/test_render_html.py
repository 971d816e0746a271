"""Rendering is pure: golden files pin real answers; properties hold for any text."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import callbacks, render_html
from knowledge.models import Answer, AnswerSet, Clause, DocumentInfo, Understanding
from knowledge.service import KnowledgeBase
from tests.fake_bot_api import parse_html, utf16_len
from tests.reliability import Recorder

GOLDEN = Path(__file__).parent / "golden"
DOC = DocumentInfo(
    "d", "某文件", "某办公厅", "2020-01-01", "某发〔2020〕1号", "某地", "prefecture", "duty_list"
)


def make_answer(text: str, department: str = "州公安局", partners: tuple[str, ...] = ()) -> Answer:
    clause = Clause(
        1,
        "d/1.1.1",
        DOC,
        "一、部门",
        "（一）" + department,
        1,
        None,
        department,
        "public_security",
        "公安机关",
        "block",
        "assist",
        partners,
        text,
        text,
    )
    return Answer(clause, 1.0, ())


def make_result(*answers: Answer) -> AnswerSet:
    understood = Understanding("q", "q", "", (), "", (), ("q",), (), (), ())
    return AnswerSet("q", understood, answers, "answered")


def assert_valid(text: str) -> None:
    plain, _ = parse_html(text)
    assert plain.strip()
    assert utf16_len(plain) <= render_html.MESSAGE_LIMIT


@pytest.mark.parametrize(
    ("name", "question", "compact"),
    [
        ("answer_private", "工地扬尘归谁管", False),
        ("answer_group", "秸秆禁烧归谁管", True),
        ("refusal", "哪个部门负责办理护照", False),
    ],
)
def test_golden_answers(kb: KnowledgeBase, name: str, question: str, compact: bool) -> None:
    messages = render_html.answer_messages(kb.ask(question), question_id=42, compact=compact)
    rendered = "\n---\n".join(m.text + "\n[buttons] " + repr(m.buttons) for m in messages)
    path = GOLDEN / f"{name}.html"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")
    for message in messages:
        assert_valid(message.text)


def test_golden_duties_first_page(kb: KnowledgeBase) -> None:
    rendered = render_html.duties_message(kb.duties("公安"), 0)
    path = GOLDEN / "duties_public_security.html"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered.text + "\n[buttons] " + repr(rendered.buttons), encoding="utf-8")
    assert rendered.text + "\n[buttons] " + repr(rendered.buttons) == path.read_text(encoding="utf-8")


def test_every_interpolated_string_is_escaped() -> None:
    text = render_html.answer_messages(
        make_result(make_answer("<script>&amp; a<b", "<i>州&局", ("<b>",))), question_id=1
    )[0].text
    assert_valid(text)
    assert "&lt;script&gt;&amp;amp; a&lt;b" in text and "&lt;i&gt;州&amp;局" in text


def test_a_very_long_clause_is_split_into_valid_messages() -> None:
    long_text = "加强环境保护工作，" * 400 + "。" + "依法查处违法行为。" * 300
    messages = render_html.answer_messages(
        make_result(make_answer(long_text), make_answer("短条款。")), question_id=7
    )
    assert len(messages) >= 2
    for message in messages:
        assert_valid(message.text)
    assert messages[-1].buttons, "buttons go on the last part"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=6000), st.text(min_size=1, max_size=60))
def test_any_clause_renders_to_valid_html_under_the_limit(
    reliability: Recorder, text: str, department: str
) -> None:
    for message in render_html.answer_messages(make_result(make_answer(text, department)), question_id=3):
        assert_valid(message.text)
        for row in message.buttons:
            for button in row:
                assert len(button.data.encode()) <= callbacks.MAX_BYTES
    reliability.record("Bad input", "Hypothesis: any clause text renders to valid HTML under 4096", 1, 1)


def test_every_duties_page_is_valid_and_buttons_page_through(kb: KnowledgeBase) -> None:
    result = kb.duties("环保局")
    pages = render_html.duties_pages(result)
    assert len(pages) > 1
    for page in range(len(pages)):
        rendered = render_html.duties_message(result, page)
        assert_valid(rendered.text)
        targets = [callbacks.parse(b.data) for row in rendered.buttons for b in row]
        assert all(isinstance(t, callbacks.DutiesPage) for t in targets)
        assert {t.page for t in targets if isinstance(t, callbacks.DutiesPage)} <= {page - 1, page + 1}


@pytest.mark.parametrize(
    "data", [callbacks.Feedback(12, True), callbacks.More(9), callbacks.DutiesPage("public_security", 3)]
)
def test_callback_data_round_trips(data: callbacks.Callback) -> None:
    assert callbacks.parse(data.encode()) == data


@pytest.mark.parametrize(
    "forged",
    [
        None,
        "",
        "f:1:2",
        "f:-1:1",
        "m:abc",
        "d:公安:1",
        "d:x:9999",
        "x" * 65,
        "f:1:1" + " " * 70,
        "d:public_security:1;drop",
    ],
)
def test_forged_or_oversized_callback_data_is_refused(forged: str | None, reliability: Recorder) -> None:
    assert callbacks.parse(forged) is None
    reliability.record("Bad input", "forged, stale and oversized callback data refused", 1, 1)
