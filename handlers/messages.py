"""Plain messages: any text in a private chat is a question; in groups only mentions and replies to the bot."""

from __future__ import annotations

from telegram import MessageEntity, Update

from handlers.common import BotContext, answer_question

NO_TEXT = "请发送文字问题，例如「工地扬尘归谁管」。图片、语音和贴纸我还读不懂。"
EMPTY = "请在 @我 之后写上问题，例如「@我 秸秆禁烧归谁管」。"


async def private_text(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message and message.text is not None:
        await answer_question(update, context, message.text)


async def group_text(update: Update, context: BotContext) -> None:
    """Answer a group message only when it mentions the bot or replies to one of its messages."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    username = f"@{context.bot.username}".lower()
    mentioned = any(
        text.lower() == username
        for entity, text in message.parse_entities([MessageEntity.MENTION]).items()
        if entity.type == MessageEntity.MENTION
    )
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and (message.reply_to_message.from_user.id == context.bot.id)
    )
    if not (mentioned or replied):
        return
    question = message.text
    for text in message.parse_entities([MessageEntity.MENTION]).values():
        if text.lower() == username:
            question = question.replace(text, " ")
    if not question.strip():
        await message.reply_text(EMPTY, do_quote=True)
        return
    await answer_question(update, context, question)


async def private_non_text(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message:
        await message.reply_text(NO_TEXT)
