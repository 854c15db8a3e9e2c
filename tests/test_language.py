"""Language per conversation (issue 12): chosen from the channel's hint, asked for by name or
/language at any moment, or noticed when someone simply writes in it; kept with the conversation.
Texts are compared by key, in the locale expected."""

from __future__ import annotations

import pytest

from bot.config import PROJECT_ROOT
from bot.engine import Engine
from bot.model import EventKind, Inbound, Profile, Say
from bot.reading.language import Languages
from bot.reading.text import clean, normalise
from tests.auxil.chat import Person, Reply

LANGUAGES = Languages.load(PROJECT_ROOT / "content/languages.yaml", ["en-GB", "cy"])


def t(engine: Engine, locale: str, key: str, profile: Profile | None = None) -> str:
    return engine.renderer.text(locale, key, profile or Profile())


async def locale_of(person: Person) -> str:
    conversation = await person.engine.repository.load(
        person.engine.keyring.conversation_id(f"{person.channel}:{person.user}")
    )
    assert conversation is not None
    return conversation.locale


@pytest.mark.parametrize(
    ("hint", "locale"),
    [("cy", "cy"), ("cy-GB", "cy"), ("en", "en-GB"), ("en-US", "en-GB"), ("fr", None), ("", None)],
)
def test_a_channel_hint_picks_an_offered_locale(hint: str, locale: str | None) -> None:
    assert LANGUAGES.from_hint(hint) == locale


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("Helo, dw i angen help", "cy"),
        ("mae o wedi recordio fi ar fideo", "cy"),
        ("dw i literally eisiau marw", "cy"),
        ("he recorded me on facetime and wants money", "en-GB"),
        ("Im from Caerdydd and im scared", "en-GB"),
        ("hi im 15", None),  # too short to tell
        ("I'm 15 from Abertawe", "en-GB"),  # a Welsh place name is not Welsh
        ("ok", None),
    ],
)
def test_a_language_is_noticed_only_when_clear(text: str, locale: str | None) -> None:
    assert LANGUAGES.written_in(normalise(clean(text))) == locale


async def test_the_hint_of_the_channel_starts_in_welsh(engine: Engine) -> None:
    person = Person(engine, user="hinted")
    start = Inbound("test", "hinted", "s1", EventKind.START, locale="cy")
    reply = await person.send(start)
    assert t(engine, "cy", "intake.welcome") in reply.texts
    assert await locale_of(person) == "cy"


async def test_asking_by_name_switches_at_any_step_and_back(person: Person, engine: Engine) -> None:
    await person.say("im 24 and live in cardiff")
    reply = await person.say("Cymraeg")
    assert reply.texts[0] == t(engine, "cy", "sys.language_switched")
    assert await locale_of(person) == "cy"
    reply = await person.say("English")
    assert reply.texts[0] == t(engine, "en-GB", "sys.language_switched")
    assert await locale_of(person) == "en-GB"


async def test_language_command_offers_each_in_its_own_name(person: Person, engine: Engine) -> None:
    await person.say("hi")
    reply = await person.say("/language")
    assert {o.label for o in reply.options} == {"English", "Cymraeg"}
    reply = await person.tap("Cymraeg")
    assert reply.texts[0] == t(engine, "cy", "sys.language_switched")
    assert await locale_of(person) == "cy"


async def test_a_forged_language_button_changes_nothing(person: Person, engine: Engine) -> None:
    await person.say("hi")
    reply = await person.tap_id("sys_lang_xx")
    assert reply.texts[0] == t(engine, "en-GB", "sys.stale")
    assert await locale_of(person) == "en-GB"


async def test_writing_in_welsh_carries_on_in_welsh(person: Person, engine: Engine) -> None:
    reply = await person.say("Helo, dw i angen help plis, mae rhywun yn fy mygwth i")
    assert await locale_of(person) == "cy"
    assert t(engine, "cy", "sys.language_noticed") in reply.texts
    assert t(engine, "en-GB", "sys.language_noticed") not in reply.texts


async def test_a_chosen_language_is_never_overridden_by_a_guess(person: Person) -> None:
    await person.say("English")
    await person.say("Helo, dw i angen help plis, mae rhywun yn fy mygwth i")
    assert await locale_of(person) == "en-GB"


