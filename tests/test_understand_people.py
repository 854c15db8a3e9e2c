"""Issue 10: every message read in full and used, in every state (engine level, pure decisions).

Texts are looked up by key, never by wording; "every state" means every (flow, state) a person
can reach by tapping, for young people and adults.
"""

from __future__ import annotations

import copy

import pytest

from bot.engine import Engine
from bot.model import (
    Attachment,
    Choices,
    Conversation,
    EventKind,
    Handoff,
    Inbound,
    Profile,
    RequestUpload,
    Say,
)
from bot.predicates import young
from tests.auxil.chat import MONDAY_AFTERNOON, Person
from tests.auxil.files import png
from tests.auxil.states import every_state, send, t, texts

NOW = MONDAY_AFTERNOON


@pytest.fixture(scope="module")
def snapshots(content):  # type: ignore[no-untyped-def]
    from bot.crypto import Keyring
    from bot.storage.memory import MemoryRepository

    engine = Engine(content, MemoryRepository(), Keyring.for_testing(), clock=lambda: NOW)
    return every_state(engine, NOW)


def _options(decision_effects: list[object]) -> list[str]:
    choices = [e for e in decision_effects if isinstance(e, Choices)]
    return [o.id for o in choices[-1].options] if choices else []


def _reask(engine: Engine, profile: Profile) -> str:
    return t(engine, "sys.reask", profile)


# --- story-first openings ----------------------------------------------------------------------


async def test_whole_story_in_the_first_message_is_never_asked_again(
    person: Person, engine: Engine
) -> None:
    reply = await person.say(
        "I'm 27 and I live in Cardiff. I got an email saying they hacked my computer and "
        "recorded me, they want £1000 in bitcoin within 48 hours"
    )
    asked = {t(engine, "intake.ask_age"), t(engine, "intake.ask_nation")}
    assert not asked & set(reply.texts)
    assert any("Cardiff" in text and "27" in text for text in reply.texts)  # one read-back
    if any(o.id == "sys_guess_yes" for o in reply.options):  # read back when only inferred
        await person.say("yes")
    flow, _ = await person.state()  # type: ignore[misc]
    assert flow == "phishing"


@pytest.mark.parametrize(
    "messages",
    [
        ["hi im 15", "Swansea", "someone recorded me on a video call"],
        ["someone recorded me on a video call and now wants money", "16", "i live in scotland"],
        ["i live in belfast", "someone recorded me on a video call", "im 19"],
    ],
)
async def test_any_order_over_several_messages(
    person: Person, engine: Engine, messages: list[str]
) -> None:
    age_q, nation_q = t(engine, "intake.ask_age"), t(engine, "intake.ask_nation")
    told: set[str] = set()
    for message in messages:
        reply = await person.say(message)
        assert _reask(engine, Profile()) not in reply.texts
        assert not ("age" in told and age_q in reply.texts), message
        assert not ("nation" in told and nation_q in reply.texts), message
        reading = engine.readers.default.read(message)
        told |= {"age"} if reading.age else set()
        told |= {"nation"} if reading.place else set()
    for _ in range(3):  # the young person's note waits for "go on"; a read-back for a "yes"
        if (await person.state())[0] != "intake":  # type: ignore[index]
            break
        await person.say("ok")
    flow, _ = await person.state()  # type: ignore[misc]
    assert flow == "webcam"


async def test_hi_and_ok_at_the_welcome_start_the_questions(person: Person, engine: Engine) -> None:
    await person.start()
    reply = await person.say("ok")
    assert t(engine, "intake.ask_age") in reply.texts
    other = Person(engine, user="other")
    reply = await other.say("hi")
    assert t(engine, "intake.ask_age") in reply.texts


async def test_read_back_accepts_new_information(person: Person, engine: Engine) -> None:
    await person.say("im 30 from england")
    reply = await person.say("this girl i was talking to is threatening me")
    assert any(o.id == "sys_guess_yes" for o in reply.options)  # read back: is it this one?
    story = (
        "she said: send £500 to my paypal or I send the video to all your followers. "
        "her account is @fake_girl_22"
    )
    await person.say(story)  # not a yes or a no, but new information: taken as a yes, and used
    flow, _ = await person.state()  # type: ignore[misc]
    assert flow == "fake_profile"
    conversation = await engine.repository.load(engine.keyring.conversation_id("test:person-1"))
    assert conversation is not None and conversation.evidence_count >= 1  # their words kept
    assert any(i["value"].endswith("fake_girl_22") for i in conversation.indicators)
    assert conversation.memo.get("amount") == "£500"


