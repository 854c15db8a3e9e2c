"""Bad input gets a clear, kind answer and changes nothing."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.model import EventKind
from tests.auxil.chat import Person

BAD = {
    "empty": "",
    "spaces": "   \n\t ",
    "huge": "a" * 10_000,
    "control": "\x00\x01\x07\x1b[31m\x7f",
    "right_to_left": "\u202eالسلام عليكم\u202c مرحبا",
    "emoji": "😭😭😭🙏",
    "zero_width": "\u200b\u200c\u200d",
    "markup": "<script>alert(1)</script>",
}


async def _in_state(person: Person, where: str) -> None:
    await person.start()
    if where in ("ask_age", "ask_nation", "pattern"):
        await person.tap("start")
    if where in ("ask_nation", "pattern"):
        await person.tap("25 to 34")
    if where == "pattern":
        await person.tap("Wales")
        await person.tap("already paid")


@pytest.mark.parametrize("where", ["welcome", "ask_age", "ask_nation", "pattern"])
@pytest.mark.parametrize("kind", list(BAD))
async def test_bad_input_is_answered_kindly_and_changes_nothing(
    engine: Engine, where: str, kind: str
) -> None:
    person = Person(engine)
    await _in_state(person, where)
    before = await person.state()
    options_before = person.last.options if person.last else []
    reply = await person.say(BAD[kind])
    assert await person.state() == before
    assert reply.texts, "every message gets an answer"
    text = reply.text.lower()
    assert any(word in text for word in ("sorry", "take your time", "long message", "thank you"))
    assert reply.options == options_before, "the same options are offered again"


async def test_unsupported_things(person: Person) -> None:
    await person.start()
    before = await person.state()
    reply = await person.send(person.event(EventKind.UNSUPPORTED))
    assert "only read text" in reply.text
    assert await person.state() == before


async def test_a_long_pasted_message_still_triggers_crisis_help(person: Person) -> None:
    await person.start()
    reply = await person.say("x" * 9000 + " I want to die")
    assert reply.handoffs and "116 123" in reply.text
