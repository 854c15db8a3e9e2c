"""A test person talking to the engine, like a channel would (Errbot's push/pop, in spirit)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from bot.engine import Engine
from bot.model import Choices, Effect, End, EventKind, Handoff, Inbound, Option, RequestUpload, Say

# A fixed moment (Monday 23 Nov 2026, 14:00 in London) so "open now" is predictable.
MONDAY_AFTERNOON = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


@dataclass
class Reply:
    effects: tuple[Effect, ...]
    duplicate: bool = False
    texts: list[str] = field(init=False)
    options: list[Option] = field(init=False)

    def __post_init__(self) -> None:
        self.texts = [e.text for e in self.effects if isinstance(e, Say)]
        choices = [e for e in self.effects if isinstance(e, Choices)]
        self.options = list(choices[-1].options) if choices else []

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def handoffs(self) -> list[Handoff]:
        return [e for e in self.effects if isinstance(e, Handoff)]

    @property
    def ended(self) -> bool:
        return any(isinstance(e, End) for e in self.effects)

    @property
    def asks_upload(self) -> bool:
        return any(isinstance(e, RequestUpload) for e in self.effects)

    def option(self, label_part: str) -> str:
        matches = [o.id for o in self.options if label_part.lower() in o.label.lower()]
        assert len(matches) == 1, f"{label_part!r} in {[o.label for o in self.options]}"
        return matches[0]


class Person:
    def __init__(self, engine: Engine, user: str = "person-1", channel: str = "test") -> None:
        self.engine = engine
        self.user = user
        self.channel = channel
        self.last: Reply | None = None

    def event(self, kind: EventKind, text: str = "", event_id: str | None = None) -> Inbound:
        return Inbound(self.channel, self.user, event_id or f"e{next(_ids)}", kind, text)

    async def send(self, event: Inbound) -> Reply:
        outcome = await self.engine.handle(event)
        self.last = Reply(outcome.effects, outcome.duplicate)
        return self.last

    async def start(self) -> Reply:
        return await self.send(self.event(EventKind.START))

    async def say(self, text: str) -> Reply:
        return await self.send(self.event(EventKind.TEXT, text))

    async def tap(self, label_part: str) -> Reply:
        assert self.last is not None
        return await self.send(self.event(EventKind.CHOICE, self.last.option(label_part)))

    async def tap_id(self, option_id: str) -> Reply:
        return await self.send(self.event(EventKind.CHOICE, option_id))

    async def state(self) -> tuple[str, str] | None:
        conversation = await self.engine.repository.load(
            self.engine.keyring.conversation_id(f"{self.channel}:{self.user}")
        )
        return (conversation.flow, conversation.state) if conversation else None


def toward_goodbye(labels: list[str]) -> str:
    """Which option walks a pattern flow to its goodbye: finish if offered, else go on, else
    the first that doesn't branch off (evidence, a person, leaving)."""
    if "I'm done for now" in labels:
        return "I'm done for now"
    if "Go on" in labels:
        return "Go on"
    side_steps = ("Yes, keep evidence", "Talk to a person", "Leave quickly")
    return next(label for label in labels if label not in side_steps)