async def test_a_place_read_back_then_the_story(person: Person, engine: Engine) -> None:
    reply = await person.say("im 19 from cardiff")
    assert any("Cardiff" in text for text in reply.texts)
    reply = await person.say("a girl on instagram recorded our video call")
    flow, _ = await person.state()  # type: ignore[misc]
    assert flow == "webcam" and _reask(engine, Profile()) not in reply.texts


# --- agreement, leaving steps, misunderstanding ------------------------------------------------

AGREEMENT = [
    "ok",
    "yeah",
    "yep",
    "sure",
    "go on",
    "Go on",
    "👍",
    "alright",
    "okay",
    "thanks",
    "what now",
    "carry on",
    "got it",
]


def test_agreement_moves_on_at_every_single_option_state(
    engine: Engine, snapshots: list[Conversation]
) -> None:
    checked = 0
    for conv in snapshots:
        spec = engine.flows[conv.flow].state(conv.state)
        options = engine.flows[conv.flow].options(conv.state, conv.profile)
        if len(options) != 1 or spec.collect:
            continue
        for word in AGREEMENT:
            decision = send(engine, conv, EventKind.TEXT, word, NOW)
            after = decision.conversation
            assert after is not None
            moved = (after.flow, after.state) != (conv.flow, conv.state)
            assert moved, f"{word!r} at {conv.flow}.{conv.state}"
            checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    "words",
    [
        "done",
        "finished",
        "that's all",
        "thats it",
        "nothing else",
        "I'm done",
        "all done",
        "no more",
        "that's everything",
        "finished now",
    ],
)
def test_leaving_the_evidence_step_in_their_words(
    engine: Engine, snapshots: list[Conversation], words: str
) -> None:
    steps = [c for c in snapshots if engine.flows[c.flow].state(c.state).collect]
    assert steps
    for conv in steps:
        decision = send(engine, conv, EventKind.TEXT, words, NOW)
        assert decision.conversation is not None
        assert decision.conversation.state != conv.state, f"{words!r} at {conv.flow}.{conv.state}"
        assert not decision.evidence, "a way of saying done is not evidence"


async def test_never_two_misunderstandings_the_same_way(person: Person, engine: Engine) -> None:
    await person.start()
    await person.tap("start")
    first = await person.say("qwzx")
    assert _reask(engine, Profile()) in first.texts
    second = await person.say("qwzx")
    assert _reask(engine, Profile()) not in second.texts
    assert {"sys_human", "sys_help"} <= {o.id for o in second.options}


async def test_ok_after_the_goodbye_is_answered_kindly(person: Person, engine: Engine) -> None:
    await person.say("I'm 25, in England, someone recorded me on a video call")
    await person.say("yes")
    for _ in range(40):
        assert person.last is not None
        labels = [o.label for o in person.last.options]
        if "Start again" in labels and "Add evidence" in labels:
            break
        from tests.auxil.chat import toward_goodbye

        await person.tap(toward_goodbye(labels))
    for word in ("ok", "thanks", "cheers"):
        reply = await person.say(word)
        assert _reask(engine, Profile(age_band="25_34")) not in reply.texts
        assert reply.options


# --- age corrections and young people ----------------------------------------------------------


def test_age_correction_from_every_adult_state(
    engine: Engine, snapshots: list[Conversation]
) -> None:
    adults = [c for c in snapshots if c.profile.age_band and not young(c.profile)]
    assert len(adults) > 30
    ceop = engine.renderer.directory.services["ceop"].contacts["web"]
    for conv in adults:
        decision = send(engine, conv, EventKind.TEXT, "sorry i lied, im actually 15", NOW)
        after = decision.conversation
        assert after is not None and young(after.profile), f"{conv.flow}.{conv.state}"
        assert after.profile.age == 15
        assert not any(isinstance(e, RequestUpload) for e in decision.effects)
        assert any(ceop in text for text in texts(decision.effects)), f"{conv.flow}.{conv.state}"


