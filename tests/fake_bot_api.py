"""A local fake of the Telegram Bot API over HTTP, for tests that run the real bot against it.

`FakeBotAPI` serves `http://127.0.0.1:PORT/bot<token>/<method>` from a background thread (stdlib
`ThreadingHTTPServer`), parses requests the way python-telegram-bot sends them (form fields whose nested
objects are JSON strings, multipart, or a JSON body), answers like Telegram (`{"ok": true, "result": …}`
or `{"ok": false, "error_code": …, "description": …}`) and validates what Telegram validates: HTML
entities, text length, callback data, inline results, command lists, "message is not modified" …

Tests drive it with `push_update` and observe with `calls`, `wait_for`, `sent_messages`; they inject
failures with `fail_next` (429 with retry_after, 5xx …), `fail_for` (the same for a few seconds, e.g. 409
Conflict on getUpdates as when two instances poll), `drop_next` (connection closed unanswered) and `hang_next`
(the request is held unanswered until the client gives up, bounded, then closed: nothing is done).
In webhook mode (`setWebhook`) getUpdates answers 409 as Telegram does, and `post_to_webhook` delivers an
update to the bot's webhook with or without the secret-token header.

Only loopback is used; long polls are bounded to one second; `stop()` ends every thread it started.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import math
import re
import select
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JSON = dict[str, Any]

BOT_ID = 7000001
BOT_USERNAME = "shuiguan_test_bot"
BOT_FIRST_NAME = "谁管"
BOT_USER: JSON = {"id": BOT_ID, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}

MAX_TEXT_UTF16 = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_CHARS = 200
MAX_INLINE_RESULTS = 50
LONG_POLL_CAP_SECONDS = 1.0

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def _words(text: str) -> list[str]:
    return text.split()


# Fields PTB sends as JSON text inside form fields (any Bot API method).
JSON_FIELDS = frozenset(
    _words(
        "reply_markup reply_parameters results commands link_preview_options button entities "
        "caption_entities allowed_updates scope menu_button reaction media message_ids options "
        "prices explanation_entities question_entities"
    )
)
INT_FIELDS = frozenset(
    _words(
        "chat_id from_chat_id message_id message_thread_id reply_to_message_id user_id offset limit "
        "timeout cache_time max_connections"
    )
)
BOOL_FIELDS = frozenset(
    _words(
        "disable_notification protect_content allow_paid_broadcast allow_sending_without_reply "
        "disable_web_page_preview drop_pending_updates is_personal show_alert is_big"
    )
)
UPDATE_TYPES_NOT_DELIVERED_BY_DEFAULT = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
CHAT_ACTIONS = frozenset(
    _words(
        "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
        "choose_sticker find_location record_video_note upload_video_note"
    )
)
INLINE_BUTTON_ACTIONS = tuple(
    _words(
        "url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat "
        "switch_inline_query_chosen_chat copy_text callback_game pay"
    )
)
INLINE_RESULT_TYPES = frozenset(
    _words("article photo gif mpeg4_gif video audio voice document location venue contact game sticker")
)
COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
START_PARAMETER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ApiError(Exception):
    """A Telegram error answer: `{"ok": false, "error_code": code, "description": description}`."""

    def __init__(self, description: str, code: int = 400, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class EntityParseError(ValueError):
    """Text with a parse_mode that Telegram would refuse; the message is Telegram's wording."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


# ---------------------------------------------------------------------------------------------- HTML

HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_END_TAG_RE = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_ATTR_NAME_RE = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,7}));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_entity(text: str, index: int) -> tuple[str, int] | None:
    """The character of the HTML entity at text[index] ('&') and the index after it, or None."""
    match = _ENTITY_RE.match(text, index)
    if not match:
        return None
    named, decimal, hexa = match.groups()
    if named:
        return _NAMED_ENTITIES[named], match.end()
    code = int(decimal) if decimal else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def _decode_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&" and (decoded := _decode_entity(value, i)):
            out.append(decoded[0])
            i = decoded[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


@dataclass
class _Open:
    tag: str
    offset: int
    attrs: dict[str, str]
    byte_offset: int
    language: str = ""


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Telegram's HTML parse mode: the plain text and its entities (UTF-16 offsets), or EntityParseError.

    Strict as documented: unsupported or badly nested tags, and any '<', '>' or '&' that is not part of a
    tag or of an entity (&lt; &gt; &amp; &quot; &#NN; &#xNN;) are errors.
    """
    out: list[str] = []
    offset = 0  # UTF-16 length of out
    stack: list[_Open] = []
    entities: list[JSON] = []
    i = 0
    n = len(text)

    def fail(message: str, index: int) -> EntityParseError:
        return EntityParseError(f"{message} at byte offset {_byte_offset(text, index)}")

    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_entity(text, i)
            if decoded is None:
                raise fail('Character "&" must be escaped as "&amp;" (not a valid HTML entity)', i)
            out.append(decoded[0])
            offset += utf16_len(decoded[0])
            i = decoded[1]
            continue
        if char == ">":
            raise fail('Character ">" must be escaped as "&gt;"', i)
        if char != "<":
            out.append(char)
            offset += utf16_len(char)
            i += 1
            continue
        # a tag
        if text.startswith("</", i):
            match = _END_TAG_RE.match(text, i)
            if not match:
                raise fail("Unclosed end tag", i)
            tag = match.group(1).lower()
            if not stack:
                raise fail(f'Unexpected end tag "{tag}"', i)
            if stack[-1].tag != tag:
                raise fail(f'Unmatched end tag, expected "</{stack[-1].tag}>", found "</{tag}>"', i)
            opened = stack.pop()
            _close_html_entity(opened, offset, stack, entities)
            i = match.end()
            continue
        name_match = _TAG_NAME_RE.match(text, i + 1)
        if not name_match:
            raise fail('Unsupported start tag "" (a "<" that is not a tag must be escaped as "&lt;")', i)
        tag = name_match.group(0).lower()
        if tag not in HTML_TAGS:
            raise fail(f'Unsupported start tag "{tag}"', i)
        attrs, end = _parse_attributes(text, name_match.end(), i, fail)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise fail('Tag "span" must have class "tg-spoiler"', i)
        if tag == "tg-emoji" and not attrs.get("emoji-id"):
            raise fail('Tag "tg-emoji" must have attribute "emoji-id"', i)
        if any(o.tag in ("code", "pre") for o in stack) and not (tag == "code" and stack[-1].tag == "pre"):
            raise fail(f'Tag "{tag}" can\'t be nested inside a "code" or "pre" entity', i)
        if tag == "blockquote" and any(o.tag == "blockquote" for o in stack):
            raise fail('Tag "blockquote" can\'t be nested in another blockquote', i)
        stack.append(_Open(tag, offset, attrs, _byte_offset(text, i)))
        i = end
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _parse_attributes(
    text: str, i: int, tag_start: int, fail: Callable[[str, int], EntityParseError]
) -> tuple[dict[str, str], int]:
    attrs: dict[str, str] = {}
    n = len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise fail("Unclosed start tag", tag_start)
        if text[i] == ">":
            return attrs, i + 1
        match = _ATTR_NAME_RE.match(text, i)
        if not match:
            raise fail("Expected equal sign or end of start tag", i)
        name = match.group(0).lower()
        i = match.end()
        while i < n and text[i].isspace():
            i += 1
        if i < n and text[i] == "=":
            i += 1
            while i < n and text[i].isspace():
                i += 1
            if i >= n:
                raise fail("Unclosed start tag", tag_start)
            if text[i] in "\"'":
                close = text.find(text[i], i + 1)
                if close < 0:
                    raise fail("Unclosed start tag", tag_start)
                value = text[i + 1 : close]
                i = close + 1
            else:
                start = i
                while i < n and not text[i].isspace() and text[i] != ">":
                    i += 1
                value = text[start:i]
            attrs[name] = _decode_attribute(value)
        else:
            attrs[name] = ""


def _close_html_entity(opened: _Open, end: int, stack: list[_Open], entities: list[JSON]) -> None:
    kind = HTML_TAGS[opened.tag]
    if opened.tag == "code" and stack and stack[-1].tag == "pre":
        cls = opened.attrs.get("class", "")
        if cls.startswith("language-"):
            stack[-1].language = cls.removeprefix("language-")
            return
    length = end - opened.offset
    if length <= 0:
        return
    entity: JSON = {"type": kind, "offset": opened.offset, "length": length}
    if kind == "text_link":
        url = opened.attrs.get("href", "")
        if not url:
            return
        if url.startswith("tg://user?id="):
            entity = {"type": "text_mention", "offset": opened.offset, "length": length}
            entity["user"] = {"id": int(url.split("=", 1)[1] or 0), "is_bot": False, "first_name": "?"}
        else:
            entity["url"] = url
    elif kind == "pre" and opened.language:
        entity["language"] = opened.language
    elif kind == "blockquote" and "expandable" in opened.attrs:
        entity["type"] = "expandable_blockquote"
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = opened.attrs["emoji-id"]
    entities.append(entity)


# ------------------------------------------------------------------------------------------ Markdown

MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Telegram's MarkdownV2: reserved characters outside entities must be escaped with '\\'."""
    out: list[str] = []
    offset = 0
    stack: list[tuple[str, int, int]] = []  # (kind, utf16 offset, index in text)
    entities: list[JSON] = []
    i = 0
    n = len(text)

    def emit(chars: str) -> None:
        nonlocal offset
        out.append(chars)
        offset += utf16_len(chars)

    def fail(message: str, index: int) -> EntityParseError:
        return EntityParseError(f"{message} at byte offset {_byte_offset(text, index)}")

    def close(kind: str, extra: JSON | None = None) -> None:
        _, start, _ = stack.pop()
        if offset > start:
            entities.append({"type": kind, "offset": start, "length": offset - start, **(extra or {})})

    markers = (("||", "spoiler"), ("__", "underline"), ("*", "bold"), ("_", "italic"), ("~", "strikethrough"))
    while i < n:
        char = text[i]
        top = stack[-1][0] if stack else ""
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            emit(text[i + 1])
            i += 2
            continue
        if top in ("code", "pre"):
            if top == "pre" and text.startswith("```", i):
                close("pre")
                i += 3
            elif top == "code" and char == "`":
                close("code")
                i += 1
            elif char == "`":
                raise fail("Character '`' is reserved and must be escaped with the preceding '\\'", i)
            else:
                emit(char)
                i += 1
            continue
        if char == "`":
            if text.startswith("```", i):
                newline = text.find("\n", i + 3)
                first_line = text[i + 3 : newline] if newline >= 0 else ""
                if newline >= 0 and re.fullmatch(r"[A-Za-z0-9_+#-]*", first_line):
                    i = newline + 1
                else:
                    i += 3
                stack.append(("pre", offset, i))
            else:
                stack.append(("code", offset, i))
                i += 1
            continue
        if char == "[":
            stack.append(("link", offset, i))
            i += 1
            continue
        if char == "]" and top == "link":
            if not text.startswith("(", i + 1):
                raise fail("Character ']' is reserved and must be escaped with the preceding '\\'", i)
            j = i + 2
            url: list[str] = []
            while j < n and text[j] != ")":
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                url.append(text[j])
                j += 1
            if j >= n:
                raise fail("Can't find end of a URL", i)
            close("text_link", {"url": "".join(url)})
            i = j + 1
            continue
        if char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # blockquote line marker
            continue
        matched = False
        for marker, kind in markers:
            if text.startswith(marker, i):
                if top == kind:
                    close(kind)
                elif any(k == kind for k, _, _ in stack):
                    raise fail(f"Can't find end of {kind} entity", stack[-1][2])
                else:
                    stack.append((kind, offset, i))
                i += len(marker)
                matched = True
                break
        if matched:
            continue
        if char in MARKDOWN_V2_RESERVED:
            raise fail(f"Character '{char}' is reserved and must be escaped with the preceding '\\'", i)
        emit(char)
        i += 1
    if stack:
        kind, _, index = stack[-1]
        raise fail(f"Can't find end of {kind} entity", index)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def parse_markdown_legacy(text: str) -> tuple[str, list[JSON]]:
    """Telegram's legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url); unclosed is an error."""
    out: list[str] = []
    offset = 0
    entities: list[JSON] = []
    i = 0
    n = len(text)
    kinds = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "*_`[":
            out.append(text[i + 1])
            offset += 1
            i += 2
            continue
        if text.startswith("```", i) or char in kinds or char == "[":
            marker = "```" if text.startswith("```", i) else char
            closing = "]" if marker == "[" else marker
            end = text.find(closing, i + len(marker))
            if end < 0:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            inner = text[i + len(marker) : end]
            extra: JSON = {}
            after = end + len(closing)
            if marker == "[":
                if text.startswith("(", after) and (paren := text.find(")", after)) >= 0:
                    extra["url"] = text[after + 1 : paren]
                    after = paren + 1
                kind = "text_link" if extra else ""
            else:
                kind = "pre" if marker == "```" else kinds[marker]
            if kind and inner:
                entities.append({"type": kind, "offset": offset, "length": utf16_len(inner), **extra})
            out.append(inner)
            offset += utf16_len(inner)
            i = after
            continue
        out.append(char)
        offset += utf16_len(char)
        i += 1
    return "".join(out), entities


def strip_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram trims leading and trailing whitespace of a message and clips entities to what remains."""
    stripped = text.strip()
    if not stripped:
        return "", []
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    clipped: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return stripped, clipped


def parse_text(text: Any, parse_mode: Any, entities: Any = None) -> tuple[str, list[JSON]]:
    """What Telegram stores for `text` (+ `parse_mode` or `entities`): plain text and entities, or ApiError."""
    if not isinstance(text, str) or not text:
        raise ApiError("Bad Request: message text is empty")
    mode = (parse_mode or "").strip() if isinstance(parse_mode, str) else ""
    try:
        if not mode:
            plain, found = text, list(entities) if isinstance(entities, list) else []
        elif mode.lower() == "html":
            plain, found = parse_html(text)
        elif mode.lower() == "markdownv2":
            plain, found = parse_markdown_v2(text)
        elif mode.lower() == "markdown":
            plain, found = parse_markdown_legacy(text)
        else:
            raise ApiError(f"Bad Request: unsupported parse_mode {mode!r}")
    except EntityParseError as exc:
        raise ApiError(f"Bad Request: can't parse entities: {exc}") from None
    plain, found = strip_text(plain, found)
    if not plain:
        raise ApiError("Bad Request: message text is empty")
    if utf16_len(plain) > MAX_TEXT_UTF16:
        raise ApiError("Bad Request: message is too long")
    return plain, found


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> JSON | None:
    """The markup as Telegram keeps it (inline keyboards only are echoed back), or ApiError."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError("Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(
                'Bad Request: can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays'
            )
        if sum(len(row) for row in rows) > 100:
            raise ApiError("Bad Request: reply markup is too long")
        for row in rows:
            for button in row:
                _validate_inline_button(button)
        return {"inline_keyboard": [[dict(b) for b in row] for row in rows if row]}
    if inline_only:
        raise ApiError("Bad Request: inline keyboard expected")
    if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
        return None  # valid, but Telegram does not echo reply keyboards in Message.reply_markup
    raise ApiError("Bad Request: can't parse reply keyboard markup JSON object")


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise ApiError(
            "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not isinstance(button.get("text"), str) or not button["text"].strip():
        raise ApiError("Bad Request: BUTTON_TEXT_INVALID")
    actions = [key for key in INLINE_BUTTON_ACTIONS if key in button]
    if not actions:
        raise ApiError("Bad Request: text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise ApiError(f"Bad Request: can't parse inline keyboard button: more than one of {actions}")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            raise ApiError("Bad Request: BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
            raise ApiError("Bad Request: BUTTON_URL_INVALID")


# -------------------------------------------------------------------------------------------- state


@dataclass
class Call:
    """One request the bot made, and what the fake answered."""

    index: int
    method: str
    params: JSON
    token: str
    status: int = 200
    response: JSON | None = None  # None when the connection was dropped
    at: float = field(default_factory=time.monotonic)
    injected: bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    held_seconds: float = 0.0  # how long a `hang_next` call was held before the connection was closed

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result") if self.response else None

    @property
    def description(self) -> str:
        return str(self.response.get("description", "")) if self.response else "(connection dropped)"

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("results",)}
        text = json.dumps(shown, ensure_ascii=False, default=str)
        if len(text) > 300:
            text = text[:300] + "…"
        outcome = "ok" if self.ok else f"{self.status} {self.description}"
        return f"<Call #{self.index} {self.method} {text} -> {outcome}>"


@dataclass
class _Fault:
    code: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class _TimedFault:
    code: int
    description: str
    retry_after: int | None
    until: float


@dataclass
class _Hang:
    """Returned by `FakeBotAPI.handle` for a call to hold unanswered (see `hang_next`)."""

    call: Call
    max_seconds: float


WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

METHODS = tuple(
    _words(
        "getMe getUpdates deleteWebhook getWebhookInfo setMyCommands getMyCommands deleteMyCommands "
        "setMyDescription getMyDescription setMyShortDescription getMyShortDescription sendMessage "
        "editMessageText editMessageReplyMarkup deleteMessage answerCallbackQuery answerInlineQuery "
        "sendChatAction setChatMenuButton getChatMenuButton getChat close logOut setWebhook"
    )
)
_CANONICAL = {name.lower(): name for name in METHODS}


class FakeBotAPI:
    """The fake server. Use as a context manager, or call start() and stop()."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake Bot API listens on loopback only")
        self._host = host
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._connections: set[socket.socket] = set()
        # observable
        self._records: list[Call] = []
        self._consumed: set[int] = set()
        self.tokens: list[str] = []
        self.undelivered: list[JSON] = []
        # injected faults
        self._faults: dict[str, deque[_Fault]] = {}
        self._drops: Counter[str] = Counter()
        self._hangs: dict[str, deque[float]] = {}
        self._timed_faults: dict[str, _TimedFault] = {}
        self._flood_until: dict[tuple[str, Any], float] = {}
        self.webhook: JSON = {}  # the last setWebhook's parameters; {} when none is set
        # Telegram state
        self._updates: list[JSON] = []
        self._next_update_id = 1
        self._allowed_updates: set[str] | None = None
        self._chats: dict[int, JSON] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._next_message_id: dict[int, int] = {}
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._inline_queries: dict[str, bool] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._descriptions: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, JSON] = {}

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeBotAPI:
        if self._server is not None:
            return self
        fake = self

        class Handler(_Handler):
            api = fake
            # Without TCP_NODELAY every small response waits ~40 ms for delayed ACKs (Nagle).
            disable_nagle_algorithm = True

        class Server(ThreadingHTTPServer):
            # The default backlog of 5 resets connections when a load test opens many at once.
            request_queue_size = 256

        server = Server((self._host, 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeBotAPI", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            with self._lock:
                if not self._connections:
                    break
            time.sleep(0.01)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeBotAPI is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What PTB takes as `base_url`: it requests `{base_url}{token}/{method}`."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/bot"

    def url(self, token: str, method: str) -> str:
        return f"{self.base_url}{token}/{method}"

    # ---------------------------------------------------------------- test controls
    def push_update(self, update: JSON) -> int:
        """Queue an update for getUpdates; returns the update_id assigned to it."""
        update = copy.deepcopy(update)
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            update["update_id"] = update_id
            self._register_update(update)
            self._updates.append(update)
            self._cond.notify_all()
        return update_id

    def add_chat(self, chat: JSON) -> None:
        """Make a chat known without an update, e.g. an admin's private chat from an earlier conversation."""
        with self._lock:
            self._chats[int(chat["id"])] = copy.deepcopy(chat)

    @property
    def calls(self) -> list[tuple[str, JSON]]:
        with self._lock:
            return [(c.method, copy.deepcopy(c.params)) for c in self._records]

    @property
    def records(self) -> list[Call]:
        with self._lock:
            return list(self._records)

    @property
    def errors(self) -> list[Call]:
        """Every call that got an error answer (or a dropped connection), injected ones included."""
        with self._lock:
            return [c for c in self._records if not c.ok]

    @property
    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(c.method for c in self._records)

    def count(self, method: str, ok: bool | None = None) -> int:
        with self._lock:
            return sum(1 for c in self._records if c.method == method and (ok is None or c.ok == ok))

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(self._updates)

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0,
        *,
        ok: bool | None = None,
    ) -> Call:
        """The first call of `method` matching `predicate` (and `ok`) not returned before; marks it consumed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self._records:
                    if call.index in self._consumed or call.method != method:
                        continue
                    if ok is not None and call.ok != ok:
                        continue
                    if predicate is not None and not predicate(call.params):
                        continue
                    self._consumed.add(call.index)
                    return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n  ".join(repr(c) for c in self._records[-40:]) or "(none)"
                    raise AssertionError(
                        f"no {method} call matching within {timeout:.1f}s; last calls seen:\n  {seen}"
                    )
                self._cond.wait(min(remaining, 0.5))

    def wait_for(
        self,
        method: str,
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0,
        *,
        ok: bool | None = None,
    ) -> JSON:
        """Params of the first matching call not yet consumed; AssertionError listing the calls on timeout."""
        return copy.deepcopy(self.wait_for_call(method, predicate, timeout, ok=ok).params)

    def assert_no_call(
        self, method: str, predicate: Callable[[JSON], bool] | None = None, within: float = 2.0
    ) -> None:
        """Wait `within` seconds and fail if an unconsumed matching call was made meanwhile (or before)."""
        deadline = time.monotonic() + within
        with self._cond:
            while True:
                for call in self._records:
                    if call.index in self._consumed or call.method != method:
                        continue
                    if predicate is None or predicate(call.params):
                        raise AssertionError(f"unexpected call: {call!r}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(min(remaining, 0.5))

    def sent_messages(self, chat_id: int | None = None) -> list[JSON]:
        """The Message objects returned by successful sendMessage calls, in order, as sent."""
        with self._lock:
            return [
                copy.deepcopy(c.result)
                for c in self._records
                if c.method == "sendMessage"
                and c.ok
                and (chat_id is None or c.result["chat"]["id"] == chat_id)
            ]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """A message as it is now (after edits), or None."""
        with self._lock:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found else None

    def fail_next(
        self, method: str, error_code: int, description: str, retry_after: int | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` calls of `method` with this error instead of doing them.

        A 429 with retry_after also opens a flood-wait window, as Telegram does: calls of the same method to
        the same chat before it ends get another 429 with the remaining seconds.
        """
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Fault(error_code, description, retry_after, times)
            )

    def drop_next(self, method: str, times: int = 1) -> None:
        """Close the connection of the next `times` calls of `method` without answering (nothing is done)."""
        with self._lock:
            self._drops[method] += times

    def fail_for(
        self, method: str, seconds: float, error_code: int, description: str, retry_after: int | None = None
    ) -> None:
        """Answer every call of `method` with this error for the next `seconds` (replaces an earlier window).

        E.g. 409 Conflict on getUpdates while another instance polls, or a 429 storm: each 429 also opens
        the per-chat flood-wait window that `fail_next` opens.
        """
        with self._lock:
            until = time.monotonic() + seconds
            self._timed_faults[method] = _TimedFault(error_code, description, retry_after, until)

    def hang_next(self, method: str, times: int = 1, max_seconds: float = 30.0) -> None:
        """Hold the next `times` calls of `method` unanswered until the client closes the connection (its
        timeout) or `max_seconds` pass, then close it: nothing is done, as when Telegram never got the request.
        """
        with self._lock:
            self._hangs.setdefault(method, deque()).extend([max_seconds] * times)

    def post_to_webhook(
        self,
        update: JSON,
        secret_token: str | None,
        *,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> tuple[int, int]:
        """Deliver `update` to the webhook set with setWebhook (loopback only), as Telegram does.

        `secret_token` is sent as X-Telegram-Bot-Api-Secret-Token (None: no header). The update's chats become
        known as with `push_update`. Returns (HTTP status of the bot's answer, the update_id assigned).
        """
        update = copy.deepcopy(update)
        with self._lock:
            url = str(self.webhook.get("url") or "")
            if not url:
                raise AssertionError("no webhook is set (setWebhook was not called)")
            update_id = self._next_update_id
            self._next_update_id += 1
            update["update_id"] = update_id
            self._register_update(update)
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK_HOSTS:
            raise AssertionError(f"the fake only delivers to a loopback webhook, not {url!r}")
        headers = {"Content-Type": content_type}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        body = json.dumps(update, ensure_ascii=False).encode("utf-8")
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        try:
            connection.request("POST", parts.path or "/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, update_id
        finally:
            connection.close()

    def hold(self, connection: socket.socket, hang: _Hang) -> None:
        """Keep `connection` open and unanswered until the client closes it, `max_seconds`, or stop()."""
        started = time.monotonic()
        deadline = started + hang.max_seconds
        while not self._stopping and time.monotonic() < deadline:
            try:
                readable, _, _ = select.select([connection], [], [], 0.05)
                if readable and not connection.recv(1, socket.MSG_PEEK):
                    break  # the client closed its end (e.g. its read timeout)
            except (OSError, ValueError):
                break
        with self._cond:
            hang.call.held_seconds = time.monotonic() - started
            self._cond.notify_all()

    # ---------------------------------------------------------------- request handling
    def handle(
        self, token: str, method_name: str, params: JSON, files: dict[str, bytes]
    ) -> tuple[int, JSON] | _Hang | None:
        """Status and JSON body for one request, None to drop the connection, or a _Hang to hold it."""
        method = _CANONICAL.get(method_name.lower(), method_name)
        with self._lock:
            if token not in self.tokens:
                self.tokens.append(token)
            call = Call(index=len(self._records), method=method, params=params, token=token, files=files)
            if self._drops[method] > 0:
                self._drops[method] -= 1
                call.status = 0
                call.response = None
                call.injected = True
                self._record(call)
                return None
            hangs = self._hangs.get(method)
            if hangs:
                call.status = 0
                call.response = None
                call.injected = True
                self._record(call)
                return _Hang(call, hangs.popleft())
            fault = self._take_fault(method, params)
        if fault is not None:
            call.injected = True
            status, body = fault.code, fault.body()
        elif method not in METHODS:
            status, body = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            try:
                if method == "getUpdates":
                    result = self._get_updates(params)
                else:
                    with self._lock:
                        result = getattr(self, f"_m_{method}")(params)
                status, body = 200, {"ok": True, "result": result}
            except ApiError as exc:
                status, body = exc.code, exc.body()
        with self._cond:
            call.status = status
            call.response = body
            self._record(call)
        return status, body

    def _record(self, call: Call) -> None:
        call.index = len(self._records)
        self._records.append(call)
        self._cond.notify_all()

    def _take_fault(self, method: str, params: JSON) -> ApiError | None:
        key = (method, params.get("chat_id"))
        now = time.monotonic()
        timed = self._timed_faults.get(method)
        if timed is not None:
            if now < timed.until:
                if timed.code == 429 and timed.retry_after:
                    self._flood_until[key] = now + timed.retry_after
                return ApiError(timed.description, timed.code, timed.retry_after)
            del self._timed_faults[method]
        queue = self._faults.get(method)
        if queue:
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
            if fault.code == 429 and fault.retry_after:
                self._flood_until[key] = now + fault.retry_after
            return ApiError(fault.description, fault.code, fault.retry_after)
        until = self._flood_until.get(key)
        if until is not None:
            if now < until:
                wait = max(1, math.ceil(until - now))
                return ApiError(f"Too Many Requests: retry after {wait}", 429, wait)
            del self._flood_until[key]
        return None

    # ---------------------------------------------------------------- Telegram state helpers
    def _register_update(self, update: JSON) -> None:
        for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if isinstance(update.get(key), dict):
                self._register_message(update[key])
        if isinstance(update.get("callback_query"), dict):
            query = update["callback_query"]
            self._callback_queries[str(query["id"])] = False
            if isinstance(query.get("message"), dict):
                self._register_message(query["message"])
        if isinstance(update.get("inline_query"), dict):
            self._inline_queries[str(update["inline_query"]["id"])] = False

    def _register_message(self, message: JSON) -> None:
        chat = message.get("chat")
        if not isinstance(chat, dict) or "message_id" not in message:
            return
        self._chats.setdefault(int(chat["id"]), copy.deepcopy(chat))
        key = (int(chat["id"]), int(message["message_id"]))
        if key not in self._messages:
            self._messages[key] = copy.deepcopy(message)
        if isinstance(message.get("reply_to_message"), dict):
            self._register_message(message["reply_to_message"])

    def _chat(self, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError("Bad Request: chat_id is empty")
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            raise ApiError("Bad Request: chat not found")
        return self._chats[chat_id]

    def _new_message_id(self, chat_id: int) -> int:
        candidate = self._next_message_id.get(chat_id, 1)
        while (chat_id, candidate) in self._messages:
            candidate += 1
        self._next_message_id[chat_id] = candidate + 1
        return candidate

    def _bot_message(self, params: JSON) -> JSON:
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        if params.get("inline_message_id"):
            raise ApiError("Bad Request: MESSAGE_ID_INVALID")
        self._chat(params)
        message = self._messages.get((chat_id, message_id))  # type: ignore[arg-type]
        if message is None:
            raise ApiError("Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != BOT_ID:
            raise ApiError("Bad Request: message can't be edited")
        return message

    # ---------------------------------------------------------------- methods
    def _get_updates(self, params: JSON) -> list[JSON]:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        timeout = params.get("timeout") or 0
        if (
            not isinstance(limit, int)
            or not isinstance(timeout, int)
            or (offset is not None and not isinstance(offset, int))
        ):
            raise ApiError("Bad Request: wrong parameter type")
        with self._lock:
            if self.webhook:
                raise ApiError(WEBHOOK_CONFLICT, 409)
        limit = max(1, min(limit, 100))
        deadline = time.monotonic() + min(max(timeout, 0), LONG_POLL_CAP_SECONDS)
        with self._cond:
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = set(allowed) if allowed else None
            if isinstance(offset, int) and offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif isinstance(offset, int) and offset < 0:
                self._updates = self._updates[offset:]
            while True:
                deliverable = []
                for update in list(self._updates):
                    kind = next(k for k in update if k != "update_id")
                    if self._allowed_updates is None:
                        wanted = kind not in UPDATE_TYPES_NOT_DELIVERED_BY_DEFAULT
                    else:
                        wanted = kind in self._allowed_updates
                    if wanted:
                        deliverable.append(update)
                    else:
                        self._updates.remove(update)
                        self.undelivered.append(update)
                if deliverable or self._stopping:
                    return copy.deepcopy(deliverable[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _m_getMe(self, params: JSON) -> JSON:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_deleteWebhook(self, params: JSON) -> bool:
        if params.get("drop_pending_updates"):
            self.undelivered.extend(self._updates)
            self._updates = []
        self.webhook = {}
        return True

    def _m_setWebhook(self, params: JSON) -> bool:
        """As a local Bot API server: http is accepted (loopback only here); an empty url removes it."""
        url = params.get("url")
        if not isinstance(url, str):
            raise ApiError("Bad Request: bad webhook: URL must be a string")
        if not url:
            return self._m_deleteWebhook(params)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError("Bad Request: bad webhook: Wrong URL host")
        if parts.hostname not in LOOPBACK_HOSTS:
            raise ApiError("Bad Request: bad webhook: the fake Bot API only calls loopback webhooks")
        secret = params.get("secret_token")
        if secret is not None and (not isinstance(secret, str) or not SECRET_TOKEN_RE.fullmatch(secret)):
            raise ApiError("Bad Request: bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.undelivered.extend(self._updates)
            self._updates = []
        self.webhook = {k: copy.deepcopy(v) for k, v in params.items() if k != "certificate"}
        return True

    def _m_getWebhookInfo(self, params: JSON) -> JSON:
        return {
            "url": str(self.webhook.get("url") or ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _m_close(self, params: JSON) -> bool:
        return True

    def _m_logOut(self, params: JSON) -> bool:
        return True

    def _scope_key(self, params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError("Bad Request: can't parse BotCommandScope JSON object")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            # As Telegram: a chat scope needs a chat the bot knows (a user who has talked to it).
            self._chat({"chat_id": scope.get("chat_id")})
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_setMyCommands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError("Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError("Bad Request: too many commands")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise ApiError("Bad Request: BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise ApiError("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._scope_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _m_getMyCommands(self, params: JSON) -> list[JSON]:
        return copy.deepcopy(self._commands.get(self._scope_key(params), []))

    def _m_deleteMyCommands(self, params: JSON) -> bool:
        self._commands.pop(self._scope_key(params), None)
        return True

    def _set_description(self, params: JSON, field_name: str, limit: int) -> bool:
        text = params.get(field_name) or ""
        if not isinstance(text, str) or len(text) > limit:
            raise ApiError(f"Bad Request: {field_name.upper()}_INVALID")
        self._descriptions[(field_name, str(params.get("language_code") or ""))] = text
        return True

    def _m_setMyDescription(self, params: JSON) -> bool:
        return self._set_description(params, "description", 512)

    def _m_setMyShortDescription(self, params: JSON) -> bool:
        return self._set_description(params, "short_description", 120)

    def _m_getMyDescription(self, params: JSON) -> JSON:
        return {
            "description": self._descriptions.get(("description", str(params.get("language_code") or "")), "")
        }

    def _m_getMyShortDescription(self, params: JSON) -> JSON:
        key = ("short_description", str(params.get("language_code") or ""))
        return {"short_description": self._descriptions.get(key, "")}

    def _m_sendMessage(self, params: JSON) -> JSON:
        chat = self._chat(params)
        chat_id = int(chat["id"])
        plain, entities = parse_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        markup = validate_reply_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat_id, params)
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": dict(BOT_USER),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
            "text": plain,
        }
        if entities:
            message["entities"] = entities
        if markup:
            message["reply_markup"] = markup
        thread_id = params.get("message_thread_id")
        if thread_id is not None:
            if not isinstance(thread_id, int):
                raise ApiError("Bad Request: message thread not found")
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        if reply_to is not None:
            replied = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
            message["reply_to_message"] = copy.deepcopy(replied)
        if isinstance(params.get("link_preview_options"), dict):
            message["link_preview_options"] = params["link_preview_options"]
        self._messages[(chat_id, message["message_id"])] = copy.deepcopy(message)
        return message

    def _reply_target(self, chat_id: int, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            target_id = reply.get("message_id")
            target_chat = reply.get("chat_id", chat_id)
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        elif reply is not None:
            raise ApiError("Bad Request: can't parse reply parameters JSON object")
        elif params.get("reply_to_message_id") is not None:
            target_id, target_chat = params["reply_to_message_id"], chat_id
        else:
            return None
        if not isinstance(target_id, int):
            raise ApiError("Bad Request: message to be replied not found")
        found = self._messages.get((target_chat, target_id)) if isinstance(target_chat, int) else None
        if found is None and not allow_missing:
            raise ApiError("Bad Request: message to be replied not found")
        return found

    def _m_editMessageText(self, params: JSON) -> JSON:
        message = self._bot_message(params)
        plain, entities = parse_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if (
            plain == message.get("text")
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise ApiError(NOT_MODIFIED)
        message["text"] = plain
        message["edit_date"] = int(time.time())
        for key, value in (("entities", entities), ("reply_markup", markup)):
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        return copy.deepcopy(message)

    def _m_editMessageReplyMarkup(self, params: JSON) -> JSON:
        message = self._bot_message(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if markup == message.get("reply_markup"):
            raise ApiError(NOT_MODIFIED)
        message["edit_date"] = int(time.time())
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return copy.deepcopy(message)

    def _m_deleteMessage(self, params: JSON) -> bool:
        self._chat(params)
        key = (params.get("chat_id"), params.get("message_id"))
        if key not in self._messages:
            raise ApiError("Bad Request: message to delete not found")
        del self._messages[key]
        return True

    def _m_answerCallbackQuery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self._callback_queries.get(query_id, True):
            raise ApiError(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > MAX_CALLBACK_ANSWER_CHARS):
            raise ApiError("Bad Request: MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        return True

    def _m_answerInlineQuery(self, params: JSON) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        if self._inline_queries.get(query_id, True):
            raise ApiError(QUERY_TOO_OLD)
        results = params.get("results")
        if not isinstance(results, list):
            raise ApiError("Bad Request: can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise ApiError("Bad Request: RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._validate_inline_result(result, seen)
        button = params.get("button")
        if button is not None:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
                raise ApiError("Bad Request: BUTTON_TEXT_INVALID")
            if ("start_parameter" in button) == ("web_app" in button):
                raise ApiError("Bad Request: BUTTON_TYPE_INVALID")
            if "start_parameter" in button and not START_PARAMETER_RE.fullmatch(
                str(button["start_parameter"])
            ):
                raise ApiError("Bad Request: START_PARAM_INVALID")
        self._inline_queries[query_id] = True
        return True

    @staticmethod
    def _validate_inline_result(result: Any, seen: set[str]) -> None:
        if not isinstance(result, dict) or result.get("type") not in INLINE_RESULT_TYPES:
            raise ApiError("Bad Request: RESULT_TYPE_INVALID")
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode("utf-8")) <= 64:
            raise ApiError("Bad Request: RESULT_ID_INVALID")
        if result_id in seen:
            raise ApiError("Bad Request: RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result["type"] == "article":
            if not isinstance(result.get("title"), str) or not result["title"].strip():
                raise ApiError("Bad Request: RESULT_TITLE_EMPTY")
            content = result.get("input_message_content")
            if not isinstance(content, dict):
                raise ApiError("Bad Request: input_message_content is required for article results")
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            try:
                parse_text(content.get("message_text"), content.get("parse_mode"), content.get("entities"))
            except ApiError as exc:
                if exc.description == "Bad Request: message is too long":
                    raise ApiError("Bad Request: MESSAGE_TOO_LONG") from None
                raise
        validate_reply_markup(result.get("reply_markup"), inline_only=True)

    def _m_sendChatAction(self, params: JSON) -> bool:
        self._chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError("Bad Request: wrong parameter action in request")
        return True

    def _m_setChatMenuButton(self, params: JSON) -> bool:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise ApiError("Bad Request: can't parse menu button JSON object")
        chat_id = params.get("chat_id")
        if chat_id is not None:
            self._chat(params)
        self._menu_buttons[chat_id] = button
        return True

    def _m_getChatMenuButton(self, params: JSON) -> JSON:
        return copy.deepcopy(self._menu_buttons.get(params.get("chat_id"), {"type": "commands"}))

    def _m_getChat(self, params: JSON) -> JSON:
        chat = self._chat(params)
        return {
            **copy.deepcopy(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }


# ----------------------------------------------------------------------------------------------- HTTP


def decode_params(fields: Iterator[tuple[str, str]] | list[tuple[str, str]]) -> JSON:
    """Form fields as PTB sends them → typed values (nested objects are JSON text)."""
    params: JSON = {}
    for key, raw in fields:
        params[key] = _decode_value(key, raw)
    return params


def _decode_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(f"Bad Request: can't parse {key} JSON object") from None
    if key in INT_FIELDS:
        with contextlib.suppress(ValueError):
            return int(value)
        return value
    if key in BOOL_FIELDS:
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0", ""):
            return False
    return value


class _Handler(BaseHTTPRequestHandler):
    api: FakeBotAPI
    protocol_version = "HTTP/1.1"
    timeout = 30
    server_version = "FakeBotAPI/1.0"

    def setup(self) -> None:
        super().setup()
        with self.api._lock:
            self.api._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.api._lock:
            self.api._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _parse(self, body: bytes) -> tuple[JSON, dict[str, bytes]]:
        query = urlsplit(self.path).query
        params = decode_params(parse_qsl(query, keep_blank_values=True))
        files: dict[str, bytes] = {}
        ctype = self.headers.get("Content-Type", "")
        kind = ctype.split(";")[0].strip().lower()
        if not body:
            return params, files
        if kind == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                raise ApiError("Bad Request: can't parse JSON") from None
            if not isinstance(data, dict):
                raise ApiError("Bad Request: JSON object expected")
            params.update({k: _decode_value(k, v) for k, v in data.items()})
        elif kind == "multipart/form-data":
            message = BytesParser(policy=policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body
            )
            if not message.is_multipart():
                raise ApiError("Bad Request: can't parse multipart/form-data")
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                if not isinstance(name, str) or not isinstance(payload, bytes):
                    continue
                if part.get_filename():
                    files[name] = payload
                else:
                    params[name] = _decode_value(name, payload.decode("utf-8"))
        else:  # application/x-www-form-urlencoded (and anything else Telegram would read as a form)
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            params.update(decode_params(fields))
        return params, files

    def _serve(self) -> None:
        body = self._read_body()
        path = urlsplit(self.path).path
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", path)
        if not match:
            self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = match.groups()
        try:
            params, files = self._parse(body)
        except ApiError as exc:
            self._send(exc.code, exc.body())
            return
        answer = self.api.handle(token, method, params, files)
        if isinstance(answer, _Hang):
            self.api.hold(self.connection, answer)
            answer = None
        if answer is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(*answer)
        if self.api._stopping:
            # A stopping server answers what it holds and keeps no connection open: a client on a kept-alive
            # connection could otherwise go on being answered at once until `stop` reaches its socket.
            self.close_connection = True

    def _send(self, status: int, body: JSON) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client went away (e.g. a cancelled long poll)
            self.close_connection = True
