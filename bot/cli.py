"""Command line: every capability of the bot without a token.

Usage: python -m bot COMMAND [--json] [ARGS]   (python -m bot --help lists the commands)

Each command is a few lines over one knowledge call; `--json` prints one JSON object per line for other
tools, otherwise plain text for people. User errors print one `Error:` line and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import render_text
from bot.console import run_console
from bot.settings import Settings, SettingsError
from knowledge.build import build_database
from knowledge.errors import KnowledgeError
from knowledge.evaluation import evaluate, load_gold
from knowledge.loading import open_knowledge
from knowledge.service import KnowledgeBase

log = logging.getLogger(__name__)
MAX_ARG_CHARS = 10_000


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _knowledge(args: argparse.Namespace) -> KnowledgeBase:
    settings = Settings.from_env()
    return open_knowledge(Path(args.db) if args.db else settings.db_path, settings.knowledge_dir)


def _inputs(values: Sequence[str]) -> list[str]:
    """Positional arguments, or one per line of stdin when none were given (undecodable bytes replaced)."""
    if values:
        return list(values)
    data = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    return [line for line in data.splitlines() if line.strip()]


def cmd_build(args: argparse.Namespace) -> None:
    """Build the knowledge database from knowledge/manifest.toml and the sources.

    Example: python -m bot build --db data/knowledge.db [--knowledge bench/out/corpus-100k]
    """
    settings = Settings.from_env()
    target = Path(args.db) if args.db else settings.db_path
    root = Path(args.knowledge) if args.knowledge else settings.knowledge_dir
    report = build_database(target, root / "manifest.toml", root / "lexicon")
    print(f"built {target}")
    for line in report.lines():
        print(line)


def cmd_docs(args: argparse.Namespace) -> None:
    """List the documents with issuer, date and 文号, and the copies set aside.

    Example: python -m bot docs --json
    """
    kb = _knowledge(args)
    if args.json:
        _emit(
            {
                "documents": [d.to_json() for d in kb.documents()],
                "set_aside": [
                    {"id": s.document_id, "duplicate_of": s.duplicate_of, "reason": s.reason}
                    for s in kb.set_aside()
                ],
            }
        )
    else:
        print(render_text.documents(kb.documents(), kb.set_aside()))


def cmd_depts(args: argparse.Namespace) -> None:
    """List each document's department blocks with their duty counts.

    Example: python -m bot depts --json
    """
    kb = _knowledge(args)
    if args.json:
        _emit({"documents": [d.to_json() for d in kb.departments()]})
    else:
        print(render_text.departments(kb.departments()))


def cmd_duties(args: argparse.Namespace) -> None:
    """A department's duties across documents, by any name: 环保局, 国土局, 州公安局 …

    Example: python -m bot duties --json 公安 环保局
    """
    kb = _knowledge(args)
    for name in _inputs(args.names):
        result = kb.duties(name[:MAX_ARG_CHARS])
        if args.json:
            _emit(result.to_json())
        else:
            print(render_text.duties(result))


def cmd_ask(args: argparse.Namespace) -> None:
    """Which department is responsible: answers with clause and citation, or an honest refusal.

    Example: python -m bot ask --json 哪个部门负责秸秆禁烧 工地扬尘归谁管
    """
    kb = _knowledge(args)
    for question in _inputs(args.questions):
        result = kb.ask(question[:MAX_ARG_CHARS])
        if args.json:
            _emit(result.to_json())
        else:
            print(render_text.answer(result))


def cmd_eval(args: argparse.Namespace) -> None:
    """Score the bot on a gold question file: hit@1, hit@3, dept@1, refusals, confidently wrong.

    Example: python -m bot eval tests/eval/questions.jsonl -v
    """
    kb = _knowledge(args)
    figures = evaluate(kb, load_gold(Path(args.file)))
    for line in figures.lines():
        print(line)
    if args.verbose:
        for failure in figures.failures:
            print("FAIL", failure)


def cmd_console(args: argparse.Namespace) -> None:
    """Chat with the bot on stdin/stdout (no token needed); one question per line until EOF.

    Example: echo 工地扬尘归谁管 | python -m bot console
    """
    kb = _knowledge(args)
    kb.warm_up()
    sys.stdin.reconfigure(errors="replace")  # type: ignore[union-attr]
    run_console(kb)


def cmd_run(args: argparse.Namespace) -> None:
    """Start the Telegram bot when TELEGRAM_BOT_TOKEN is set; otherwise explain and open the console chat.

    Example: TELEGRAM_BOT_TOKEN=123:abc python -m bot run
    """
    settings = Settings.from_env()
    if not settings.token:
        print(NO_TOKEN_HELP, file=sys.stderr)
        cmd_console(args)
        return
    from bot.application import run_bot

    run_bot(settings if not args.db else replace(settings, db_path=Path(args.db)))


NO_TOKEN_HELP = (
    "TELEGRAM_BOT_TOKEN is not set, so this is the console chat (same answers, plain text).\n"
    "To run in Telegram: create a bot with @BotFather (/newbot), put its token in .env as\n"
    "TELEGRAM_BOT_TOKEN=..., and run `make run` again. See README.md."
)


def _add_common(p: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    p.add_argument("--db", help="knowledge database (default: $SHUIGUAN_DB or data/knowledge.db)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="one JSON object per line")


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="谁管: which department is responsible?"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, func: Callable[[argparse.Namespace], None], json_flag: bool = True
    ) -> argparse.ArgumentParser:
        doc = (func.__doc__ or "").strip()
        p = sub.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(p, json_flag=json_flag)
        p.set_defaults(func=func)
        COMMANDS[name] = func
        return p

    command("build", cmd_build, json_flag=False).add_argument(
        "--knowledge",
        help="a folder with manifest.toml, sources/ and lexicon/ (default: the project's knowledge/)",
    )
    command("docs", cmd_docs)
    command("depts", cmd_depts)
    command("duties", cmd_duties).add_argument(
        "names", nargs="*", help="department names (stdin lines if none)"
    )
    command("ask", cmd_ask).add_argument("questions", nargs="*", help="questions (stdin lines if none)")
    command("console", cmd_console, json_flag=False)
    command("run", cmd_run, json_flag=False)
    ev = command("eval", cmd_eval, json_flag=False)
    ev.add_argument(
        "file", nargs="?", default=str(Path(__file__).resolve().parents[1] / "tests/eval/questions.jsonl")
    )
    ev.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (KnowledgeError, SettingsError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    return 0
