"""The conversation engine: channel-agnostic, never imports a platform library.

`handle(event)` runs the pure decision for one event inside the repository's transaction (so the
same event id twice has one effect) and returns the effects for the channel to deliver.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from bot import textkeys as tk
from bot.config import Settings
from bot.crypto import Keyring
from bot.directory import Directory
from bot.evidence.indicators import KINDS
from bot.evidence.pack import PackContents, build_pack
from bot.flowmachine import FlowBook
from bot.model import Conversation, Decision, Effect, EventKind, Inbound, Outcome
from bot.presenter import Presenter
from bot.reading.reader import Readers
from bot.reading.text import MAX_READ, clean, normalise
from bot.storage.base import Repository
from bot.texts import Renderer, Texts
from bot.turn import Turn, TurnContext

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Pacing:
    base: float = 0.6
    per_char: float = 0.012
    most: float = 3.0

    def delay(self, text: str) -> float:
        return min(self.most, self.base + self.per_char * len(text))


@dataclass
class Content:
    """Everything loaded from `flows/` and `content/`, once per process."""

    flows: FlowBook
    texts: Texts
    directory: Directory
    readers: Readers

    @classmethod
    def load(cls, settings: Settings) -> Content:
        return cls(
            flows=FlowBook.load(settings.flows_dir),
            texts=Texts.load(settings.content_dir, settings.default_locale),
            directory=Directory.load(settings.content_dir / "directory.yaml", settings.timezone),
            readers=Readers(settings.content_dir, settings.default_locale),
        )


class Engine:
    def __init__(
        self,
        content: Content,
        repository: Repository,
        keyring: Keyring,
        *,
        default_locale: str = "en-GB",
        pacing: Pacing = Pacing(),
        max_text_chars: int = 6000,
        clock: Callable[[], dt.datetime] = utcnow,
        welcome_locales: tuple[str, ...] = (),
    ) -> None:
        self.flows = content.flows
        self.renderer = Renderer(content.texts, content.directory)
        self.presenter = Presenter(self.renderer)
        self.repository = repository
        self.keyring = keyring
        self.default_locale = default_locale
        self.pacing = pacing
        self.max_text_chars = max_text_chars
        self.clock = clock
        # Whether a moderator is online now (the console sets it); decides what a person who
        # asks for a human is told.
        self.staffed: Callable[[], bool] = lambda: False
        self.readers = content.readers
        self.context = TurnContext(
            flows=self.flows,
            renderer=self.renderer,
            presenter=self.presenter,
            readers=content.readers,
            staffed=lambda: self.staffed(),
            pace=self.pace,
            max_text_chars=max_text_chars,
            default_locale=default_locale,
            welcome_locales=tuple(
                loc for loc in welcome_locales if loc in content.readers.languages.offered
            ),
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, content: Content, repository: Repository, keyring: Keyring
    ) -> Engine:
        return cls(
            content,
            repository,
            keyring,
            default_locale=settings.default_locale,
            pacing=Pacing(settings.pace_base, settings.pace_per_char, settings.pace_max),
            max_text_chars=settings.max_text_chars,
            welcome_locales=tuple(
                loc.strip() for loc in settings.welcome_locales.split(",") if loc.strip()
            ),
        )

    def crisis_in(self, event: Inbound) -> bool:
        """Whether anything the person sent with this event (text, caption, /start words) signals
        risk, clear or possible. Channels call it at the edge, e.g. to let a crisis through while
        a moderator talks. Buttons carry option ids, never words."""
        if event.kind is EventKind.CHOICE:
            return False
        words = event.payload if event.kind is EventKind.START else event.text
        return bool(words.strip()) and self.readers.crisis_in(words).level != "none"

    def command_in(self, event: Inbound) -> str | None:
        """The command (exit, delete, help...) a typed message is, in the default locale."""
        if event.kind is not EventKind.TEXT:
            return None
        # Only the command reader: the channels ask this for every relayed message, and the
        # rest of the reading (slots, questions) is the engine's work, done once, in decide.
        text = clean(event.text)[:MAX_READ]
        return self.readers.default.commands.command_in(text, normalise(text))

    def crisis_fallback(self, event: Inbound) -> tuple[Effect, ...]:
        """The crisis answer for this event without any storage, or () when there is no crisis.
        Channels deliver it at once when saving or deciding failed: it must reach the person."""
        if not self.crisis_in(event):
            return ()
        turn = Turn(self.context, None, event, self.clock(), self.conversation_id(event))
        return tuple(turn.crisis_only())

    def pace(self, text: str) -> float:
        return self.pacing.delay(text)

    def conversation_id(self, event: Inbound) -> str:
        return self.keyring.conversation_id(event.conversation_key)

    def decide(
        self, conversation: Conversation | None, event: Inbound, now: dt.datetime
    ) -> Decision:
        return Turn(self.context, conversation, event, now, self.conversation_id(event)).decide()

    async def handle(self, event: Inbound, *, durable: bool = False) -> Outcome:
        """Decide and store one event. `durable`: also keep the effects in the outbox until the
        channel says they were delivered (for channels that must survive a crash mid-reply)."""
        now = self.clock()
        outcome = await self.repository.process(
            self.conversation_id(event),
            f"{event.channel}:{event.event_id}",
            partial(self.decide, event=event, now=now),
            outbox=event.user_key if durable else None,
        )
        # Ids and counts only: never what the person wrote.
        log.debug(
            "event channel=%s kind=%s effects=%d duplicate=%s",
            event.channel,
            event.kind.value,
            len(outcome.effects),
            outcome.duplicate,
        )
        return outcome

    async def export_pack(self, conversation_id: str) -> bytes | None:
        """The person's evidence pack (ZIP), or None if there is no such conversation."""
        conversation = await self.repository.load(conversation_id)
        if conversation is None:
            return None
        items = []
        for record in await self.repository.evidence_items(conversation_id):
            # Decrypted in a worker thread (evidence_data), and checked in one too: a person
            # can make these large, and the event loop must keep answering everyone else.
            data = await self.repository.evidence_data(record)
            digest = (await asyncio.to_thread(hashlib.sha256, data)).hexdigest()
            if digest != record.sha256:
                raise RuntimeError(f"evidence item {record.id} does not match its recorded hash")
            items.append((record, data))
        profile = conversation.profile
        keys = [
            f"pattern.{profile.pattern}",
            tk.age_label(str(profile.age_band)),
            tk.nation_label(str(profile.nation)),
            *(f"ind.{kind}" for kind in KINDS),
        ]
        texts, locale = self.renderer.texts, conversation.locale
        labels = {key: self.renderer.text(locale, key, profile) for key in keys if texts.has(key)}
        if f"pattern.{profile.pattern}" in labels:
            labels["pattern"] = labels[f"pattern.{profile.pattern}"]
        transcript = await self.repository.transcript(conversation_id)
        # What the pack calls advice: the flows' advice steps and answers to their questions,
        # never re-asks, read-backs or notices.
        advice = [
            said
            for entry in transcript
            for said, kind in zip(entry.outbound, entry.kinds, strict=False)
            if kind in ("advice", "answer", "crisis")
        ]
        contents = PackContents(
            conversation=conversation,
            items=items,
            transcript=transcript,
            labels=labels,
            advice=advice,
            generated_at=self.clock().timestamp(),
        )
        return await asyncio.to_thread(build_pack, contents)
