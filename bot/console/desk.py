"""The desk between people and moderators: who is online, which conversations a moderator owns,
and the live relay both ways. Channel-agnostic: each channel registers how to reach a person.

While a moderator owns a case the bot's own flow pauses for that conversation: channels ask
`owned()` before handing an event to the engine and relay the person's words here instead.
Signals of crisis still reach the engine too, so the crisis lines are never held back.

A sweep every few seconds hands back cases whose owner can no longer act (a disabled or removed
account, also when `supportbot moderators disable` ran in another process) and tells the person,
so the bot never stays paused for someone nobody is answering.

Urgent alerts fold per source (see `bot.console.folding`): a channel that knows where a person
connects from tells the desk the source's keyed hash (`note_source`); the desk keeps it on the
open case, alerts for the first urgent case from a source at once and sums up the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bot.console.audit import Audit
from bot.console.cases import Case, CaseStore
from bot.console.folding import FOLD_SECONDS, UrgentFolds
from bot.model import EventKind, Inbound

log = logging.getLogger(__name__)
Deliver = Callable[[str, str, str], Awaitable[None]]  # (conversation id, text, kind)
Notify = Callable[[Case], Awaitable[None]]
NotifyMore = Callable[[Case, int], Awaitable[None]]  # (a case, how many more from its source)
SWEEP_SECONDS = 5.0
MAX_SOURCES = 100_000  # conversations whose source is remembered; the oldest are forgotten


@dataclass(eq=False)
class Listener:
    """One open console stream: whose session it is and until when that session is valid."""

    moderator_id: int
    session_key: str  # the session token's hash
    valid_until: float
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=100)
    )

    def end(self) -> None:
        """Close the stream: it stops counting as online now, and ends at its next read."""
        self.valid_until = 0.0
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()


def relayed(event: Inbound, command: str | None) -> bool:
    """Whether, while a moderator owns the conversation, this event goes to them instead of
    the bot. Leaving quickly and deleting always reach the engine. `command`: the command the
    event's text is (Engine.command_in)."""
    if event.kind is EventKind.TEXT:
        return command not in ("exit", "delete")
    if event.kind is EventKind.CHOICE:
        return not event.text.startswith("sys_")
    return False


