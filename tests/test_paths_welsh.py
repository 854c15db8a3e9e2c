"""Every path of every flow, for every kind of person, in Welsh (issue 12): the same walk as
tests/test_paths.py with conversations in `cy`, and no English sentence of the bot's on any
path (names of services and their numbers aside)."""

from __future__ import annotations

import re

import pytest

from bot.config import PROJECT_ROOT
from bot.engine import Engine
from bot.flowspec import CORE_ADVICE
from bot.model import Say
from bot.texts import Texts
from tests.auxil.chat import MONDAY_AFTERNOON
from tests.auxil.explore import Step, explore

_LEFTOVER = re.compile(r"\{[^}]*\}|\b(?:core|sys|intake|tail|dir|service)\.[a-z_]+\b")


@pytest.fixture(scope="module")
def welsh_paths(content) -> list[list[Step]]:  # type: ignore[no-untyped-def]
    from bot.crypto import Keyring
    from bot.storage.memory import MemoryRepository

    engine = Engine(content, MemoryRepository(), Keyring.for_testing(), default_locale="cy")
    return list(explore(engine, MONDAY_AFTERNOON))


def _english_only_sentences() -> set[str]:
    """Sentences of 40+ characters in the English texts that the Welsh texts don't also use
    (a service's own name or description may be the same in both)."""
    texts = Texts.load(PROJECT_ROOT / "content", "en-GB")

    def sentences(locale: str) -> set[str]:
        out = set()
        for entry in texts.catalogues[locale].values():
            for text in [entry] if isinstance(entry, str) else entry.values():
                for sentence in text.replace("\n", " ").split(". "):
                    if len(sentence) >= 40 and "{" not in sentence:
                        out.add(sentence.strip())
        return out

    return sentences("en-GB") - sentences("cy")


def test_every_welsh_path_ends_with_a_goodbye_in_small_steps(welsh_paths) -> None:  # type: ignore[no-untyped-def]
    assert len(welsh_paths) > 6 * 5 * 8 * 5
    for path in welsh_paths:
        assert path[-1].state == "done"
        assert path[-1].conversation.locale == "cy"
        for step in path:
            for effect in step.effects:
                if isinstance(effect, Say):
                    assert 0 < len(effect.text) <= 400, (step.flow, step.state, effect.text)
                    assert not _LEFTOVER.search(effect.text), effect.text


def test_no_welsh_path_shows_an_english_sentence(welsh_paths) -> None:  # type: ignore[no-untyped-def]
    english = _english_only_sentences()
    shown = {
        e.text for path in welsh_paths for step in path for e in step.effects if isinstance(e, Say)
    }
    leaks = sorted({s for s in english for text in shown if s in text})
    assert leaks == []


def test_every_welsh_pattern_path_delivers_the_core_advice(welsh_paths, content) -> None:  # type: ignore[no-untyped-def]
    for path in welsh_paths:
        pattern_steps = [s for s in path if content.flows[s.flow].spec.kind == "pattern"]
        flow = content.flows[pattern_steps[0].flow]
        given = {tag for s in pattern_steps for tag in flow.state(s.state).advice}
        assert set(CORE_ADVICE) <= given, [s.state for s in pattern_steps]
