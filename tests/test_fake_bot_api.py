"""The fake Telegram Bot API answers and refuses like Telegram: checked over HTTP with httpx and with PTB."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter

from tests import telegram_updates as tu
from tests.fake_bot_api import BOT_ID, FakeBotAPI, parse_html

TOKEN = "123456:unit-test-token"
USER = 4242
GROUP = -1001234567890


@pytest.fixture()
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture()
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def api_call(fake: FakeBotAPI, client: httpx.Client, method: str, **params: Any) -> httpx.Response:
    """POST as PTB does: form fields, nested objects as JSON text."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return client.post(fake.url(TOKEN, method), data=data)


def known_chat(fake: FakeBotAPI, chat_id: int = USER) -> dict[str, Any]:
    """Make the chat known to the fake, as a message from the user would; returns that message."""
    update = (
        tu.private_message(chat_id, chat_id, "你好")
        if chat_id > 0
        else tu.group_message(chat_id, USER, "你好")
    )
    fake.push_update(update)
    return tu.message_of(update)


def send(fake: FakeBotAPI, client: httpx.Client, text: str, **params: Any) -> httpx.Response:
    return api_call(fake, client, "sendMessage", chat_id=USER, text=text, **params)


# --------------------------------------------------------------------------------------------- basics


def test_get_me_describes_the_test_bot(fake: FakeBotAPI, client: httpx.Client) -> None:
    body = api_call(fake, client, "getMe").json()
    assert body["ok"] is True
    me = body["result"]
    assert me["id"] == BOT_ID
    assert me["username"] == "shuiguan_test_bot"
    assert me["first_name"] == "谁管"
    assert me["can_join_groups"] is True
    assert me["can_read_all_group_messages"] is False
    assert me["supports_inline_queries"] is True
    assert fake.tokens == [TOKEN]
    assert fake.calls == [("getMe", {})]


def test_base_url_is_loopback_and_ptb_shaped(fake: FakeBotAPI) -> None:
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/bot"


def test_unknown_method_and_bad_path_are_404(fake: FakeBotAPI, client: httpx.Client) -> None:
    response = api_call(fake, client, "sendTelepathy", chat_id=USER)
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert client.get(f"http://127.0.0.1:{fake.port}/nothing").status_code == 404


def test_method_names_are_case_insensitive(fake: FakeBotAPI, client: httpx.Client) -> None:
    assert api_call(fake, client, "getme").json()["ok"] is True
    assert fake.calls[0][0] == "getMe"


def test_json_and_multipart_bodies_are_parsed(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    markup = {"inline_keyboard": [[{"text": "👍", "callback_data": "f:1:up"}]]}
    as_json = client.post(
        fake.url(TOKEN, "sendMessage"), json={"chat_id": USER, "text": "甲", "reply_markup": markup}
    )
    assert as_json.json()["result"]["reply_markup"] == markup
    as_multipart = client.post(
        fake.url(TOKEN, "sendMessage"),
        data={"chat_id": str(USER), "text": "乙", "reply_markup": json.dumps(markup)},
        files={"document": ("a.txt", b"x")},
    )
    body = as_multipart.json()
    assert body["ok"] is True, body
    assert body["result"]["text"] == "乙"
    assert body["result"]["reply_markup"] == markup
    assert fake.records[-1].files == {"document": b"x"}
    assert fake.records[-1].params["chat_id"] == USER


# ------------------------------------------------------------------------------------------------ HTML


@pytest.mark.parametrize(
    "text",
    [
        "<b>x",
        "a < b",
        "<script>alert(1)</script>",
        "a > b",
        "AT&T",
        "&nbsp;",
        "<b><i>x</b></i>",
        "x</b>",
        "<span>x</span>",
        "<br>",
        "<a href='https://example.org'>x",
        "<code><b>x</b></code>",
    ],
)
def test_malformed_html_is_rejected(fake: FakeBotAPI, client: httpx.Client, text: str) -> None:
    known_chat(fake)
    response = send(fake, client, text, parse_mode="HTML")
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert body["error_code"] == 400
    assert body["description"].startswith("Bad Request: can't parse entities: "), body
    assert fake.sent_messages() == []
    assert fake.errors[-1].status == 400


def test_valid_html_is_accepted_and_parsed(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    body = send(fake, client, "<b>A&amp;B</b>", parse_mode="HTML").json()
    assert body["ok"] is True, body
    message = body["result"]
    assert message["text"] == "A&B"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 3}]
    assert message["from"]["id"] == BOT_ID
    assert message["chat"] == {
        "id": USER,
        "type": "private",
        "first_name": f"用户{USER}",
        "username": f"user{USER}",
    }
    assert isinstance(message["date"], int)


