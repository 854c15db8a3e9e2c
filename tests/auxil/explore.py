"""Walk every path through the bot by tapping every option it offers, depth first.

Paths are derived from what the engine offers at each step (which comes from the flow graph),
not hand-listed. The engine's decision is pure, so we branch by copying the conversation.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from bot.engine import Engine
from bot.model import Choices, Conversation, Effect, EventKind, Inbound


@dataclass
class Step:
    flow: str
    state: str
    effects: list[Effect]
    conversation: Conversation  # a snapshot after this step


def _options(effects: list[Effect]) -> list[str]:
    choices = [e for e in effects if isinstance(e, Choices)]
    return [o.id for o in choices[-1].options] if choices else []


def explore(engine: Engine, now: dt.datetime) -> Iterator[list[Step]]:
    counter = iter(range(10**9))

    def event(kind: EventKind, text: str = "") -> Inbound:
        return Inbound("explore", "someone", f"x{next(counter)}", kind, text)

    first = engine.decide(None, event(EventKind.START), now)
    assert first.conversation is not None
    root = Step(
        first.conversation.flow,
        first.conversation.state,
        first.effects,
        copy.deepcopy(first.conversation),
    )

    def walk(path: list[Step]) -> Iterator[list[Step]]:
        here = path[-1]
        if engine.flows[here.flow].state(here.state).final:
            yield path
            return
        visited = {(s.flow, s.state) for s in path}
        for option in _options(here.effects):
            decision = engine.decide(
                copy.deepcopy(here.conversation), event(EventKind.CHOICE, option), now
            )
            conversation = decision.conversation
            assert conversation is not None, f"option {option} at {here.flow}.{here.state} ended"
            key = (conversation.flow, conversation.state)
            if key in visited:
                continue  # a loop back (e.g. "safer" <-> "human"); the path ends elsewhere
            yield from walk([*path, Step(key[0], key[1], decision.effects, conversation)])

    yield from walk([root])
