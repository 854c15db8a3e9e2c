"""The desk between people and moderators: who is online, which conversations a moderator owns,
and the live relay both ways. Channel-agnostic: each channel registers how to reach a person.

While a moderator owns a case the bot's own flow pauses for that conversation: channels ask
`owned()` before handing an event to the engine and relay the person's words here instead.
Signals of crisis still reach the engine too, so the crisis lines are never held back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from bot.console.cases import Case, CaseStore
from bot.model import EventKind, Inbound

log = logging.getLogger(__name__)
Deliver = Callable[[str, str, str], Awaitable[None]]  # (conversation id, text, kind)
Notify = Callable[[Case], Awaitable[None]]


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
    def __init__(self, cases: CaseStore) -> None:
        self.cases = cases
        self._owned: dict[str, int] = {}
        self._channels: dict[str, Deliver] = {}
        self._listeners: set[asyncio.Queue[dict[str, Any]]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_urgent: Notify | None = None  # e.g. a message to the moderators' Telegram chat

    async def load(self) -> None:
        self._owned = await self.cases.claimed_conversations()

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
        if any(self._owned.pop(cid, None) is not None for cid in list(conversation_ids)):
            self.publish({"type": "queue", "case": None, "urgent": False})

    def handed_over(self, conversation_ids: set[str]) -> None:
        """Called by storage after a commit that opened or raised cases."""
        task = asyncio.get_running_loop().create_task(self._announce(conversation_ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce(self, conversation_ids: set[str]) -> None:
        try:
            queue = await self.cases.queue()
        except Exception:
            log.exception("could not read the queue")
            return
        for case in queue:
            if case.conversation_id not in conversation_ids:
                continue
            urgent = case.priority in ("crisis", "young") and case.status == "queued"
            self.publish({"type": "queue", "case": case.id, "urgent": urgent})
            if urgent and self.on_urgent is not None:
                with contextlib.suppress(Exception):
                    await self.on_urgent(case)

    async def _case_id(self, conversation_id: str) -> int | None:
        for case in await self.cases.queue():
            if case.conversation_id == conversation_id:
                return case.id
        return None

    # --- consoles listening live ---------------------------------------------------------------

    @property
    def online(self) -> int:
        """Consoles open right now (each one a moderator signed in and watching the queue)."""
        return len(self._listeners)

    def publish(self, event: dict[str, Any]) -> None:
        """Tell every open console something changed (ids only: consoles fetch the rest)."""
        for queue in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    async def listen(self) -> AsyncGenerator[dict[str, Any], None]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self._listeners.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners.discard(queue)
