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

    def is_final(step: Step) -> bool:
        return engine.flows[step.flow].state(step.state).final

    def walk(path: list[Step]) -> Iterator[list[Step]]:
        here = path[-1]
        if is_final(here):
            yield path
            if any(is_final(s) for s in path[:-1]):
                return  # went on from a goodbye once already (e.g. to add evidence later)
        visited = {(s.flow, s.state) for s in path}
        for option in _options(here.effects):
            decision = engine.decide(
                copy.deepcopy(here.conversation), event(EventKind.CHOICE, option), now
            )
            conversation = decision.conversation
            assert conversation is not None, f"option {option} at {here.flow}.{here.state} ended"
            key = (conversation.flow, conversation.state)
            step = Step(key[0], key[1], decision.effects, conversation)
            if key in visited:
                if is_final(step) and not is_final(here):
                    yield [*path, step]  # back to the goodbye it went on from
                continue  # a loop back (e.g. "safer" <-> "human"); the path ends elsewhere
            yield from walk([*path, step])

    yield from walk([root])
