"""Crisis words reach the crisis answer on Telegram from every place they can come from (text,
a caption, an edit, /start words), also when storage fails: then the answer goes out without
storage, and the update is kept and retried as before."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from telegram import Update

from bot.channels.telegram.translate import translate
from bot.engine import Content
from bot.model import EventKind
from tests.auxil.botapi import BotApiStandIn
from tests.auxil.files import png
from tests.test_telegram import ALICE, Harness, harness, until  # noqa: F401 (fixture)

KILL = "I want to kill myself"


def samaritans(content: Content) -> str:
    """The Samaritans' number as the directory has it (the bot fills texts in from it)."""
    return content.directory.services["samaritans"].contacts["phone"]


def crisis_messages(api: BotApiStandIn, content: Content) -> int:
    return sum(samaritans(content) in text for text in api.texts(ALICE))


# The four ways words reach the bot, each as the stand-in's person would send them.
SENDS: dict[str, Callable[[BotApiStandIn], Any]] = {
    "text": lambda api: api.text(ALICE, KILL),
    "photo caption": lambda api: api.photo(ALICE, png(b"shot"), caption=KILL),
    "edit": lambda api: api.edited(ALICE, KILL),
    "start words": lambda api: api.text(ALICE, "/start I want to end it all"),
}


def disk_error(*args: object, **kwargs: object) -> Any:
    raise sqlite3.OperationalError("disk I/O error")


async def failing(*args: object, **kwargs: object) -> Any:
    disk_error()


async def decided(h: Harness) -> None:
    """Until every update was kept, decided and its replies delivered."""
    assert h.repository is not None and h.channel is not None
    for _ in range(500):
        await h.channel.idle()
        pending = await h.repository.inbox_pending("telegram")
        if not pending and not await h.repository.outbox("telegram"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never decided")


# --- translation ---------------------------------------------------------------------------------


def _update(body: dict[str, Any]) -> Update:
    update = Update.de_json({"update_id": 7, **body}, None)
    assert update is not None
    return update


def _message(**fields: Any) -> dict[str, Any]:
    chat = {"id": ALICE, "type": "private", "first_name": "Sam"}
    return {"message_id": 3, "date": 0, "chat": chat, **fields}


def test_captions_edits_and_start_words_are_read() -> None:
    photo = [{"file_id": "p", "file_unique_id": "p", "width": 9, "height": 9, "file_size": 4}]
    incoming = translate(_update({"message": _message(photo=photo, caption="hello")}))
    assert incoming is not None and incoming.file is not None
    assert (incoming.event.kind, incoming.event.text) == (EventKind.UPLOAD, "hello")

    incoming = translate(_update({"edited_message": _message(text="now this", edit_date=1)}))
    assert incoming is not None
    assert (incoming.event.kind, incoming.event.text) == (EventKind.TEXT, "now this")

    voice = {"file_id": "v", "file_unique_id": "v", "duration": 2}
    incoming = translate(_update({"message": _message(voice=voice, caption="listen")}))
    assert incoming is not None and incoming.file is None
    assert (incoming.event.kind, incoming.event.text) == (EventKind.TEXT, "listen")
    incoming = translate(_update({"message": _message(voice=voice)}))
    assert incoming is not None and incoming.event.kind is EventKind.UNSUPPORTED

    long = "word " * 500
    incoming = translate(_update({"message": _message(text=f"/start {long}")}), 1000)
    assert incoming is not None and incoming.event.kind is EventKind.START
    assert incoming.event.payload == long.strip()[:1000]  # not cut at Telegram's 64
    incoming = translate(_update({"message": _message(text="/start@SupportBot\nhelp me")}))
    assert incoming is not None and incoming.event.payload == "help me"
    incoming = translate(_update({"message": _message(text="/startle")}))
    assert incoming is not None and incoming.event.kind is EventKind.TEXT

    # A live location moving: an edit without words is not answered at all.
    location = {"latitude": 1.0, "longitude": 2.0, "live_period": 60}
    assert translate(_update({"edited_message": _message(location=location, edit_date=1)})) is None


# --- healthy storage -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["photo caption", "edit", "start words"])
async def test_crisis_words_anywhere_get_the_crisis_answer(
    harness: Harness,  # noqa: F811
    api: BotApiStandIn,
    content: Content,
    how: str,
) -> None:
    await harness.start()
    api.text(ALICE, "/start")
    await harness.reply(ALICE, 2)
    SENDS[how](api)
    await until(lambda: crisis_messages(api, content) >= 1)
    assert harness.channel is not None
    await harness.channel.idle()
    assert crisis_messages(api, content) == 1


# --- storage failing -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", list(SENDS))
async def test_crisis_answer_when_deciding_fails(
    harness: Harness,  # noqa: F811
    api: BotApiStandIn,
    content: Content,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    channel = await harness.start()
    assert harness.repository is not None
    monkeypatch.setattr(harness.repository, "process", failing)
    update = SENDS[how](api)
    await until(lambda: crisis_messages(api, content) >= 1)
    await channel.idle()
    assert crisis_messages(api, content) == 1
    # Kept, to be retried on restart as before.
    pending = await harness.repository.inbox_pending("telegram")
    assert [uid for uid, _ in pending] == [update["update_id"]]


@pytest.mark.parametrize("how", list(SENDS))
async def test_crisis_answer_when_keeping_the_update_fails_then_once_only(
    harness: Harness,  # noqa: F811
    api: BotApiStandIn,
    content: Content,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    await harness.start()
    assert harness.repository is not None
    monkeypatch.setattr(harness.repository, "inbox_put_many", failing)
    SENDS[how](api)
    await until(lambda: crisis_messages(api, content) >= 1)
    # getUpdates keeps offering the unacknowledged update: the answer is not sent again.
    polls = len(api.method_calls("getUpdates"))
    await until(lambda: len(api.method_calls("getUpdates")) >= polls + 2)
    assert crisis_messages(api, content) == 1
    monkeypatch.undo()  # the disk is back: the update is kept and decided
    await decided(harness)
    assert crisis_messages(api, content) == 1  # its lines were not shown twice


async def test_webhook_intake_failure_still_answers_a_crisis(
    harness: Harness,  # noqa: F811
    api: BotApiStandIn,
    content: Content,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channel = await harness.start(poll=False)
    assert harness.repository is not None
    update = api.text(ALICE, KILL)
    raw = json.dumps(update).encode()
    monkeypatch.setattr(harness.repository, "inbox_put_many", failing)
    for _ in range(2):  # Telegram retries a webhook delivery that got a 500
        with pytest.raises(sqlite3.OperationalError):
            await channel.accept(update["update_id"], raw)
    assert crisis_messages(api, content) == 1
    monkeypatch.undo()
    await channel.accept(update["update_id"], raw)
    await decided(harness)
    assert crisis_messages(api, content) == 1
