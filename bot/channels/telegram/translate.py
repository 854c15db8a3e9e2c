"""Telegram updates -> one channel-neutral Inbound (the only place that reads an Update)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update

from bot.model import EventKind, Inbound

CHANNEL = "telegram"


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


def translate(update: Update) -> Incoming | None:
    """None for what the bot ignores (groups, channels, updates with no chat)."""
    uid = update.update_id
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or message.chat.type != "private":
            return None
        event = _event(message.chat.id, uid, EventKind.CHOICE, query.data or "")
        return Incoming(uid, message.chat.id, event, callback_id=query.id)
    message = update.message
    if message is None:
        edited = update.edited_message
        if edited is not None and edited.chat.type == "private":
            # An edit can't change what was already decided: answer kindly, change nothing.
            event = _event(edited.chat.id, uid, EventKind.UNSUPPORTED)
            return Incoming(uid, edited.chat.id, event)
        return None
    if message.chat.type != "private":
        return None
    chat_id = message.chat.id
    if message.text is not None:
        text = message.text
        if text.startswith("/start"):
            payload = text.partition(" ")[2].strip()[:64]
            event = Inbound(CHANNEL, str(chat_id), str(uid), EventKind.START, "", payload)
        else:
            event = _event(chat_id, uid, EventKind.TEXT, text)
        return Incoming(uid, chat_id, event, message.message_id)
    file = None
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        file = FileRef(largest.file_id, "photo.jpg", largest.file_size or 0)
    elif message.document is not None:
        document = message.document
        file = FileRef(document.file_id, document.file_name or "document", document.file_size or 0)
    if file is not None:
        event = _event(chat_id, uid, EventKind.UPLOAD)
        return Incoming(uid, chat_id, event, message.message_id, file=file)
    # Stickers, voice, video, location, contacts, polls...
    return Incoming(uid, chat_id, _event(chat_id, uid, EventKind.UNSUPPORTED), message.message_id)


def _event(chat_id: int, update_id: int, kind: EventKind, text: str = "") -> Inbound:
    return Inbound(CHANNEL, str(chat_id), str(update_id), kind, text)