@pytest.mark.parametrize(
    ("html", "plain"),
    [
        ("<b>A&amp;B</b>", "A&B"),
        ("&lt;tag&gt; &quot;q&quot; &#39;s&#x27;", "<tag> \"q\" 's'"),
        ('<a href="https://example.org/?a=1&amp;b=2">链接</a>', "链接"),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ("<blockquote expandable>《条例》第一条</blockquote>", "《条例》第一条"),
        ('<tg-spoiler>秘</tg-spoiler><span class="tg-spoiler">密</span>', "秘密"),
        (
            "<strong>粗</strong><em>斜</em><ins>下</ins><strike>删</strike><del>除</del><s>线</s>",
            "粗斜下删除线",
        ),
        ("<B>upper</B>", "upper"),
        ("  <i> padded </i>  ", "padded"),
    ],
)
def test_html_variants_parse_to_plain_text(html: str, plain: str) -> None:
    from tests.fake_bot_api import parse_text

    assert parse_text(html, "HTML")[0] == plain


def test_html_entity_offsets_count_utf16_units() -> None:
    text, entities = parse_html("😀<b>谁管</b>")
    assert text == "😀谁管"
    assert entities == [{"type": "bold", "offset": 2, "length": 2}]


def test_link_and_pre_language_entities() -> None:
    _, entities = parse_html(
        '<a href="https://a.cn/?x=1&amp;y=2">a</a><pre><code class="language-py">b</code></pre>'
    )
    assert entities == [
        {"type": "text_link", "offset": 0, "length": 1, "url": "https://a.cn/?x=1&y=2"},
        {"type": "pre", "offset": 1, "length": 1, "language": "py"},
    ]


