"""Telegram updates -> one channel-neutral Inbound (the only place that reads an Update).

What becomes what:
- a button tap: CHOICE; typed text: TEXT; `/start` (or `/start@Bot`): START, with everything
  after the command as the payload (a deep-link tag, or words the person typed; read in full,
  so "/start I want to end it all" is answered as a crisis).
- a photo or document: UPLOAD, its caption as the event's text (the engine reads it in full).
- an edited message (private chats): TEXT with the edited words, read like any new message (its
  update id is its own event id). An edit with no words (e.g. a live location moving) is ignored:
  live locations send an edit every few seconds and none of them says anything.
- stickers, voice, video, audio, animations... with a caption: TEXT with the caption. The words
  are read (they may be the only place someone says they are at risk); the media itself is not
  kept, as the bot only keeps photos and documents as evidence. Without a caption: UNSUPPORTED.

Every string taken from an update (text, caption, file name, button data) is made valid Unicode
here: a lone surrogate ("\\ud800" is valid JSON, not valid UTF-8) becomes U+FFFD, so nothing
further on can fail to encode what a person sent.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from telegram import Message, Update

from bot.model import EventKind, Inbound

CHANNEL = "telegram"
DEFAULT_MAX_TEXT = 6000  # Settings.max_text_chars' default; channels pass the engine's own
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (linear time; usually a no-op)."""
    return _SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True)
class FileRef:
    file_id: str
    name: str
    size: int


@dataclass(frozen=True)
class Incoming:
    update_id: int
    chat_id: int
    event: Inbound
    person_message_id: int | None = None  # deleted on quick exit
    callback_id: str | None = None  # answered at once, so the button stops spinning
    file: FileRef | None = None  # downloaded before the event is handled


def translate(update: Update, max_text: int = DEFAULT_MAX_TEXT) -> Incoming | None:
    """None for what the bot ignores (groups, channels, updates with no chat, wordless edits).
    `max_text`: the longest /start payload kept (the engine's own limit, not Telegram's 64).
    The person's Telegram language (`language_code`) comes along as the event's locale hint."""
    incoming = _translate(update, max_text)
    user = update.effective_user
    code = user.language_code if user is not None else None
    if incoming is None or not isinstance(code, str) or not code:
        return incoming
    event = dataclasses.replace(incoming.event, locale=valid(code)[:35])
    return dataclasses.replace(incoming, event=event)


def _translate(update: Update, max_text: int) -> Incoming | None:
    uid = update.update_id
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or message.chat.type != "private":
            return None
        data = query.data if isinstance(query.data, str) else ""
        event = _event(message.chat.id, uid, EventKind.CHOICE, data)
        return Incoming(uid, message.chat.id, event, callback_id=valid(query.id))
    if update.message is None:
        edited = update.edited_message
        if edited is None or edited.chat.type != "private":
            return None
        words = edited.text if edited.text is not None else edited.caption
        if not words:
            return None
        # Read like a new message: someone may edit "I'm fine" into words about ending it.
        # The file of an edited photo was kept (or refused) when it first came; only words now.
        event = _event(edited.chat.id, uid, EventKind.TEXT, words)
        return Incoming(uid, edited.chat.id, event, edited.message_id)
    message = update.message
    if message.chat.type != "private":
        return None
    chat_id = message.chat.id
    if message.text is not None:
        text = valid(message.text)
        return Incoming(uid, chat_id, _typed(chat_id, uid, text, max_text), message.message_id)
    file = _file(message)
    caption = message.caption or ""
    if file is not None:
        event = _event(chat_id, uid, EventKind.UPLOAD, caption)
        return Incoming(uid, chat_id, event, message.message_id, file=file)
    if caption:
        # A voice note, video, sticker... with words: the words are read, the media is not kept.
        return Incoming(
            uid, chat_id, _event(chat_id, uid, EventKind.TEXT, caption), message.message_id
        )
    # Stickers, voice, video, location, contacts, polls...
    return Incoming(uid, chat_id, _event(chat_id, uid, EventKind.UNSUPPORTED), message.message_id)


def _typed(chat_id: int, uid: int, text: str, max_text: int) -> Inbound:
    command, rest = _split_command(text)
    if command == "/start" or command.startswith("/start@"):
        # Everything after the command, up to what the engine reads: a deep-link tag is short,
        # but a person may type their whole situation after /start, and it must all be read.
        payload = rest.strip()[:max_text]
        return Inbound(CHANNEL, str(chat_id), str(uid), EventKind.START, "", payload)
    return _event(chat_id, uid, EventKind.TEXT, text)


def _split_command(text: str) -> tuple[str, str]:
    """("/start", "the rest") for "/start the rest", also when a newline follows the command."""
    if not text.startswith("/"):
        return "", text
    for index, char in enumerate(text):
        if char.isspace():
            return text[:index], text[index:]
    return text, ""


def _file(message: Message) -> FileRef | None:
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return FileRef(valid(largest.file_id), "photo.jpg", largest.file_size or 0)
    if message.document is not None:
        document = message.document
        name = valid(document.file_name or "") or "document"
        return FileRef(valid(document.file_id), name, document.file_size or 0)
    return None


def _event(chat_id: int, update_id: int, kind: EventKind, text: str = "") -> Inbound:
    return Inbound(CHANNEL, str(chat_id), str(update_id), kind, valid(text))
