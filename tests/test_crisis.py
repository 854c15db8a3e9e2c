"""Safety first: a crisis signal is answered at once, in any state, and the flow can resume."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from bot.config import PROJECT_ROOT
from bot.crypto import Keyring
from bot.engine import Engine
from bot.model import Choices, EventKind, Handoff, Inbound, Say
from bot.reading.reader import Readers
from bot.storage.memory import MemoryRepository
from tests.auxil.chat import MONDAY_AFTERNOON, Person
from tests.auxil.explore import explore

_READERS = Readers(PROJECT_ROOT / "content", "en-GB")


def signals_crisis(text: str) -> bool:
    return _READERS.crisis_in(text).level != "none"


CRISIS = "honestly I just want to die"


def _crisis(engine: Engine, conversation, now=MONDAY_AFTERNOON):  # type: ignore[no-untyped-def]
    event = Inbound("explore", "someone", "crisis-1", EventKind.TEXT, CRISIS)
    return engine.decide(copy.deepcopy(conversation), event, now)


def test_crisis_from_every_state_of_every_flow(content) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(content, MemoryRepository(), Keyring.for_testing())
    snapshots = {}
    for path in explore(engine, MONDAY_AFTERNOON):
        for step in path:
            profile = step.conversation.profile
            snapshots.setdefault((step.flow, step.state, profile.age_band, profile.nation), step)
    every_state = {(f.id, s) for f in content.flows.flows.values() for s in f.spec.states}
    assert {(flow, state) for flow, state, *_ in snapshots} == every_state

    for (flow, state, band, nation), step in snapshots.items():
        decision = _crisis(engine, step.conversation)
        says = [e for e in decision.effects if isinstance(e, Say)]
        # Answered at once: the very first thing said is the crisis answer.
        assert says[0].kind == "crisis"
        crisis_text = " ".join(s.text for s in says)
        if nation == "outside_uk":
            assert "local emergency number" in crisis_text
            assert "findahelpline.com" in crisis_text
        else:
            assert "999" in crisis_text
            assert "116 123" in crisis_text  # Samaritans, 24/7
            assert "SHOUT to 85258" in crisis_text
        if band in ("under_13", "13_17", "unknown", None) and nation != "outside_uk":
            assert "Childline" in crisis_text
        if band == "35_plus":
            assert "PAPYRUS" not in crisis_text and "Childline" not in crisis_text
        handoffs = [e for e in decision.effects if isinstance(e, Handoff)]
        assert handoffs == [Handoff("crisis", "crisis")]
        assert decision.handoffs == handoffs
        # The flow can resume: same place, same options offered again.
        assert decision.conversation is not None
        assert (decision.conversation.flow, decision.conversation.state) == (flow, state)
        before = [e for e in step.effects if isinstance(e, Choices)]
        after = [e for e in decision.effects if isinstance(e, Choices)]
        if before:
            assert after[-1] == before[-1]


def test_calm_is_listed_only_when_open(engine: Engine) -> None:
    # CALM: 5pm to midnight. Breathing Space is only for Scotland.
    evening = dt.datetime(2026, 11, 23, 21, 0, tzinfo=dt.UTC)
    morning = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    first = engine.decide(None, Inbound("t", "u", "1", EventKind.START), morning)
    assert first.conversation is not None
    profile = first.conversation.profile
    # The whole list ("more lines"): CALM only while it is open.
    at_night = engine.presenter.lines(
        ("crisis",), "en-GB", profile, evening, open_only=True, limit=None
    )
    in_morning = engine.presenter.lines(
        ("crisis",), "en-GB", profile, morning, open_only=True, limit=None
    )
    assert any("CALM" in line for line in at_night)
    assert not any("CALM" in line for line in in_morning)
    assert not any("Breathing Space" in line for line in at_night)
    # The crisis answer itself is short: the few lines that fit them best, all open now.
    said = [
        e.text for e in _crisis(engine, first.conversation, morning).effects if isinstance(e, Say)
    ]
    assert "CALM" not in " ".join(said)


async def test_crisis_as_the_very_first_message(person: Person) -> None:
    reply = await person.say("I want to kill myself")
    assert reply.effects[0] == Say(reply.texts[0], "crisis")
    assert "999" in reply.texts[0]
    assert reply.handoffs[0].priority == "crisis"
    # ...and then the bot still opens the conversation, so they are not left at a dead end.
    assert "OK, let's start" in [o.label for o in reply.options]


async def test_later_handoffs_keep_crisis_priority(person: Person) -> None:
    await person.start()
    await person.say("there's no point living")
    reply = await person.say("can I talk to a real person")
    assert reply.handoffs == [Handoff("crisis", "asked")]


async def test_resume_after_crisis(person: Person) -> None:
    await person.start()
    await person.tap("start")
    await person.tap("25 to 34")
    reply = await person.say("I keep thinking about hurting myself")
    assert await person.state() == ("intake", "ask_nation")
    reply = await person.tap("Scotland")
    assert "What happened?" in reply.text


@pytest.mark.parametrize(
    "text",
    [
        "I want to die",
        "i wanna die",
        "Im going to kill myself",
        "thinking of ending it all",
        "I don't want to be alive anymore",
        "no point in living",
        "there is no reason to live",
        "I might hurt myself",
        "self-harm",
        "I've been self harming",
        "I'm suicidal",
        "I'd be better off dead",
        "kms",
        "I cant go on",
        "want to take my own life",
        "I KILL MYSELF",
        "i want to d\u200bie",
    ],
)
def test_crisis_phrases(text: str) -> None:
    assert signals_crisis(text)


@pytest.mark.parametrize(
    "text",
    [
        "they said they will kill my reputation",
        "I'm dying of embarrassment haha no",
        "help me please",
        "she recorded me",
        "I paid 200 pounds",
        "my battery died",
    ],
)
def test_not_crisis(text: str) -> None:
    assert not signals_crisis(text)
