"""Every path of every flow, for every kind of person, as the engine actually runs it."""

from __future__ import annotations

import re

import pytest

from bot.engine import Engine
from bot.flowspec import CORE_ADVICE
from bot.model import RequestUpload, Say
from bot.predicates import young
from tests.auxil.chat import MONDAY_AFTERNOON
from tests.auxil.explore import Step, explore

_LEFTOVER = re.compile(r"\{[^}]*\}|\b(?:core|sys|intake|tail|dir|service)\.[a-z_]+\b")


@pytest.fixture(scope="module")
def paths(content) -> list[list[Step]]:  # type: ignore[no-untyped-def]
    from bot.crypto import Keyring
    from bot.storage.memory import MemoryRepository

    engine = Engine(content, MemoryRepository(), Keyring.for_testing())
    return list(explore(engine, MONDAY_AFTERNOON))


def test_paths_cover_every_person_and_every_state(paths, content) -> None:  # type: ignore[no-untyped-def]
    # 6 age answers x 5 places x 8 patterns, each with several ways through the pattern and tail.
    assert len(paths) > 6 * 5 * 8 * 5
    visited = {(step.flow, step.state) for path in paths for step in path}
    every_state = {
        (flow.id, state) for flow in content.flows.flows.values() for state in flow.spec.states
    }
    assert every_state <= visited, f"never reached: {sorted(every_state - visited)}"


def test_every_path_ends_with_a_goodbye_in_small_steps(paths) -> None:  # type: ignore[no-untyped-def]
    for path in paths:
        assert path[-1].state == "done"
        for step in path:
            for effect in step.effects:
                if isinstance(effect, Say):
                    assert 0 < len(effect.text) <= 400, (step.flow, step.state, effect.text)
                    assert not _LEFTOVER.search(effect.text), effect.text


def test_every_pattern_path_delivers_the_core_advice(paths, content) -> None:  # type: ignore[no-untyped-def]
    for path in paths:
        pattern_steps = [s for s in path if content.flows[s.flow].spec.kind == "pattern"]
        flow = content.flows[pattern_steps[0].flow]
        given = {tag for s in pattern_steps for tag in flow.state(s.state).advice}
        assert set(CORE_ADVICE) <= given, [s.state for s in pattern_steps]
        said = " ".join(e.text for s in pattern_steps for e in s.effects if isinstance(e, Say))
        assert "don't pay" in said.lower()
        assert "not your fault" in said.lower()


def test_young_people_get_their_own_path(paths) -> None:  # type: ignore[no-untyped-def]
    young_paths = adult_uk_paths = 0
    for path in paths:
        profile = path[-1].conversation.profile
        said = " ".join(e.text for s in path for e in s.effects if isinstance(e, Say))
        assert not any(
            isinstance(e, RequestUpload) for s in path for e in s.effects if young(profile)
        )
        if young(profile):
            young_paths += 1
            if profile.nation != "outside_uk":
                assert "ceop.police.uk" in said
                assert "adult you trust" in said
            assert "Revenge Porn Helpline" not in said  # an adults-only service
        elif profile.nation != "outside_uk":
            adult_uk_paths += 1
            assert "police on 101" in said
            assert "CEOP" not in said
    assert young_paths and adult_uk_paths


def test_images_shared_routes_depend_on_age(paths) -> None:  # type: ignore[no-untyped-def]
    for path in paths:
        if path[-1].conversation.profile.pattern != "shared":
            continue
        said = " ".join(e.text for s in path for e in s.effects if isinstance(e, Say))
        if young(path[-1].conversation.profile):
            assert "Report Remove" in said and "StopNCII" not in said
        else:
            assert "StopNCII" in said and "Report Remove" not in said
