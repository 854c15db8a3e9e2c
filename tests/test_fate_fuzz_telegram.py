"""Property-based fuzzing of the Telegram edge (issue 11): any update (text, captions, documents,
edits, button data, odd Unicode with lone surrogates, controls, bidi marks) goes through
`translate` and the engine without an exception escaping, and nothing unencodable gets past the
edge; bad input (updates the bot ignores, button data that is no choice) leaves the
conversation's state unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.channels.telegram.translate import translate
from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.model import EventKind
from bot.storage.memory import MemoryRepository
from tests.auxil.chat import MONDAY_AFTERNOON, Person

CHAT = 4711
ODD = ["\ud800", "\udfff", "\x00", "\u202e", "\ufeff", "\u200b", "🏳️‍🌈", "ﷺ", "\r\n", "/start"]
odd_text = st.lists(
    st.one_of(
        st.text(st.characters(blacklist_categories=()), max_size=30),  # surrogates included
        st.sampled_from(ODD),
    ),
    max_size=6,
).map("".join)


def _message(chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"message_id": 9, "date": 0, "chat": chat, **fields}


@st.composite
def updates(draw: st.DrawFn, private: bool = True) -> dict[str, Any]:
    chat_type = "private" if private else draw(st.sampled_from(["group", "supergroup", "channel"]))
    chat = {"id": CHAT, "type": chat_type}
    kind = draw(st.sampled_from(["text", "caption", "document", "edit", "tap", "sticker"]))
    words = draw(odd_text)
    if kind == "text":
        body = {"message": _message(chat, text=words)}
    elif kind == "caption":
        photo = [{"file_id": "p", "file_unique_id": "p", "width": 9, "height": 9}]
        body = {"message": _message(chat, photo=photo, caption=words)}
    elif kind == "document":
        document = {
            "file_id": draw(odd_text) or "d",
            "file_unique_id": "d",
            "file_name": draw(odd_text),
            "file_size": draw(st.integers(min_value=0, max_value=2**40)),
        }
        body = {"message": _message(chat, document=document, caption=words)}
    elif kind == "edit":
        body = {"edited_message": _message(chat, text=words, edit_date=1)}
    elif kind == "tap":
        query = {
            "id": "q",
            "chat_instance": "c",
            "from": {"id": CHAT, "is_bot": False, "first_name": "x"},
            "data": words,
            "message": _message(chat, text="…"),
        }
        body = {"callback_query": query}
    else:
        sticker = {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1}
        sticker |= {"is_animated": False, "is_video": False, "type": "regular"}
        body = {"message": _message(chat, sticker=sticker)}
    return {"update_id": draw(st.integers(min_value=1, max_value=2**31)), **body}


def _engine(content: Content) -> Engine:
    return Engine(content, MemoryRepository(), Keyring(b"fuzz"), clock=lambda: MONDAY_AFTERNOON)


async def _at_ask_age(engine: Engine) -> Person:
    person = Person(engine, user=str(CHAT), channel="telegram")
    await person.start()
    await person.tap("start")
    assert await person.state() == ("intake", "ask_age")
    return person


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(update=updates())
def test_any_update_is_translated_and_decided_without_an_exception(
    content: Content, update: dict[str, Any]
) -> None:
    async def run() -> None:
        engine = _engine(content)
        await _at_ask_age(engine)
        parsed = Update.de_json(update, None)
        assert parsed is not None
        incoming = translate(parsed, engine.max_text_chars)
        if incoming is None:
            return
        event = incoming.event
        for part in (event.text, event.payload or ""):
            part.encode("utf-8")  # strict: no lone surrogate got past the edge
        if incoming.file is not None:
            incoming.file.name.encode("utf-8")
        await engine.handle(event, durable=True)
        engine.crisis_fallback(event)

    asyncio.run(run())


@FUZZ
@given(update=updates(private=False))
def test_updates_the_bot_ignores_change_nothing(content: Content, update: dict[str, Any]) -> None:
    parsed = Update.de_json(update, None)
    assert parsed is not None
    assert translate(parsed) is None


@FUZZ
@given(data=st.text(st.characters(blacklist_categories=("L", "N")), max_size=40))
def test_button_data_that_is_no_choice_leaves_the_state(content: Content, data: str) -> None:
    """A tap whose data is no option (a forged or stale button) does not move the person."""

    async def run() -> None:
        engine = _engine(content)
        person = await _at_ask_age(engine)
        update = {
            "update_id": 77,
            "callback_query": {
                "id": "q",
                "chat_instance": "c",
                "from": {"id": CHAT, "is_bot": False, "first_name": "x"},
                "data": data,
                "message": _message({"id": CHAT, "type": "private"}, text="…"),
            },
        }
        parsed = Update.de_json(update, None)
        assert parsed is not None
        incoming = translate(parsed)
        assert incoming is not None and incoming.event.kind is EventKind.CHOICE
        await engine.handle(incoming.event)
        assert await person.state() == ("intake", "ask_age")

    asyncio.run(run())
