"""Free text at every question: ages, places, what happened, commands."""

from __future__ import annotations

import pytest

from bot.config import PROJECT_ROOT
from bot.reading.reader import Reader, Readers, Understanding
from tests.auxil.chat import Person

READER: Reader = Readers(PROJECT_ROOT / "content", "en-GB").default


def read(text: str) -> Understanding:
    return READER.read(text)


def command_in(text: str) -> str | None:
    return read(text).command


def read_yes_no(text: str) -> bool | None:
    return read(text).agreement


@pytest.mark.parametrize(
    ("text", "band", "age"),
    [
        ("I'm 15", "13_17", 15),
        ("16", "13_17", 16),
        ("im 12 years old", "under_13", 12),
        ("I am 23", "18_24", 23),
        ("age 40", "35_plus", 40),
        ("seventeen", "13_17", 17),
        ("I'd prefer not to say", "unknown", None),
    ],
)
def test_ages(text: str, band: str, age: int | None) -> None:
    reading = read(text).age
    assert reading is not None and reading.certain
    assert reading.band == band and reading.age == age


@pytest.mark.parametrize("text", ["hello", "1000", "my phone number is 07700900123", "15 or 16"])
def test_not_an_age(text: str) -> None:
    assert read(text).age is None


@pytest.mark.parametrize(
    ("text", "nation", "certain"),
    [
        ("Scotland", "scotland", True),
        ("I live in Cardiff", "wales", False),
        ("northern ireland", "northern_ireland", True),
        ("Belfast", "northern_ireland", False),
        ("london", "england", False),
        ("I'm in Dublin", "outside_uk", True),
        ("outside the UK", "outside_uk", True),
        ("Cymru", "wales", True),
    ],
)
def test_places(text: str, nation: str, certain: bool) -> None:
    reading = read(text).place
    assert reading is not None
    assert reading.nation == nation and reading.certain is certain


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("she recorded me on a video call and now wants money", "webcam"),
        (
            "I got an email saying they installed malware, your password is hunter2, pay bitcoin",
            "phishing",
        ),
        ("a girl I met on tinder asked for pics", "fake_profile"),
        ("someone cloned my friends account and asked me for pictures", "impersonation"),
        ("someone hacked my snapchat and got into my saved pictures, I'm locked out", "hacked"),
        ("they posted it in a group chat with my friends", "shared"),
        ("I already paid them 300 with a gift card", "paid"),
    ],
)
def test_patterns(text: str, pattern: str) -> None:
    reading = read(text).pattern
    assert reading is not None and reading.ranked[0] == pattern


def test_commands_and_yes_no() -> None:
    assert command_in("/exit") == "exit"
    assert command_in("/start@SupportBot") == "restart"
    assert command_in("Leave quickly") == "exit"
    assert command_in("can I speak to someone real") == "human"
    assert command_in("help me they're threatening me") is None
    assert command_in("?") == "help" and command_in("🙏") is None
    assert read_yes_no("Yeah") is True and read_yes_no("nope") is False
    assert read_yes_no("maybe") is None


async def test_guess_is_read_back_and_can_be_corrected(person: Person) -> None:
    await person.start()
    await person.tap("start")
    await person.say("I'm 30")
    reply = await person.say("Newport")
    assert any("Newport" in text and "Wales" in text for text in reply.texts)  # read back
    reply = await person.say("no")  # "no, that's wrong": asked again
    assert await person.state() == ("intake", "ask_nation")
    assert "England" in [o.label for o in reply.options]
    reply = await person.say("England")  # an exact answer needs no read-back
    assert "What happened?" in reply.text


async def test_pasted_threat_picks_the_pattern(person: Person) -> None:
    await person.start()
    await person.tap("start")
    await person.tap("35 or over")
    await person.tap("England")
    reply = await person.say(
        "Hello pervert. I installed malware on your device through an adult site and recorded "
        "you. Your password is sunshine1. Send $1200 in Bitcoin within 48 hours."
    )
    if any(o.id == "sys_guess_yes" for o in reply.options):  # read back only when inferred
        reply = await person.say("yes")
    assert "bluff" in reply.text
    assert await person.state() == ("phishing", "start")


async def test_unclear_description_gets_a_kind_reask(person: Person) -> None:
    await person.start()
    await person.tap("start")
    await person.tap("35 or over")
    await person.tap("England")
    reply = await person.say("I don't really know how to explain it")
    assert "couldn't tell which of these fits best" in reply.text
    assert len(reply.options) == 8


async def test_rather_not_at_the_age_question(person: Person) -> None:
    await person.start()
    await person.tap("start")
    await person.say("rather not")
    conversation = await person.engine.repository.load(
        person.engine.keyring.conversation_id("test:person-1")
    )
    assert conversation is not None and conversation.profile.age_band == "unknown"
