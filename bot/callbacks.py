"""Callback data the bot puts on buttons, and the only forms it accepts back.

Telegram limits callback data to 64 bytes and returns whatever a client sends, so every button carries a
short, typed token and `parse` refuses anything the bot could not have issued (forged, stale formats,
oversized) by returning None.

    f:<question id>:<1|0>        👍 / 👎 on an answer
    m:<question id>              more clauses for an answer
    d:<department key>:<page>    a department's duties, page n (0-based)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
_FEEDBACK = re.compile(r"^f:(\d{1,12}):([01])$")
_MORE = re.compile(r"^m:(\d{1,12})$")
_DUTIES = re.compile(r"^d:([a-z0-9_]{1,40}):(\d{1,3})$")


@dataclass(frozen=True, slots=True)
class Feedback:
    question_id: int
    helpful: bool

    def encode(self) -> str:
        return f"f:{self.question_id}:{int(self.helpful)}"


@dataclass(frozen=True, slots=True)
class More:
    question_id: int

    def encode(self) -> str:
        return f"m:{self.question_id}"


@dataclass(frozen=True, slots=True)
class DutiesPage:
    department_key: str
    page: int

    def encode(self) -> str:
        return f"d:{self.department_key}:{self.page}"


Callback = Feedback | More | DutiesPage


def parse(data: str | None) -> Callback | None:
    """The callback a button carried, or None for anything the bot does not issue."""
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        return None
    if match := _FEEDBACK.match(data):
        return Feedback(int(match.group(1)), match.group(2) == "1")
    if match := _MORE.match(data):
        return More(int(match.group(1)))
    if match := _DUTIES.match(data):
        return DutiesPage(match.group(1), int(match.group(2)))
    return None
