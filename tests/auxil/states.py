"""Every state a person can be in, as decided snapshots, for "from every state" tests."""

from __future__ import annotations

import copy
import datetime as dt
import itertools

from bot.engine import Engine
from bot.model import Conversation, Decision, Effect, EventKind, Inbound, Profile, Say
from bot.predicates import young
from tests.auxil.explore import explore

_ids = itertools.count(1)


def every_state(
    engine: Engine, now: dt.datetime, *, adult: bool | None = None
) -> list[Conversation]:
    """One conversation snapshot per (flow, state, young or not), reached by tapping buttons."""
    seen: dict[tuple[str, str, bool], Conversation] = {}
    for path in explore(engine, now):
        for step in path:
            conv = step.conversation
            is_young = young(conv.profile) if conv.profile.age_band else True
            if adult is not None and is_young == adult:
                continue
            seen.setdefault((conv.flow, conv.state, is_young), copy.deepcopy(conv))
    return list(seen.values())


def send(
    engine: Engine,
    conversation: Conversation | None,
    kind: EventKind,
    text: str = "",
    now: dt.datetime | None = None,
    **extra: object,
) -> Decision:
    """Decide one event on a copy of a snapshot (the engine's decision is pure)."""
    event = Inbound("explore", "someone", f"s{next(_ids)}", kind, text, **extra)  # type: ignore[arg-type]
    return engine.decide(copy.deepcopy(conversation), event, now or dt.datetime.now(dt.UTC))


def texts(effects: list[Effect]) -> list[str]:
    return [e.text for e in effects if isinstance(e, Say)]


def t(engine: Engine, key: str, profile: Profile | None = None, **values: str) -> str:
    return engine.renderer.text("en-GB", key, profile or Profile(), **values)
