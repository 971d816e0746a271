"""Console chat: the bot's answering and rendering path on stdin/stdout, for use without a token.

Usage: python -m bot console   (or `make run` with no TELEGRAM_BOT_TOKEN); one question per line until EOF.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot import render_text
from knowledge.service import KnowledgeBase

PROMPT = "问> "
WELCOME = (
    "谁管：输入环境保护事项，我告诉您由哪个部门负责（例如「工地扬尘归谁管」）。"
    "输入部门名称查看其职责。Ctrl-D 或 /quit 退出。"
)
COMMANDS = "可用命令：/help 帮助，/depts 部门列表，/docs 文件列表，/dept 部门名称 查看职责，/quit 退出；其他内容都当作问题。"
QUIT = frozenset({"/quit", "/exit", "退出"})
MAX_LINE_CHARS = 10_000


def reply(kb: KnowledgeBase, line: str) -> str:
    """The plain-text reply to one line typed in the console."""
    text = line.strip()
    if not text:
        return "请输入问题，例如「秸秆禁烧归谁管」。"
    if text in ("/help", "/start", "帮助", "help"):
        return f"{WELCOME}\n{COMMANDS}"
    if text in ("/depts", "部门"):
        return render_text.departments(kb.departments())
    if text in ("/docs", "文件"):
        return render_text.documents(kb.documents(), kb.set_aside())
    if text == "/dept":
        return "请在 /dept 后写部门名称，例如「/dept 环保局」。"
    if text.startswith("/dept "):
        return render_text.duties(kb.duties(text.removeprefix("/dept ").strip()))
    if text.startswith("/") and text[1:2].isascii() and text[1:2].isalpha():
        return f"不认识的命令「{text.split()[0][:20]}」。{COMMANDS}"
    return render_text.answer(kb.ask(text[:MAX_LINE_CHARS]))


def run_console(kb: KnowledgeBase, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """Answer each line of `stdin` until EOF; prompts only when a person is typing."""
    source = stdin or sys.stdin
    out = stdout or sys.stdout
    interactive = source.isatty()
    if interactive:
        print(WELCOME, file=out)
    while True:
        if interactive:
            print(PROMPT, end="", file=out, flush=True)
        try:
            line = source.readline()
        except UnicodeDecodeError:
            print("无法读取这一行（不是有效的 UTF-8 文本），请重新输入。", file=out, flush=True)
            continue
        if not line or line.strip() in QUIT:
            break
        print(reply(kb, line), file=out, flush=True)
        if not interactive:
            print(file=out)
