"""Webhook mode: only requests carrying the secret token reach the bot.

The bot runs with WEBHOOK_URL=http://127.0.0.1:<free port>/telegram, WEBHOOK_SECRET=<random> and
TELEGRAM_BASE_URL pointing at the fake Bot API (which accepts setWebhook as a local Bot API server does).
The fake then POSTs updates to that webhook as Telegram would, with no secret-token header, a wrong one,
and the right one: the first kinds must be refused with 403 and never answered; the last answered.
The same with BOT_WORKERS=2, where the supervisor's own listener checks the secret and workers answer.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests import telegram_updates as tu
from tests.e2e.conftest import start_bot
from tests.e2e.harness import QUESTIONS, answer_counts, error_lines, free_port, wait_for_replies
from tests.fake_bot_api import FakeBotAPI
from tests.reliability import Recorder

AREA = "Security"


@pytest.mark.parametrize("workers", [1, 2])
def test_webhook_refuses_requests_without_the_secret(
    real_db: Path, tmp_path: Path, reliability: Recorder, workers: int
) -> None:
    port = free_port()
    secret = "Wh" + secrets.token_urlsafe(32)  # letters, so that "other case" differs
    url = f"http://127.0.0.1:{port}/telegram"
    env = {
        "WEBHOOK_URL": url,
        "WEBHOOK_SECRET": secret,
        "WEBHOOK_PORT": str(port),
        "BOT_WORKERS": str(workers),
    }
    mode = "" if workers == 1 else f" (BOT_WORKERS={workers})"
    wrong = {
        "no header": None,
        "empty header": "",
        "another secret": secrets.token_urlsafe(32),
        "the secret minus its last character": secret[:-1],
        "the secret with a character added": secret + "x",
        "the secret in other case": secret.swapcase(),
    }
    with FakeBotAPI() as fake:
        bot = start_bot(fake, tmp_path / "bot", real_db, env, webhook_port=port)
        try:
            registered = dict(fake.webhook)
            statuses: dict[str, int] = {}
            rejected_chats = []
            for n, (name, token) in enumerate(wrong.items()):
                chat = 53_001 + n
                rejected_chats.append(chat)
                statuses[name], _ = fake.post_to_webhook(tu.private_message(chat, chat, QUESTIONS[n]), token)
            good_chat = 53_100
            good_status, _ = fake.post_to_webhook(
                tu.private_message(good_chat, good_chat, QUESTIONS[0]), secret
            )
            wait_for_replies(bot, {good_chat: 1}, timeout=20.0, settle=1.5)
            bot.assert_alive()
            counts = answer_counts(fake, [*rejected_chats, good_chat])
            polled = fake.count("getUpdates")
        finally:
            seconds = bot.stop()
        output = bot.output()

    refused = [name for name, status in statuses.items() if status == 403]
    unanswered = [chat for chat in rejected_chats if counts[chat] == (0, 0)]
    held = sum(
        1
        for (name, status), chat in zip(statuses.items(), rejected_chats, strict=True)
        if status == 403 and counts[chat] == (0, 0)
    )
    reliability.record(
        AREA,
        "webhook POST without the secret-token header, or with a wrong one: 403 and not answered" + mode,
        len(wrong),
        held,
        "missing, empty, another, one character short, one added, other case",
    )
    reliability.record(
        AREA,
        "webhook POST with the secret token answered" + mode,
        1,
        int(good_status == 200 and counts[good_chat] == (1, 0)),
        f"setWebhook at the fake carried the secret: {'yes' if registered.get('secret_token') == secret else 'no'}",
    )
    reliability.record(
        AREA,
        "webhook secret never in the bot's output" + mode,
        1,
        int(secret not in output),
    )
    assert registered.get("url") == url, registered
    assert registered.get("secret_token") == secret, "setWebhook did not register the secret token"
    assert refused == list(wrong), f"statuses: {statuses}"
    assert unanswered == rejected_chats, f"rejected updates were answered: {counts}"
    assert good_status == 200, good_status
    assert counts[good_chat] == (1, 0), f"{counts[good_chat]}\n{error_lines(bot)}"
    assert polled == 0, "the bot polled getUpdates in webhook mode"
    assert secret not in output
    assert seconds is not None, "the bot did not stop within 10 s of SIGTERM"
    assert bot.process.returncode == 0