async def test_files_of_someone_who_turns_out_young_are_removed(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine)
    await person.say("I'm 22, I live in Leeds, someone recorded me on a video call")
    await person.say("yes")
    upload = Inbound(
        "test", "person-1", "u1", EventKind.UPLOAD, attachment=Attachment("c.png", png())
    )
    await person.send(upload)
    cid = sqlite_engine.keyring.conversation_id("test:person-1")
    kinds = [i.kind for i in await sqlite_engine.repository.evidence_items(cid)]
    assert kinds.count("file") == 1
    reply = await person.say("actually I'm 16")
    assert t(sqlite_engine, "evidence.young_files_removed", Profile(age=16)) in reply.texts
    assert [i for i in await sqlite_engine.repository.evidence_items(cid) if i.kind == "file"] == []


@pytest.mark.parametrize("age", ["12", "15"])
async def test_send_more_threat_to_a_child_is_answered_first(
    person: Person, engine: Engine, age: str
) -> None:
    await person.say(f"im {age} and live in wales")
    reply = await person.say("he says send more pics or he will post the ones i sent")
    profile = Profile(age=int(age), age_band="under_13" if age == "12" else "13_17")
    assert reply.texts[0] == t(engine, "sys.dont_send_more", profile)


# --- questions -------------------------------------------------------------------------------


def test_every_question_answered_from_three_states(
    engine: Engine, snapshots: list[Conversation]
) -> None:
    book = engine.readers.default.book
    assert len(book.entries) >= 40
    places = [
        next(c for c in snapshots if c.flow == "intake" and c.state == "ask_nation"),
        next(c for c in snapshots if c.flow == "webcam" and c.state == "stop_contact"),
        next(c for c in snapshots if c.flow == "shared" and c.state == "support"),
    ]
    for entry in book.entries.values():
        for conv in places:
            question = entry.examples[0].rstrip("?") + "?"
            if engine.readers.default.read(question).command:
                continue  # "can I talk to a person?" is done, not answered
            decision = send(engine, conv, EventKind.TEXT, question, NOW)
            after = decision.conversation
            assert after is not None
            first = t(engine, entry.say[0], after.profile)
            assert first in texts(decision.effects), f"{entry.id} at {conv.flow}.{conv.state}"
            assert (after.flow, after.state) == (conv.flow, conv.state)  # back where they were
            assert _options(decision.effects)


def test_unknown_question_gets_an_honest_answer(
    engine: Engine, snapshots: list[Conversation]
) -> None:
    conv = next(c for c in snapshots if c.flow == "webcam" and c.state == "stop_contact")
    decision = send(engine, conv, EventKind.TEXT, "what's the capital of peru?", NOW)
    assert t(engine, "sys.question_unknown", conv.profile) in texts(decision.effects)


# --- nothing dropped -------------------------------------------------------------------------


def test_files_and_details_kept_from_every_state(
    engine: Engine, snapshots: list[Conversation]
) -> None:
    for conv in snapshots:
        if conv.flow == "intake" and conv.profile.age_band is None:
            continue
        details = send(engine, conv, EventKind.TEXT, "their instagram is @fake_girl_22", NOW)
        after = details.conversation
        assert after is not None
        assert any("fake_girl_22" in i["value"] for i in after.indicators), (
            f"{conv.flow}.{conv.state}"
        )
        upload = send(
            engine, conv, EventKind.UPLOAD, "", NOW, attachment=Attachment("a.png", png())
        )
        if young(conv.profile):
            assert not upload.evidence
        else:
            assert [item.kind for item in upload.evidence] == ["file"], f"{conv.flow}.{conv.state}"


# --- crisis ----------------------------------------------------------------------------------

CRISIS = [
    "I'm going to take all my pills tonight",
    "everyone would be better off without me",
    "thinking about jumping off a bridge",
    "I've been looking up ways to end it",
]


def test_crisis_from_every_state(engine: Engine, snapshots: list[Conversation]) -> None:
    samaritans = engine.renderer.directory.services["samaritans"].contacts["phone"]
    for conv in snapshots:
        for words in CRISIS:
            decision = send(engine, conv, EventKind.TEXT, words, NOW)
            says = [e for e in decision.effects if isinstance(e, Say)]
            assert says and says[0].kind == "crisis", f"{words!r} at {conv.flow}.{conv.state}"
            assert any(samaritans in s.text for s in says)
            assert any(isinstance(e, Handoff) and e.priority == "crisis" for e in decision.effects)