class Desk:
    def __init__(self, cases: CaseStore, *, fold_seconds: float = FOLD_SECONDS) -> None:
        self.cases = cases
        self._sources: OrderedDict[str, str] = OrderedDict()  # conversation id -> source hash
        self.folds = UrgentFolds(self._summarise, fold_seconds)
        self._owned: dict[str, int] = {}
        self._channels: dict[str, Deliver] = {}
        self._listeners: set[Listener] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_urgent: Notify | None = None  # e.g. a message to the moderators' Telegram chat
        # The summary of urgent cases folded by source; without it, `on_urgent` hears of it.
        self.on_urgent_more: NotifyMore | None = None
        self.audit = Audit(cases.repository, clock=cases.clock)
        # What the person is told when the bot takes over again (the console sets it).
        # What a person is told when the bot takes over again, in their language (the console
        # sets it; None: nothing is said).
        self.left_notice: Callable[[str | None], str] | None = None
        self.clock: Callable[[], float] = time.time
        self.sweep_every = SWEEP_SECONDS
        self._sweeper: asyncio.Task[None] | None = None

    async def load(self) -> None:
        self._owned = await self.cases.claimed_conversations()
        await self.sweep()
        if self._sweeper is None and self.sweep_every > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def close(self) -> None:
        self.folds.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every)
            try:
                await self.sweep()
            except Exception as exc:  # e.g. the database closing at shutdown
                log.debug("desk sweep failed (%s)", type(exc).__name__)

    async def sweep(self) -> None:
        """End live streams whose session ended elsewhere (e.g. the command line disabled the
        account or reset its password), hand back cases whose owner was disabled or removed, and
        let the bot resume wherever the database says nobody owns a conversation any more."""
        await self._end_invalid_streams()
        for orphan in await self.cases.orphaned():
            released = await self.cases.release(orphan.id, None)
            if released is not None:
                await self.audit.record(None, "release", f"case {orphan.id}", "owner disabled")
                await self.resume(released)
        claimed = await self.cases.claimed_conversations()
        for conversation_id, owner in claimed.items():
            self._owned.setdefault(conversation_id, owner)
        gone = [cid for cid in self._owned if cid not in claimed]
        if gone:
            open_cases = {case.conversation_id: case for case in await self.cases.open_for(gone)}
            for conversation_id in gone:
                case = open_cases.get(conversation_id)
                if case is None:
                    self._owned.pop(conversation_id, None)
                else:
                    await self.resume(case)

    async def _end_invalid_streams(self) -> None:
        listeners = list(self._listeners)
        if not listeners:
            return
        keys = sorted({listener.session_key for listener in listeners})
        marks = ", ".join("?" * len(keys))
        rows = await self.cases.repository.fetch(
            "SELECT s.token_hash FROM moderator_sessions s JOIN moderators m "
            "ON m.id = s.moderator_id WHERE m.disabled = 0 AND s.created_at >= "
            f"m.password_changed_at AND s.token_hash IN ({marks})",
            tuple(keys),
        )
        valid = {row[0] for row in rows}
        for listener in listeners:
            if listener.session_key not in valid:
                listener.end()
                self._listeners.discard(listener)

    async def resume(self, case: Case) -> bool:
        """The bot takes the conversation back: tell the person once (whoever calls first) and
        every console. False when it was not paused."""
        if self._owned.pop(case.conversation_id, None) is None:
            return False
        if self.left_notice is not None:
            try:
                await self.to_person(case, self.left_notice(case.locale), "notice")
            except Exception as exc:  # the release stands; the person simply misses a notice
                log.warning("notice to case %d not delivered (%s)", case.id, type(exc).__name__)
        self.publish({"type": "queue", "case": case.id, "urgent": False})
        return True

    # --- channels ------------------------------------------------------------------------------

    def register(self, channel: str, deliver: Deliver) -> None:
        self._channels[channel] = deliver

    def owned(self, conversation_id: str) -> bool:
        return conversation_id in self._owned

    async def from_person(self, conversation_id: str, text: str, event_key: str) -> bool:
        """The person's words for the moderator, once per event however often it is resent
        (False for a resend)."""
        if not await self.cases.add_relay(conversation_id, "person", text, event_key=event_key):
            return False
        case = await self._case_id(conversation_id)
        self.publish({"type": "relay", "case": case, "urgent": False})
        return True

    async def to_person(self, case: Case, text: str, kind: str = "moderator") -> bool:
        deliver = self._channels.get(case.channel)
        if deliver is None:
            return False
        await deliver(case.conversation_id, text, kind)
        return True

    # --- cases ---------------------------------------------------------------------------------

    def set_owner(self, conversation_id: str, moderator_id: int | None) -> None:
        if moderator_id is None:
            self._owned.pop(conversation_id, None)
        else:
            self._owned[conversation_id] = moderator_id

    def erased(self, conversation_ids: set[str]) -> None:
        """Called by storage after an erasure: those cases are gone, and nobody owns them."""
        for cid in conversation_ids:
            self._sources.pop(cid, None)
        if any(self._owned.pop(cid, None) is not None for cid in list(conversation_ids)):
            self.publish({"type": "queue", "case": None, "urgent": False})

    def handed_over(self, conversation_ids: set[str]) -> None:
        """Called by storage after a commit that opened or raised cases."""
        self._spawn(self._announce(conversation_ids))

    def note_source(self, conversation_id: str, source: str | None) -> None:
        """Where a conversation connects from: a keyed hash (`folding.source_id`), never an
        address. Called by a channel before it hands the conversation's events on."""
        if source is None:
            return
        self._sources.pop(conversation_id, None)
        self._sources[conversation_id] = source
        while len(self._sources) > MAX_SOURCES:
            self._sources.popitem(last=False)

    async def _announce(self, conversation_ids: set[str]) -> None:
        sources = {cid: self._sources[cid] for cid in conversation_ids if cid in self._sources}
        try:
            await self.cases.set_sources(sources)
        except Exception as exc:  # the alert matters more: it goes out, unfolded if need be
            log.warning("could not note where cases came from (%s)", type(exc).__name__)
        try:
            cases = await self.cases.open_for(conversation_ids)
        except Exception:
            log.exception("could not read the queue")
            return
        for case in cases:
            source = case.source or sources.get(case.conversation_id)
            if case.urgent and not self.folds.admit(source, case):
                # Kept and shown in the queue (in its source's group); its alert is summed up.
                self.publish({"type": "queue", "case": case.id, "urgent": False, "folded": True})
                continue
            self.publish({"type": "queue", "case": case.id, "urgent": case.urgent})
            if case.urgent and self.on_urgent is not None:
                with contextlib.suppress(Exception):
                    await self.on_urgent(case)

    def _summarise(self, case: Case, more: int) -> None:
        """The end of a source's window: one alert for the urgent cases folded in it."""
        self.publish({"type": "queue", "case": case.id, "urgent": True, "more": more})
        self._spawn(self._tell_more(case, more))

    async def _tell_more(self, case: Case, more: int) -> None:
        with contextlib.suppress(Exception):
            if self.on_urgent_more is not None:
                await self.on_urgent_more(case, more)
            elif self.on_urgent is not None:
                await self.on_urgent(case)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _case_id(self, conversation_id: str) -> int | None:
        found = await self.cases.open_for([conversation_id])
        return found[0].id if found else None

    # --- consoles listening live ---------------------------------------------------------------

    @property
    def online(self) -> int:
        """Consoles open right now whose session is still valid (each one a moderator signed in
        and watching the queue)."""
        now = self.clock()
        return sum(1 for listener in self._listeners if listener.valid_until > now)

    def publish(self, event: dict[str, Any]) -> None:
        """Tell every open console something changed (ids only: consoles fetch the rest)."""
        for listener in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):
                listener.queue.put_nowait(event)

    def listen(self, moderator_id: int, session_key: str, valid_until: float) -> Listener:
        listener = Listener(moderator_id, session_key, valid_until)
        self._listeners.add(listener)
        return listener

    def unlisten(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def disconnect(self, *, moderator_id: int | None = None, session_key: str | None = None) -> int:
        """End the streams of one session, or of every session of one moderator."""
        ended = 0
        for listener in list(self._listeners):
            if listener.moderator_id == moderator_id or listener.session_key == session_key:
                listener.end()
                self._listeners.discard(listener)
                ended += 1
        return ended
