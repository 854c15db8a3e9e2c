"""The crisis reader: concepts, negation and idioms, someone else at risk, the evaluation set,
and safety bounds (any text, any length, never slow, never an exception)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.eval_crisis import evaluate
from bot.reading.crisis import CrisisReader, CrisisSignal
from bot.reading.text import MAX_READ, clean, normalise

ROOT = Path(__file__).parents[1]
LEXICON = ROOT / "content" / "en-GB" / "crisis.yaml"
EVAL_DIR = ROOT / "bench" / "eval" / "en-GB"
READER = CrisisReader.load(LEXICON)
LEVELS = {"none", "possible", "clear"}


def read(text: str) -> CrisisSignal:
    return READER.assess(normalise(clean(text)))


@pytest.mark.parametrize(
    "text",
    [
        # the five phrasings from the issue
        "I'm going to take all my pills tonight",
        "everyone would be better off without me",
        "thinking about jumping off a bridge",
        "I've been looking up ways to end it",
        "what's the point of living now",
        # wish to die, intent, method, self-harm, burden, goodbye, research, past attempts
        "honestly I just want to die",
        "I'm going to kill myself if this gets out",
        "ive got a rope in my room",
        "im at the train tracks",
        "I've been cutting my arms again",
        "no one would even care if I died",
        "this is goodbye",
        "tell my mum I'm sorry",
        "I won't be here tomorrow",
        "what's the easiest way to die",
        "I tried to end it last year",
        "I don't deserve to live",
        # slang and misspellings
        "i wanna unalive myself",
        "kms",
        "i might just kys",
        "i want to disappear forever",
        "thinking about sucide every night",
        "i feel suicidle",
        "i wanna kil myself",
        "wanna dye",
        "i want to kill myslef",
        "thinkin bout jumpin off the bridge",
        "no, I want to die",  # "no" answers the question before; it negates nothing
        "no i just want to kill myself",
    ],
)
def test_clear(text: str) -> None:
    assert read(text) == CrisisSignal("clear")


@pytest.mark.parametrize(
    "text",
    [
        "what's the point any more",
        "I can't take this",
        "I can't cope",
        "I want it all to stop",
        "I just want to disappear",
        "my life is over",
        "I'd rather die than my parents see this",
        # negated clear statements stay a gentle check, never nothing
        "I'm not going to kill myself",
        "I'm not going to do anything stupid",
        "I don't want to die, I want this to stop",
        # the blackmailer's words: a reason to check in
        "he told me to kill myself",
        "they told me to kys",
    ],
)
def test_possible(text: str) -> None:
    assert read(text) == CrisisSignal("possible")


@pytest.mark.parametrize(
    "text",
    [
        "I'd die of embarrassment",
        "my mum will kill me",
        "my dad is going to kill me",
        "I'm dying to know",
        "this is killing me",
        "I nearly died laughing",
        "kill the chat",
        "dead embarrassed",
        "I'm not suicidal, just scared",
        "my life is ruined if my parents see this",
        "I did something stupid and sent pics",
        "i'm overdoing it with the screenshots",
        "I want to disappear from social media for a bit",
        "they said they'll end my life online",
        "I take pills for my asthma",
        "my battery died",
        "",
        ".",
    ],
)
def test_none(text: str) -> None:
    assert read(text) == CrisisSignal("none")


# Everything the old phrase list (bot.understanding.signals_crisis) caught, so swapping it for
# this reader loses nothing.
@pytest.mark.parametrize(
    "text",
    [
        "I want to die",
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
        "I cant go on",
        "want to take my own life",
        "I KILL MYSELF",
        "i want to d\u200bie",
        "there's no point living",
        "I keep thinking about hurting myself",
    ],
)
def test_what_the_old_phrase_list_caught(text: str) -> None:
    assert read(text).level != "none"


@pytest.mark.parametrize(
    "text",
    [
        "they said they will kill my reputation",
        "I'm dying of embarrassment haha no",
        "I'm willing to report it",
        "I'm filling in the police form",
        "the billing address on my card",
        "I left my tablet at school",
        "my charger died",
    ],
)
def test_real_words_near_lexicon_words_are_left_alone(text: str) -> None:
    assert read(text).level == "none"


def test_another_locale_brings_its_own_file(tmp_path: Path) -> None:
    # The reader knows no language itself: a file of the same shape is all a locale needs.
    lexicon = {
        "spellings": {"dw": "dwi"},
        "negation": {"window": 3, "words": ["ddim"], "fillers": ["yn"]},
        "subjects": {"window": 4, "self": ["fi"], "other": ["hi", "fe"]},
        "cues": [
            {
                "concept": "wish",
                "level": "clear",
                "negated": "possible",
                "subject": "detect",
                "phrases": ["eisiau marw"],
            },
        ],
    }
    path = tmp_path / "crisis.yaml"
    path.write_text(yaml.safe_dump(lexicon), encoding="utf-8")
    reader = CrisisReader.load(path)
    assert reader.assess("dwi eisiau marw") == CrisisSignal("clear")
    assert reader.assess("dwi ddim eisiau marw") == CrisisSignal("possible")
    assert reader.assess("mae hi eisiau marw") == CrisisSignal("clear", about_other=True)
    assert reader.assess("dwi eisiau mynd adref") == CrisisSignal("none")


def test_not_suicidal_but_still_thinking_about_it() -> None:
    # The first clause is taken at its word; the second still counts.
    assert read("I'm not suicidal but I keep thinking about ending it").level != "none"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("my friend says she'll kill herself", "clear"),
        ("my brother keeps saying he wants to die", "clear"),
        ("my mate is on the bridge and says he's going to jump", "clear"),
        ("my gf wants to unalive herself", "clear"),
        ("my daughter says her life is over", "possible"),
    ],
)
def test_someone_else_at_risk(text: str, level: str) -> None:
    assert read(text) == CrisisSignal(level, about_other=True)  # type: ignore[arg-type]


def test_own_risk_comes_before_someone_elses() -> None:
    assert read("my friend wants to die and so do I, I want to die") == CrisisSignal("clear")


def test_the_whole_evaluation_set_meets_the_targets() -> None:
    figures = evaluate(ROOT / "content" / "en-GB", EVAL_DIR)
    assert figures["n_crisis"] >= 300 and figures["n_ordinary"] >= 300
    assert figures["recall_any"] == 1.0
    assert figures["false_alarm_rate"] <= 0.03
    assert figures["about_other_recall"] == 1.0


def test_the_evaluation_set_is_well_formed() -> None:
    data: dict[str, Any] = yaml.safe_load(EVAL_DIR.joinpath("crisis.yaml").read_text("utf-8"))
    assert data["sources"] and all(s["url"].startswith("https://") for s in data["sources"])
    items = data["items"]
    texts = [i["text"] for i in items]
    assert len(texts) == len(set(texts))
    assert {i["label"] for i in items} == LEVELS
    assert {i["source"] for i in items} == {"guidance", "forum-typical", "variant"}
    # About 30% test in the first batch; later batches (each written after the rules of the
    # time were frozen, to measure wording the lexicon had not seen) are all test.
    first = [i for i in items if i.get("batch", 1) == 1]
    assert 0.25 < sum(i["split"] == "test" for i in first) / len(first) < 0.35
    assert all(i["split"] == "test" for i in items if i.get("batch", 1) > 1)


def test_a_word_the_rewrite_step_replaces_cannot_be_used_in_a_phrase() -> None:
    data: dict[str, Any] = yaml.safe_load(LEXICON.read_text("utf-8"))
    data["cues"] = [{"concept": "x", "level": "clear", "negated": "none", "subject": "self",
                     "phrases": ["wanna die"]}]  # fmt: skip
    with pytest.raises(ValueError, match="rewritten"):
        CrisisReader(data)


def test_a_bare_yaml_boolean_in_a_word_list_fails_at_load() -> None:
    # YAML reads a bare `no`, `on` or `off` as a boolean, which would never match a word.
    data: dict[str, Any] = yaml.safe_load(LEXICON.read_text("utf-8").replace('"on"', "on"))
    assert True in data["common"]
    with pytest.raises(ValueError, match="common"):
        CrisisReader(data)


_RNG = random.Random(20261202)
ADVERSARIAL = [
    "a " * 3000,
    "kill " * 1200,
    "not " * 1500,
    "i want to " * 600,
    "can not take " * 460,
    "no one would " * 460,
    "take all ~ pills " * 350,
    ". " * 3000,
    "x" * MAX_READ,
    "kill" * 1500,
    "".join(chr(_RNG.randrange(32, 0x10FFFF)) for _ in range(6000)),
    "".join(_RNG.choice("kilmyselfdie .") for _ in range(6000)),
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_input_stays_within_a_generous_bound(text: str) -> None:
    # A safety bound against pathological slowness, not a benchmark (that is bench/eval_crisis).
    folded = normalise(clean(text))
    start = time.perf_counter()
    signal = READER.assess(folded)
    assert time.perf_counter() - start < 0.05
    assert signal.level in LEVELS


_VOCABULARY = [*sorted(READER.anchors), ".", "not", "i", "my", "he", "told", "me", "to"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=7000))
def test_any_text_reads_without_error(text: str) -> None:
    assert read(text).level in LEVELS
    assert READER.assess(text).level in LEVELS  # even unfolded input must not break it


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_VOCABULARY), max_size=400))
def test_any_mix_of_lexicon_words_reads_without_error(words: list[str]) -> None:
    signal = READER.assess(" ".join(words))
    assert signal.level in LEVELS
    assert isinstance(signal.about_other, bool)
