"""Interrupts that work in any state: a person, start again, quick exit, delete, help."""

from __future__ import annotations

from bot.engine import Engine
from bot.model import End, Handoff
from tests.auxil.chat import Person


async def _to_pattern(person: Person, age: str = "18 to 24") -> None:
    await person.start()
    await person.tap("start")
    await person.tap(age)
    await person.tap("England")
    if age in ("Under 13", "13 to 17"):
        await person.tap("Go on")
    await person.tap("recorded me")


async def test_ask_for_a_person_anywhere(person: Person) -> None:
    await _to_pattern(person)
    where = await person.state()
    reply = await person.say("I want to talk to a real person")
    assert reply.handoffs == [Handoff("normal", "asked")]
    assert "asked for a person" in reply.text
    assert "Samaritans" in reply.text  # lines open now, in case nobody is free
    assert await person.state() == where
    reply = await person.say("/human")
    assert reply.handoffs


async def test_young_person_handoff_is_prioritised(person: Person) -> None:
    await _to_pattern(person, "13 to 17")
    reply = await person.say("person")
    assert reply.handoffs == [Handoff("young", "asked")]
    assert "Childline" in reply.text


async def test_start_again_forgets_answers(person: Person, engine: Engine) -> None:
    await _to_pattern(person)
    reply = await person.say("start again")
    assert "start again" in reply.texts[0]
    assert await person.state() == ("intake", "welcome")
    conversation = await engine.repository.load(engine.keyring.conversation_id("test:person-1"))
    assert conversation is not None and conversation.profile.age_band is None


async def test_quick_exit_forgets_the_conversation(person: Person, engine: Engine) -> None:
    await _to_pattern(person)
    reply = await person.say("exit")
    assert reply.texts == ["Chat closed."]
    assert reply.effects[-1] == End(forget=True)
    assert await person.state() is None
    cid = engine.keyring.conversation_id("test:person-1")
    assert await engine.repository.transcript(cid) == []
    # Coming back later starts afresh.
    reply = await person.start()
    assert "I'm a support bot" in reply.text


async def test_delete_everything_asks_first(person: Person, engine: Engine) -> None:
    await _to_pattern(person)
    await person.say("I want to talk to a person")
    reply = await person.say("delete everything about me")
    assert "can't be undone" in reply.text
    reply = await person.tap("No, keep going")
    assert "nothing was deleted" in reply.text
    assert await person.state() == ("webcam", "start")
    await person.say("/delete")
    reply = await person.tap("Yes, delete everything")
    assert "Everything about you has been deleted" in reply.text and reply.ended
    cid = engine.keyring.conversation_id("test:person-1")
    assert await engine.repository.load(cid) is None
    assert await engine.repository.handoffs(cid) == []
    assert await engine.repository.transcript(cid) == []


async def test_delete_confirmed_by_typing_yes(person: Person) -> None:
    await _to_pattern(person)
    await person.say("delete")
    reply = await person.say("yes")
    assert reply.ended and await person.state() is None


async def test_help_keeps_the_place(person: Person) -> None:
    await _to_pattern(person)
    before = await person.state()
    reply = await person.say("help")
    assert '"exit"' in reply.text and '"person"' in reply.text
    assert await person.state() == before
    assert [o.label for o in reply.options] == ["Go on"]


async def test_forged_and_stale_buttons_change_nothing(person: Person) -> None:
    await person.start()
    await person.tap("start")
    before = await person.state()
    for forged in ("paid", "sys_delete_yes", "sys_guess_yes", "../../etc", "x" * 500, ""):
        reply = await person.tap_id(forged)
        assert "earlier step" in reply.text
        assert await person.state() == before
    reply = await person.tap_id("begin")  # a real option, but from the previous step
    assert "earlier step" in reply.text and await person.state() == before


async def test_restarting_the_chat_offers_to_continue(person: Person) -> None:
    await _to_pattern(person)
    reply = await person.start()
    assert "Welcome back" in reply.text
    assert [o.label for o in reply.options] == ["Go on", "Start again"]
    reply = await person.tap("Start again")
    assert await person.state() == ("intake", "welcome")