def test_crisis_in_captions_and_start_words(engine: Engine, snapshots: list[Conversation]) -> None:
    conv = snapshots[len(snapshots) // 2]
    caption = send(
        engine,
        conv,
        EventKind.UPLOAD,
        "i want to kill myself",
        NOW,
        attachment=Attachment("a.png", png()),
    )
    start = send(engine, conv, EventKind.START, "", NOW, payload="I want to end it all")
    for decision in (caption, start):
        assert any(isinstance(e, Handoff) and e.priority == "crisis" for e in decision.effects)


async def test_crisis_answer_without_storage(engine: Engine) -> None:
    class Broken:
        async def process(self, *args: object, **kwargs: object) -> object:
            raise OSError("disk I/O error")

    engine.repository = Broken()  # type: ignore[assignment]
    person = Person(engine)
    event = person.event(EventKind.TEXT, "I'm going to take all my pills tonight")
    with pytest.raises(OSError):
        await engine.handle(event)
    effects = engine.crisis_fallback(event)
    samaritans = engine.renderer.directory.services["samaritans"].contacts["phone"]
    assert any(isinstance(e, Say) and samaritans in e.text for e in effects)
    assert any(isinstance(e, Handoff) for e in effects)
    assert engine.crisis_fallback(person.event(EventKind.TEXT, "my mum will kill me")) == ()


async def test_possible_risk_is_asked_about_directly(person: Person, engine: Engine) -> None:
    await person.say("im 17 and in england")
    reply = await person.say("what's the point any more")
    assert reply.texts[0].startswith(t(engine, "sys.crisis_check", Profile(age=17))[:30])
    assert {"sys_check_yes", "sys_check_no"} <= {o.id for o in reply.options}
    reply = await person.say("yes")
    assert any(h.priority == "crisis" for h in reply.handoffs)


@pytest.mark.parametrize("words", ["help me", "i need help", "it's too much"])
async def test_help_me_after_a_no_gets_the_lines_at_once(
    person: Person, engine: Engine, words: str
) -> None:
    # sys.crisis_check_no promises: type "help me" if it changes and you'll see who to talk to.
    await person.say("im 17 and in england")
    await person.say("what's the point any more")
    reply = await person.say("no")
    assert reply.texts[0] == t(engine, "sys.crisis_check_no", Profile(age=17))
    await person.say("ok")
    reply = await person.say(words)
    assert next(e for e in reply.effects if isinstance(e, Say)).kind == "crisis"
    assert any(h.priority == "crisis" for h in reply.handoffs)


async def test_a_town_abroad_is_read_back_as_outside_the_uk(person: Person, engine: Engine) -> None:
    reply = await person.say("I'm 19 and I live in France")
    abroad = Profile(age=19, nation="outside_uk")
    assert t(engine, "sys.rb_place_town", abroad, place="France") in reply.text
    assert t(engine, "intake.nation_outside_uk", abroad) not in reply.text  # a button label


async def test_help_me_at_the_start_still_starts(person: Person, engine: Engine) -> None:
    reply = await person.say("help me")
    assert not any(h.priority == "crisis" for h in reply.handoffs)
    assert all(e.kind != "crisis" for e in reply.effects if isinstance(e, Say))


def test_decisions_do_not_change_the_snapshot(
    engine: Engine, snapshots: list[Conversation]
) -> None:
    conv = snapshots[3]
    before = copy.deepcopy(conv)
    send(engine, conv, EventKind.TEXT, "I'm 15 and live in Cardiff", NOW)
    assert conv == before


async def test_details_typed_early_are_read_back_at_the_evidence_step(
    person: Person, engine: Engine
) -> None:
    await person.say("im 24 from leeds, a girl recorded our video call, her snap is fake.girl22")
    await person.say("yes")  # if read back
    for _ in range(12):
        _, state = await person.state()  # type: ignore[misc]
        if state == "evidence_offer":
            break
        await person.say("ok")
    reply = await person.say("yes")  # save evidence
    header = t(engine, "evidence.found_earlier", Profile(age=24))
    assert header in reply.text and "fake.girl22" in reply.text
    reply = await person.say("keep all")
    conversation = await engine.repository.load(engine.keyring.conversation_id("test:person-1"))
    assert conversation is not None
    assert all(i["status"] == "confirmed" for i in conversation.indicators)


# --- found by a red-team pass as new users ---------------------------------------------------


@pytest.mark.parametrize("words", ["ok", "yes", "thx", "cool"])
def test_small_talk_at_the_evidence_step_is_not_evidence(
    engine: Engine, snapshots: list[Conversation], words: str
) -> None:
    for conv in [c for c in snapshots if engine.flows[c.flow].state(c.state).collect][:6]:
        decision = send(engine, conv, EventKind.TEXT, words, NOW)
        assert not decision.evidence, f"{words!r} kept at {conv.flow}.{conv.state}"
        assert t(engine, "evidence.how_to_finish", conv.profile) in texts(decision.effects)


@pytest.mark.parametrize(
    ("reply", "crisis"),
    [
        ("yes i am", True),
        ("sometimes", True),
        ("kind of", True),
        ("idk", True),
        ("maybe", True),
        ("no im ok", False),
        ("no", False),
    ],
)
async def test_every_answer_to_the_crisis_question_but_a_clear_no_gets_help(
    person: Person, reply: str, crisis: bool
) -> None:
    await person.say("im 17 and in england")
    await person.say("i cant take this anymore")
    answer = await person.say(reply)
    assert any(h.priority == "crisis" for h in answer.handoffs) is crisis


def test_crisis_at_the_evidence_step_is_answered_not_kept(
    engine: Engine, snapshots: list[Conversation]
) -> None:
    for conv in [c for c in snapshots if engine.flows[c.flow].state(c.state).collect]:
        for words in ("i have the rope ready", "i've written my note"):
            decision = send(engine, conv, EventKind.TEXT, words, NOW)
            assert not decision.evidence
            assert any(isinstance(e, Handoff) for e in decision.effects)


async def test_rather_not_say_where_changes_nothing_else(person: Person) -> None:
    await person.say("im 20")
    await person.say("rather not say")
    conversation = await person.engine.repository.load(
        person.engine.keyring.conversation_id("test:person-1")
    )
    assert conversation is not None
    assert conversation.profile.age == 20 and conversation.profile.nation is None


async def test_a_phone_number_typed_early_is_kept(person: Person) -> None:
    await person.say("hi")
    await person.say("his number is 07912 345678")
    conversation = await person.engine.repository.load(
        person.engine.keyring.conversation_id("test:person-1")
    )
    assert conversation is not None and conversation.evidence_count == 1
    assert any(i["kind"] == "phone" for i in conversation.indicators)


@pytest.mark.parametrize(
    "words", ["their snap is jess_15", "their instagram is @fake_girl_22", "his user is dave99"]
)
async def test_numbers_in_usernames_are_not_ages(person: Person, words: str) -> None:
    await person.say("im 30 from leeds")
    await person.say(words)
    conversation = await person.engine.repository.load(
        person.engine.keyring.conversation_id("test:person-1")
    )
    assert conversation is not None and conversation.profile.age == 30


async def test_a_child_telling_it_all_at_once_hears_dont_send_more_first(
    person: Person, engine: Engine
) -> None:
    reply = await person.say(
        "im 12 and someone on roblox says they will post my pics unless i send more"
    )
    warning = t(engine, "sys.dont_send_more", Profile(age=12, age_band="under_13"))
    assert warning in reply.texts
    assert reply.texts.count(warning) == 1


async def test_ok_twice_at_the_evidence_step_moves_on(person: Person, engine: Engine) -> None:
    await person.say("im 24 from leeds, a girl recorded our video call")
    for _ in range(12):
        _, state = await person.state()  # type: ignore[misc]
        if state == "evidence_offer":
            break
        await person.say("ok")
    await person.say("yes")  # keep evidence
    assert (await person.state())[1] == "evidence"  # type: ignore[index]
    reply = await person.say("ok")
    assert reply.texts[0] == t(engine, "evidence.how_to_finish", Profile(age=24))
    assert (await person.state())[1] == "evidence"  # type: ignore[index]
    await person.say("ok")  # nothing to add, said again: on with the advice
    assert (await person.state())[1] != "evidence"  # type: ignore[index]
