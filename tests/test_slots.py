"""The slot reader: ages, places, patterns, facts and short replies, from understanding.yaml."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.eval_stories import evaluate
from bot.reading.slots import _LETTERS_THEN_DIGIT, SlotReader, _maybe_handle
from bot.reading.text import clean, normalise

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content" / "en-GB"


@pytest.fixture(scope="module")
def reader() -> SlotReader:
    return SlotReader.load(CONTENT / "understanding.yaml")


def fold(text: str) -> str:
    return normalise(clean(text))


@pytest.mark.parametrize(
    ("text", "age", "band", "certain"),
    [
        ("I'm 15", 15, "13_17", True),
        ("15", 15, "13_17", True),
        ("im fifteen", 15, "13_17", True),
        ("15 yo", 15, "13_17", True),
        ("15yo", 15, "13_17", True),
        ("15m from leeds", 15, "13_17", True),
        ("age 15", 15, "13_17", True),
        ("15 years old", 15, "13_17", True),
        ("just turned 16", 16, "13_17", True),
        ("i am twenty one", 21, "18_24", True),
        ("I'm 27 and I live in Cardiff", 27, "25_34", True),
        ("help. 16. they recorded me", 16, "13_17", True),
        ("born in 2009", 17, "13_17", False),
        ("im 12", 12, "under_13", True),
        ("I'm 40", 40, "35_plus", True),
        ("dw i'n 15", 15, "13_17", True),
        ("15 oed", 15, "13_17", True),
        ("15 nearly 16", 15, "13_17", True),
    ],
)
def test_ages_said(reader: SlotReader, text: str, age: int, band: str, certain: bool) -> None:
    reading = reader.age(fold(text))
    assert reading is not None
    assert (reading.age, reading.band, reading.certain) == (age, band, certain)


@pytest.mark.parametrize(
    ("text", "band", "detail"),
    [
        ("im in year 10", "13_17", "year 10"),
        ("im in year 7", "under_13", "year 7"),
        ("im in s4", "13_17", "in s4"),
        ("I'm at uni", "18_24", "at uni"),
        ("in sixth form", "13_17", "in sixth form"),
        ("doing my gcses", "13_17", "doing my gcses"),
        ("im a teenager", "13_17", "a teenager"),
        ("in my twenties", "18_24", "in my twenties"),
    ],
)
def test_ages_inferred(reader: SlotReader, text: str, band: str, detail: str) -> None:
    reading = reader.age(fold(text))
    assert reading is not None and not reading.certain and reading.age is None
    assert (reading.band, reading.detail) == (band, detail)


@pytest.mark.parametrize(
    "text",
    [
        "they want £15",
        "15 quid",
        "15 pounds or they post it",
        "i have 48 hours",
        "15 minutes ago",
        "it was 2009",
        "15 or 16",
        "she said she was 17",
        "a 19 year old girl added me",
        "my mum is 45",
        "i'm 5 minutes away",
        "hello",
        "1000",
        "my phone number is 07700900123",
    ],
)
def test_not_an_age(reader: SlotReader, text: str) -> None:
    assert reader.age(fold(text)) is None


@pytest.mark.parametrize(
    "text",
    ["sorry i lied, im actually 15", "actually I'm 15", "i meant 15", "I'm not 18 I'm 15"],
)
def test_age_corrections(reader: SlotReader, text: str) -> None:
    reading = reader.age(fold(text))
    assert reading is not None and reading.correction and reading.age == 15


def test_prefer_not_to_say(reader: SlotReader) -> None:
    reading = reader.age(fold("I'd rather not say"))
    assert reading is not None and reading.band == "unknown" and reading.age is None


@pytest.mark.parametrize(
    ("text", "nation", "certain", "place"),
    [
        ("I live in Wales", "wales", True, ""),
        ("Scotland", "scotland", True, ""),
        ("cymru", "wales", True, ""),
        ("norn iron", "northern_ireland", True, ""),
        ("I live in Cardiff", "wales", False, "Cardiff"),
        ("caerdydd", "wales", False, "Cardiff"),
        ("from Abertawe", "wales", False, "Swansea"),
        ("Casnewydd", "wales", False, "Newport"),
        ("Caerfyrddin", "wales", False, "Carmarthen"),
        ("wrecsam", "wales", False, "Wrexham"),
        ("bangor", "wales", False, "Bangor"),
        ("im from cardif", "wales", False, "Cardiff"),
        ("16 from scottland", "scotland", True, ""),
        ("Belfast", "northern_ireland", False, "Belfast"),
        ("live in Milton Keynes", "england", False, "Milton Keynes"),
        ("I live in Reading", "england", False, "Reading"),
        ("I'm in Dublin", "outside_uk", True, "Dublin"),
        ("I live in Cardiff, Wales", "wales", True, "Cardiff"),
        ("dw i'n byw yng Nghaerdydd", "wales", False, "Cardiff"),
        ("yng Nghymru", "wales", True, ""),
        ("she said she was from Leeds, I'm from Swansea", "wales", False, "Swansea"),
    ],
)
def test_places(reader: SlotReader, text: str, nation: str, certain: bool, place: str) -> None:
    reading = reader.place(fold(text))
    assert reading is not None
    assert (reading.nation, reading.certain, reading.place) == (nation, certain, place)


@pytest.mark.parametrize(
    "text",
    [
        "I was reading her messages",
        "had a bath",
        "sorry my english is bad",
        "us",
        "I'll be 18 in March",
        "I live in the UK",
    ],
)
def test_words_that_are_not_places(reader: SlotReader, text: str) -> None:
    assert reader.place(fold(text)) is None


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("she recorded me on a video call and now wants money", "webcam"),
        ("got an email, it says your password is hunter2, pay in bitcoin", "phishing"),
        ("a girl I met on tinder asked for pics", "fake_profile"),
        ("someone cloned my friends account and asked me for pictures", "impersonation"),
        ("someone hacked my snapchat and got into my saved pictures, im locked out", "hacked"),
        ("they posted it in a group chat with my friends", "shared"),
        ("I already paid them 300 with a gift card", "paid"),
        ("she facetimed me on snapchta and screen recorded it", "webcam"),
        ("got an email sayin they put malwear on my pc, they want bitcion", "phishing"),
        ("i paid them £50 but they still sent it to my mum", "shared"),
    ],
)
def test_patterns(reader: SlotReader, text: str, pattern: str) -> None:
    reading = reader.pattern(fold(text))
    assert reading is not None and reading.ranked[0] == pattern


def test_paid_and_shared_outrank(reader: SlotReader) -> None:
    reading = reader.pattern(fold("a girl on insta video called me, recorded it, I paid her £100"))
    assert reading is not None and reading.ranked[0] == "paid" and reading.certain


@pytest.mark.parametrize(
    "text", ["I haven't paid", "they havent posted it yet", "should i pay them?"]
)
def test_negated_paid_or_shared_is_not_the_pattern(reader: SlotReader, text: str) -> None:
    reading = reader.pattern(fold(text))
    assert reading is None or reading.ranked[0] not in ("paid", "shared")


def test_other_is_never_guessed(reader: SlotReader) -> None:
    assert reader.pattern(fold("someone is threatening me and I don't know what to do")) is None


def test_facts_from_a_full_story(reader: SlotReader) -> None:
    story = (
        "im 15m from abertawe, a girl added me on instagarm, we moved to snap and facetimed. "
        "she screen recorded me. I sent her £50 on a steam gift card but she says send more "
        "pics or she posts it, i have 24 hours"
    )
    folded = fold(story)
    facts = reader.facts(folded)
    assert facts.platforms == ("Instagram", "Snapchat", "FaceTime")
    assert facts.paid is True and facts.amount == "£50"
    assert facts.methods == ("gift cards",)
    assert facts.deadline == "24 hours" and facts.send_more
    age, place = reader.age(folded), reader.place(folded)
    assert age is not None and age.age == 15
    assert place is not None and (place.nation, place.place) == ("wales", "Swansea")


@pytest.mark.parametrize(
    ("text", "paid", "amount", "methods"),
    [
        ("I haven't paid anything", False, "", ()),
        ("i paid them £1,500 by bank transfer", True, "£1,500", ("bank transfer",)),
        ("they want $1000 in bitcoin", None, "$1000", ("crypto",)),
        ("they want 500 pounds through western union", None, "500 pounds", ("Western Union",)),
    ],
)
def test_money_facts(
    reader: SlotReader, text: str, paid: bool | None, amount: str, methods: tuple[str, ...]
) -> None:
    facts = reader.facts(fold(text))
    assert (facts.paid, facts.amount, facts.methods) == (paid, amount, methods)


def test_deadline_words(reader: SlotReader) -> None:
    assert reader.facts(fold("pay by tonight or else")).deadline == "by tonight"
    assert reader.facts(fold("you have 48 hours")).deadline == "48 hours"
    assert reader.facts(fold("they gave me 24 hours")).deadline == "24 hours"
    assert reader.facts(fold("72 hours to pay")).deadline == "72 hours"
    assert reader.facts(fold("we talked for 2 hours")).deadline == ""
    assert reader.facts(fold("10 minutes ago")).deadline == ""


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("ok", True),
        ("ok.", True),
        ("no.", False),
        ("👍", True),
        ("yeah go on then", True),
        ("yes please", True),
        ("sounds good", True),
        ("ye", True),
        ("nah", False),
        ("not now", False),
        ("no thanks", False),
        ("rather not", False),
        ("later", False),
        ("yes no", None),
        ("ok but what if they post it", None),
        ("they recorded me on a video call and I don't know what to do, ok", None),
    ],
)
def test_agreement(reader: SlotReader, text: str, answer: bool | None) -> None:
    assert reader.agreement(fold(text)) is answer


@pytest.mark.parametrize(
    ("text", "done"),
    [
        ("done", True),
        ("done.", True),
        ("that's all", True),
        ("thats it thanks", True),
        ("nothing else", True),
        ("no more", True),
        ("I'm done", True),
        ("all done", True),
        ("finished now", True),
        ("not done yet", False),
        ("here is another screenshot", False),
        ("no", False),
    ],
)
def test_done(reader: SlotReader, text: str, done: bool) -> None:
    assert reader.done(fold(text)) is done


def test_stories_meet_targets() -> None:
    results = evaluate(CONTENT, ROOT / "bench" / "eval" / "en-GB")
    assert results["dev_stories"] + results["test_stories"] >= 150
    for slot in ("age", "nation", "pattern"):
        assert results[f"dev_{slot}_accuracy"] >= 0.95, slot


ADVERSARIAL = [
    "1," * 2999,
    "a " * 3000,
    "i am " * 1000,
    "£" * 6000,
    "x" * 6000,
    "im 1" * 1500,
    "year " * 1200,
    "£1 " * 2000,
    "born in " * 750,
    "she was from " * 460,
    "instagarm " * 600,
    "a" * 3000 + " " + "b" * 2999,
    "15." * 2000,
    "hacked my " * 600,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_time_budget_on_adversarial_input(reader: SlotReader, text: str) -> None:
    # A safety bound (no regex or loop blows up), not a benchmark: the best of three runs, so a
    # garbage collection or a busy machine can't fail it, but anything superlinear still would.
    folded = fold(text)
    durations = []
    for run in range(3):
        varied = folded + " " * run  # a new string each run, so the scan cache can't answer
        start = time.perf_counter()
        reader.age(varied)
        reader.place(varied)
        reader.pattern(varied)
        reader.facts(varied)
        reader.agreement(varied)
        reader.done(varied)
        durations.append(time.perf_counter() - start)
    assert min(durations) < 0.05


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_no_slot_raises(text: str) -> None:
    reader = SlotReader.load(CONTENT / "understanding.yaml")
    folded = fold(text)
    reader.age(folded)
    reader.place(folded)
    reader.pattern(folded)
    reader.facts(folded)
    reader.agreement(folded)
    reader.done(folded)
    # Unfolded text too: the engine always folds, but a reader must not trust that.
    reader.age(text)
    reader.place(text)
    reader.pattern(text)
    reader.facts(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abz09 .,_-'\u00e9", max_size=40))
def test_the_quick_username_check_agrees_with_its_regex(text: str) -> None:
    # Plain ASCII text takes a translate-and-find path; it must find what the regex finds.
    folded = normalise(clean(text))
    plain = "_" in folded or "@" in folded or "#" in folded
    assert _maybe_handle(folded) == (plain or bool(_LETTERS_THEN_DIGIT.search(folded)))