async def test_welsh_crisis_words_in_an_english_conversation(
    person: Person, engine: Engine
) -> None:
    await person.say("English")  # chosen, so the language stays English
    reply: Reply = await person.say("dw i eisiau marw")
    says = [e for e in reply.effects if isinstance(e, Say)]
    assert says[0].kind == "crisis"
    assert any(h.priority == "crisis" for h in reply.handoffs)


async def test_a_bilingual_welcome_leads_with_welsh(content) -> None:  # type: ignore[no-untyped-def]
    from bot.crypto import Keyring
    from bot.storage.memory import MemoryRepository

    engine = Engine(
        content, MemoryRepository(), Keyring.for_testing(), welcome_locales=("cy", "en-GB")
    )
    person = Person(engine, user="bilingual")
    reply = await person.start()
    welsh = reply.texts.index(t(engine, "cy", "intake.welcome"))
    english = reply.texts.index(t(engine, "en-GB", "sys.welcome_in_other"))
    assert welsh < english
    assert {"Cymraeg", "English"} & {o.label for o in reply.options} == {"English"}
    assert await locale_of(person) == "cy"
    reply = await person.tap("English")
    assert reply.texts[0] == t(engine, "en-GB", "sys.language_switched")
    assert await locale_of(person) == "en-GB"


def test_telegram_language_code_comes_along_as_the_locale_hint() -> None:
    from telegram import Update

    from bot.channels.telegram.translate import translate

    update = Update.de_json(
        {
            "update_id": 7,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "is_bot": False, "first_name": "Sam", "language_code": "cy"},
                "text": "helo",
            },
        },
        None,
    )
    incoming = translate(update)
    assert incoming is not None and incoming.event.locale == "cy"


async def test_a_moderator_notice_reaches_the_person_in_their_language(engine: Engine) -> None:
    """ "Someone from the team has joined" in Welsh for a Welsh conversation (issue 12)."""
    import dataclasses
    from types import SimpleNamespace

    from bot.console.cases import Case
    from bot.console.casework import notice

    person = Person(engine, user="welsh-case")
    await person.send(Inbound("test", "welsh-case", "s1", EventKind.START, locale="cy"))
    cid = engine.keyring.conversation_id("test:welsh-case")
    heard: list[str] = []

    class Desk:
        async def to_person(self, case: Case, text: str, kind: str) -> None:
            heard.append(text)

    fields = {f.name: None for f in dataclasses.fields(Case)}
    case = Case(**{**fields, "id": 1, "conversation_id": cid, "channel": "test"})
    state = SimpleNamespace(engine=engine, desk=Desk())
    await notice(state, case, "sys.moderator_joined")  # type: ignore[arg-type]
    assert heard == [t(engine, "cy", "sys.moderator_joined")]


async def test_the_bot_taking_over_again_says_so_in_their_language(engine: Engine) -> None:
    """When a moderator hands back, the person hears it in their conversation's language."""
    import dataclasses
    from functools import partial

    from bot.console.cases import Case
    from bot.console.desk import Desk
    from bot.console.routing import say

    heard: list[str] = []
    import time
    from types import SimpleNamespace

    cases = SimpleNamespace(repository=None, clock=time.time)  # not used to hand a case back
    desk = Desk(cases)  # type: ignore[arg-type]

    async def to_person(case: Case, text: str, kind: str) -> None:
        heard.append(text)

    desk.to_person = to_person  # type: ignore[method-assign]
    state = type("State", (), {"engine": engine})()
    desk.left_notice = partial(say, state, "sys.moderator_left")  # type: ignore[arg-type]
    fields = {f.name: None for f in dataclasses.fields(Case)}
    for n, locale in enumerate(("cy", "en-GB", None), start=1):
        case = Case(**{**fields, "id": n, "conversation_id": f"c{n}", "locale": locale})
        desk._owned[case.conversation_id] = 1
        assert await desk.resume(case)
    assert heard == [
        t(engine, "cy", "sys.moderator_left"),
        t(engine, "en-GB", "sys.moderator_left"),
        t(engine, "en-GB", "sys.moderator_left"),  # an erased conversation: the default
    ]