def test_text_empty_after_parsing_is_rejected(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    for text in ("<b> </b>", "   "):
        body = send(fake, client, text, parse_mode="HTML").json()
        assert body["description"] == "Bad Request: message text is empty"
    assert api_call(fake, client, "sendMessage", chat_id=USER).json()["description"] == (
        "Bad Request: message text is empty"
    )


def test_markdown_v2_reserved_characters_must_be_escaped(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    bad = send(fake, client, "第1.2条", parse_mode="MarkdownV2").json()
    assert bad["description"].startswith("Bad Request: can't parse entities: Character '.' is reserved")
    good = send(fake, client, "*第1\\.2条*", parse_mode="MarkdownV2").json()
    assert good["result"]["text"] == "第1.2条"
    assert good["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 5}]


# ---------------------------------------------------------------------------------------------- limits


def test_message_length_limit_is_4096_utf16_units(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    assert send(fake, client, "谁" * 4096).json()["ok"] is True
    too_long = send(fake, client, "谁" * 4097)
    assert too_long.status_code == 400
    assert too_long.json()["description"] == "Bad Request: message is too long"
    # An emoji is two UTF-16 units; markup does not count, only the parsed text.
    assert send(fake, client, "😀" * 2048).json()["ok"] is True
    assert send(fake, client, "😀" * 2049).json()["description"] == "Bad Request: message is too long"
    assert send(fake, client, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML").json()["ok"] is True


def keyboard(data: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": "按钮", "callback_data": data}]]}


def test_callback_data_limit_is_64_bytes(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    assert send(fake, client, "x", reply_markup=keyboard("a" * 64)).json()["ok"] is True
    assert send(fake, client, "x", reply_markup=keyboard("反" * 21)).json()["ok"] is True  # 63 bytes
    for data in ("a" * 65, "反" * 22, ""):
        response = send(fake, client, "x", reply_markup=keyboard(data))
        assert response.status_code == 400
        assert response.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"


def test_inline_buttons_need_an_action(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    markup = {"inline_keyboard": [[{"text": "只有文字"}]]}
    body = send(fake, client, "x", reply_markup=markup).json()
    assert body["description"] == "Bad Request: text buttons are unallowed in the inline keyboard"
    bad_url = {"inline_keyboard": [[{"text": "链接", "url": "javascript:alert(1)"}]]}
    assert (
        send(fake, client, "x", reply_markup=bad_url).json()["description"]
        == "Bad Request: BUTTON_URL_INVALID"
    )


def test_unknown_chat_is_not_found(fake: FakeBotAPI, client: httpx.Client) -> None:
    body = send(fake, client, "hello").json()
    assert body == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}


# -------------------------------------------------------------------------------------------- messages


def test_message_ids_increase_per_chat_and_replies_are_checked(
    fake: FakeBotAPI, client: httpx.Client
) -> None:
    asked = known_chat(fake)
    known_chat(fake, GROUP)
    first = send(fake, client, "一").json()["result"]
    second = send(fake, client, "二", reply_parameters={"message_id": asked["message_id"]}).json()["result"]
    in_group = api_call(fake, client, "sendMessage", chat_id=GROUP, text="三").json()["result"]
    assert second["message_id"] == first["message_id"] + 1
    assert in_group["message_id"] == 1
    assert second["reply_to_message"]["message_id"] == asked["message_id"]
    missing = send(fake, client, "四", reply_parameters={"message_id": 999})
    assert missing.json()["description"] == "Bad Request: message to be replied not found"
    lenient = send(
        fake, client, "五", reply_parameters={"message_id": 999, "allow_sending_without_reply": True}
    )
    assert "reply_to_message" not in lenient.json()["result"]
    assert [m["text"] for m in fake.sent_messages(USER)] == ["一", "二", "五"]
    assert [m["text"] for m in fake.sent_messages(GROUP)] == ["三"]


def test_thread_id_is_echoed_in_forum(fake: FakeBotAPI, client: httpx.Client) -> None:
    fake.push_update(tu.group_message(GROUP, USER, "/help", thread_id=77, is_forum=True))
    body = api_call(fake, client, "sendMessage", chat_id=GROUP, text="x", message_thread_id=77).json()
    assert body["result"]["message_thread_id"] == 77
    assert body["result"]["is_topic_message"] is True


def test_edit_message_text(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    markup = keyboard("p:2")
    sent = send(fake, client, "第一页", reply_markup=markup).json()["result"]
    ids = {"chat_id": USER, "message_id": sent["message_id"]}
    same = api_call(fake, client, "editMessageText", text="第一页", reply_markup=markup, **ids)
    assert same.status_code == 400
    assert same.json()["description"].startswith("Bad Request: message is not modified: ")
    edited = api_call(fake, client, "editMessageText", text="第二页", reply_markup=markup, **ids).json()
    assert edited["ok"] is True
    assert edited["result"]["text"] == "第二页"
    assert edited["result"]["message_id"] == sent["message_id"]
    assert "edit_date" in edited["result"]
    assert fake.message(USER, sent["message_id"])["text"] == "第二页"  # type: ignore[index]
    # Only the markup differs: that is a modification.
    assert api_call(fake, client, "editMessageText", text="第二页", **ids).json()["ok"] is True
    missing = api_call(fake, client, "editMessageText", chat_id=USER, message_id=424242, text="x").json()
    assert missing["description"] == "Bad Request: message to edit not found"
    users = api_call(
        fake, client, "editMessageText", chat_id=USER, message_id=fake_user_message_id(fake), text="x"
    )
    assert users.json()["description"] == "Bad Request: message can't be edited"


def fake_user_message_id(fake: FakeBotAPI) -> int:
    update = fake.pending_updates[0]
    return int(update["message"]["message_id"])


def test_edit_message_reply_markup(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    sent = send(fake, client, "x", reply_markup=keyboard("a")).json()["result"]
    ids = {"chat_id": USER, "message_id": sent["message_id"]}
    same = api_call(fake, client, "editMessageReplyMarkup", reply_markup=keyboard("a"), **ids).json()
    assert same["description"].startswith("Bad Request: message is not modified")
    removed = api_call(fake, client, "editMessageReplyMarkup", **ids).json()
    assert "reply_markup" not in removed["result"]


# ---------------------------------------------------------------------------------- queries, commands


def test_answer_callback_query(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    sent = send(fake, client, "x", reply_markup=keyboard("f:1:up")).json()["result"]
    update = tu.callback_query(USER, sent, "f:1:up")
    query_id = update["callback_query"]["id"]
    fake.push_update(update)
    too_long = api_call(fake, client, "answerCallbackQuery", callback_query_id=query_id, text="谢" * 201)
    assert too_long.status_code == 400
    ok = api_call(fake, client, "answerCallbackQuery", callback_query_id=query_id, text="谢" * 200)
    assert ok.json() == {"ok": True, "result": True}
    again = api_call(fake, client, "answerCallbackQuery", callback_query_id=query_id).json()
    assert again["description"].startswith("Bad Request: query is too old")
    unknown = api_call(fake, client, "answerCallbackQuery", callback_query_id="nope").json()
    assert unknown["ok"] is False


def article(i: int, text: str = "《条例》第一条") -> dict[str, Any]:
    return {
        "type": "article",
        "id": f"r{i}",
        "title": f"结果{i}",
        "input_message_content": {"message_text": text, "parse_mode": "HTML"},
    }


def test_answer_inline_query(fake: FakeBotAPI, client: httpx.Client) -> None:
    queries = [tu.inline_query(USER, "秸秆") for _ in range(5)]
    ids = [q["inline_query"]["id"] for q in queries]
    for q in queries:
        fake.push_update(q)

    def answer(query_id: str, results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        response = api_call(
            fake, client, "answerInlineQuery", inline_query_id=query_id, results=results, **extra
        )
        body: dict[str, Any] = response.json()
        return body

    assert answer(ids[0], [article(i) for i in range(51)])["description"] == "Bad Request: RESULTS_TOO_MUCH"
    assert answer(ids[0], [article(1), article(1)])["description"] == "Bad Request: RESULT_ID_DUPLICATE"
    bad_html = answer(ids[0], [article(1, "<b>x")])
    assert bad_html["description"].startswith("Bad Request: can't parse entities")
    bad_param = answer(ids[0], [], button={"text": "帮助", "start_parameter": "帮助"})
    assert bad_param["description"] == "Bad Request: START_PARAM_INVALID"
    assert answer(ids[0], [article(i) for i in range(50)]) == {"ok": True, "result": True}
    assert answer(ids[0], [])["description"].startswith("Bad Request: query is too old")
    assert answer(ids[1], [], button={"text": "使用说明", "start_parameter": "help"})["ok"] is True
    last = fake.wait_for("answerInlineQuery", lambda p: p["inline_query_id"] == ids[1])
    assert last["button"] == {"text": "使用说明", "start_parameter": "help"}
    assert last["results"] == []


def test_commands_are_validated_and_stored_per_scope(fake: FakeBotAPI, client: httpx.Client) -> None:
    commands = [
        {"command": "ask", "description": "问：谁管？"},
        {"command": "dept", "description": "部门职责"},
    ]
    assert api_call(fake, client, "setMyCommands", commands=commands).json()["result"] is True
    group_scope = {"type": "all_group_chats"}
    assert api_call(fake, client, "setMyCommands", commands=commands[:1], scope=group_scope).json()["ok"]
    assert api_call(fake, client, "getMyCommands").json()["result"] == commands
    assert api_call(fake, client, "getMyCommands", scope=group_scope).json()["result"] == commands[:1]
    bad = api_call(fake, client, "setMyCommands", commands=[{"command": "Ask", "description": "x"}]).json()
    assert bad["description"] == "Bad Request: BOT_COMMAND_INVALID"
    assert api_call(fake, client, "deleteMyCommands").json()["result"] is True
    assert api_call(fake, client, "getMyCommands").json()["result"] == []


def test_chat_scoped_commands_need_a_known_chat(fake: FakeBotAPI, client: httpx.Client) -> None:
    commands = [{"command": "stats", "description": "使用统计"}]
    scope = {"type": "chat", "chat_id": 111}
    unknown = api_call(fake, client, "setMyCommands", commands=commands, scope=scope).json()
    assert unknown["description"] == "Bad Request: chat not found"
    fake.add_chat(tu.private_chat(111))
    assert api_call(fake, client, "setMyCommands", commands=commands, scope=scope).json()["result"] is True
    assert api_call(fake, client, "getMyCommands", scope=scope).json()["result"] == commands


def test_chat_action_menu_button_and_get_chat(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake, GROUP)
    assert api_call(fake, client, "sendChatAction", chat_id=GROUP, action="typing").json()["result"] is True
    assert api_call(fake, client, "sendChatAction", chat_id=GROUP, action="dancing").json()["ok"] is False
    assert api_call(fake, client, "setChatMenuButton", menu_button={"type": "commands"}).json()["ok"]
    chat = api_call(fake, client, "getChat", chat_id=GROUP).json()["result"]
    assert chat["type"] == "supergroup"
    assert (
        api_call(fake, client, "getChat", chat_id=-5).json()["description"] == "Bad Request: chat not found"
    )
    for method in ("deleteWebhook", "close", "logOut"):
        assert api_call(fake, client, method).json() == {"ok": True, "result": True}


# ------------------------------------------------------------------------------------ injected faults


def test_injected_429_then_success(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    first = send(fake, client, "答案")
    assert first.status_code == 429
    assert first.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    # Like Telegram, retrying inside the flood-wait window is refused again.
    assert send(fake, client, "答案").status_code == 429
    time.sleep(1.1)
    assert send(fake, client, "答案").json()["ok"] is True
    assert [c.status for c in fake.records if c.method == "sendMessage"] == [429, 429, 200]
    assert fake.count("sendMessage", ok=True) == 1
    assert len(fake.sent_messages()) == 1


def test_injected_server_errors_and_times(fake: FakeBotAPI, client: httpx.Client) -> None:
    fake.fail_next("getMe", 502, "Bad Gateway", times=2)
    assert api_call(fake, client, "getMe").status_code == 502
    assert api_call(fake, client, "getMe").json()["description"] == "Bad Gateway"
    assert api_call(fake, client, "getMe").status_code == 200
    assert [c.injected for c in fake.records] == [True, True, False]


def test_drop_next_closes_the_connection(fake: FakeBotAPI, client: httpx.Client) -> None:
    fake.drop_next("getMe")
    with pytest.raises(httpx.RemoteProtocolError):
        api_call(fake, client, "getMe")
    assert api_call(fake, client, "getMe").json()["ok"] is True
    assert [c.status for c in fake.records] == [0, 200]
    assert fake.errors[0].description == "(connection dropped)"


# ------------------------------------------------------------------------------------------ getUpdates


def test_get_updates_confirms_below_offset(fake: FakeBotAPI, client: httpx.Client) -> None:
    ids = [fake.push_update(tu.private_message(USER, USER, f"问题{i}")) for i in range(3)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3

    def get(**params: Any) -> list[dict[str, Any]]:
        return api_call(fake, client, "getUpdates", **params).json()["result"]  # type: ignore[no-any-return]

    assert [u["update_id"] for u in get()] == ids
    assert [u["update_id"] for u in get()] == ids  # not confirmed yet: delivered again
    assert [u["update_id"] for u in get(limit=1)] == ids[:1]
    assert [u["update_id"] for u in get(offset=ids[1])] == ids[1:]
    assert [u["update_id"] for u in fake.pending_updates] == ids[1:]
    assert get(offset=ids[2] + 1, timeout=0) == []
    assert fake.pending_updates == []
    assert get(timeout=0) == []
    later = fake.push_update(tu.private_message(USER, USER, "再问"))
    assert [u["update_id"] for u in get(offset=ids[2] + 1)] == [later]


def test_get_updates_honours_allowed_updates(fake: FakeBotAPI, client: httpx.Client) -> None:
    fake.push_update(tu.inline_query(USER, "秸秆"))
    message_id = fake.push_update(tu.private_message(USER, USER, "你好"))
    body = api_call(fake, client, "getUpdates", allowed_updates=["message"]).json()
    assert [u["update_id"] for u in body["result"]] == [message_id]
    assert len(fake.undelivered) == 1


def test_long_poll_is_bounded_to_one_second(fake: FakeBotAPI, client: httpx.Client) -> None:
    started = time.monotonic()
    body = api_call(fake, client, "getUpdates", timeout=30).json()
    elapsed = time.monotonic() - started
    assert body == {"ok": True, "result": []}
    assert 0.8 <= elapsed < 2.5
    started = time.monotonic()
    assert api_call(fake, client, "getUpdates", timeout=0).json()["result"] == []
    assert time.monotonic() - started < 0.5


def test_long_poll_wakes_up_for_a_new_update(fake: FakeBotAPI, client: httpx.Client) -> None:
    timer = threading.Timer(0.2, lambda: fake.push_update(tu.private_message(USER, USER, "来了")))
    timer.start()
    try:
        started = time.monotonic()
        body = api_call(fake, client, "getUpdates", timeout=10).json()
        elapsed = time.monotonic() - started
    finally:
        timer.join()
    assert [u["message"]["text"] for u in body["result"]] == ["来了"]
    assert elapsed < 0.9


def test_delete_webhook_can_drop_pending_updates(fake: FakeBotAPI, client: httpx.Client) -> None:
    fake.push_update(tu.private_message(USER, USER, "旧消息"))
    assert api_call(fake, client, "deleteWebhook", drop_pending_updates=True).json()["result"] is True
    assert fake.pending_updates == []


# ------------------------------------------------------------------------------------ test controls


def test_wait_for_consumes_and_times_out_with_the_calls_seen(fake: FakeBotAPI, client: httpx.Client) -> None:
    known_chat(fake)
    send(fake, client, "一")
    send(fake, client, "二")
    assert fake.wait_for("sendMessage")["text"] == "一"
    assert fake.wait_for("sendMessage")["text"] == "二"
    with pytest.raises(AssertionError, match=r"no sendMessage call matching within 0\.2s(.|\n)*二"):
        fake.wait_for("sendMessage", timeout=0.2)
    send(fake, client, "三")
    assert fake.wait_for("sendMessage", lambda p: p["text"] == "三", timeout=1)["chat_id"] == USER
    started = time.monotonic()
    fake.assert_no_call("sendMessage", within=0.3)
    assert time.monotonic() - started >= 0.3
    send(fake, client, "四")
    with pytest.raises(AssertionError, match="unexpected call"):
        fake.assert_no_call("sendMessage", within=0.1)


def test_wait_for_sees_calls_made_from_another_thread(fake: FakeBotAPI) -> None:
    known_chat(fake)

    def later() -> None:
        time.sleep(0.2)
        with httpx.Client() as c:
            c.post(fake.url(TOKEN, "sendMessage"), data={"chat_id": str(USER), "text": "迟到"})

    thread = threading.Thread(target=later)
    thread.start()
    try:
        assert fake.wait_for("sendMessage", timeout=5)["text"] == "迟到"
    finally:
        thread.join()


def test_stop_ends_a_pending_long_poll_quickly() -> None:
    api = FakeBotAPI().start()
    url = api.url(TOKEN, "getUpdates")
    outcome: list[str] = []

    def poll() -> None:
        with httpx.Client(timeout=5) as c:
            for _ in range(50):  # bounded: each poll lasts at most a second
                try:
                    c.post(url, data={"timeout": "1"})
                except httpx.HTTPError as exc:
                    outcome.append(type(exc).__name__)
                    return
        outcome.append("still answering")

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    api.stop()
    assert time.monotonic() - started < 3
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert outcome and outcome != ["still answering"]


# ------------------------------------------------------------------------ update builders, via PTB


def test_builders_make_updates_ptb_understands() -> None:
    command = tu.group_message(
        GROUP, USER, "/ask@shuiguan_test_bot 秸秆禁烧归谁管", thread_id=77, is_forum=True
    )
    update = Update.de_json({"update_id": 1, **command}, None)
    message = update.message
    assert message is not None
    assert message.chat.type == "supergroup"
    assert message.chat.is_forum is True
    assert message.message_thread_id == 77
    assert message.is_topic_message is True
    commands = message.parse_entities(["bot_command"])
    assert list(commands.values()) == ["/ask@shuiguan_test_bot"]
    assert message.reply_to_message is not None  # the topic's creation message, as in Telegram
    assert message.reply_to_message.forum_topic_created is not None

    mention = Update.de_json(
        {"update_id": 2, **tu.group_message(GROUP, USER, "😀 @shuiguan_test_bot 扬尘归谁管")}, None
    )
    assert mention.message is not None
    assert list(mention.message.parse_entities(["mention"]).values()) == ["@shuiguan_test_bot"]
    assert mention.message.entities[0].offset == 3  # the emoji is two UTF-16 units

    photo = Update.de_json({"update_id": 3, **tu.photo_message(USER, USER)}, None)
    assert photo.message is not None
    assert photo.message.photo
    assert photo.message.text is None
    assert photo.message.chat.type == "private"

    private = tu.private_message(USER, USER, "/start help")
    parsed = Update.de_json({"update_id": 4, **private}, None)
    assert parsed.message is not None
    assert parsed.message.text == "/start help"
    assert list(parsed.message.parse_entities().values()) == ["/start"]
    assert tu.private_message(USER, USER, "工地扬尘归谁管")["message"].get("entities") is None

    reply = tu.group_message(GROUP, USER, "那噪声呢", reply_to=tu.message_of(command))
    parsed_reply = Update.de_json({"update_id": 5, **reply}, None)
    assert parsed_reply.message is not None
    assert parsed_reply.message.reply_to_message is not None
    assert parsed_reply.message.reply_to_message.message_id == command["message"]["message_id"]

    query = Update.de_json(
        {"update_id": 6, **tu.callback_query(USER, tu.message_of(private), "f:1:up")}, None
    )
    assert query.callback_query is not None
    assert query.callback_query.data == "f:1:up"
    assert query.callback_query.message is not None
    inline = Update.de_json({"update_id": 7, **tu.inline_query(USER, "")}, None)
    assert inline.inline_query is not None
    assert inline.inline_query.query == ""


def test_builder_message_ids_are_unique() -> None:
    ids = {tu.message_of(tu.private_message(USER, USER, "x"))["message_id"] for _ in range(100)}
    assert len(ids) == 100


async def test_ptb_bot_talks_to_the_fake(fake: FakeBotAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB 22 warns on int retry_after otherwise
    asked = known_chat(fake)
    fake.push_update(tu.inline_query(USER, "秸秆"))
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        assert bot.username == "shuiguan_test_bot"
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("👍 有用", callback_data="f:1:up")]])
        sent = await bot.send_message(
            USER,
            "<b>住房和城乡建设部门</b> 《条例》",
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            reply_parameters=ReplyParameters(asked["message_id"]),
        )
        assert isinstance(sent, Message)
        assert sent.text == "住房和城乡建设部门 《条例》"
        assert sent.reply_markup == markup
        assert sent.reply_to_message is not None
        params = fake.wait_for("sendMessage")
        assert params["reply_parameters"] == {"message_id": asked["message_id"]}
        assert params["reply_markup"] == markup.to_dict()
        assert params["chat_id"] == USER

        edited = await bot.edit_message_text("第二页", chat_id=USER, message_id=sent.message_id)
        assert isinstance(edited, Message)
        assert edited.text == "第二页"
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("第二页", chat_id=USER, message_id=sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(USER, "1 < 2", parse_mode=ParseMode.HTML)

        updates = await bot.get_updates(timeout=0)
        inline = next(u.inline_query for u in updates if u.inline_query)
        await bot.answer_inline_query(
            inline.id,
            [InlineQueryResultArticle("1", "农牧业部门", InputTextMessageContent("《条例》第三条"))],
            button=InlineQueryResultsButton("使用说明", start_parameter="help"),
        )
        answered = fake.wait_for("answerInlineQuery")
        assert answered["results"][0]["input_message_content"]["message_text"] == "《条例》第三条"
        assert answered["button"]["start_parameter"] == "help"

        await bot.set_my_commands([BotCommand("ask", "谁管？"), BotCommand("dept", "部门职责")])
        assert [c.command for c in await bot.get_my_commands()] == ["ask", "dept"]
        chat = await bot.get_chat(USER)
        assert chat.id == USER

        fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(USER, "稍后")
        assert caught.value.retry_after == dt.timedelta(seconds=1)
