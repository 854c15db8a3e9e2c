"""The storage interface the engine and channels depend on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.model import Conversation, Decision, OutboxEntry, Outcome, TranscriptEntry

# Called inside the repository's transaction with the stored conversation (None if new).
Decide = Callable[[Conversation | None], Decision]


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    id: int
    conversation_id: str
    priority: str
    reason: str
    created_at: float
    status: str


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    id: str
    conversation_id: str
    kind: str
    media_type: str
    size: int
    sha256: str
    received_at: float
    channel: str
    name: str


@dataclass(frozen=True, slots=True)
class PurgeReport:
    conversations: int
    evidence_files: int
    orphan_files: int
    inbox_rows: int


class ChannelStore(Protocol):
    """What a channel that must not lose or repeat anything keeps (SQLite implements it)."""

    async def inbox_put_many(self, channel: str, updates: list[tuple[int, bytes]]) -> list[int]:
        """Keep several updates in one write; returns the ids that were not kept before."""
        ...

    async def inbox_pending(self, channel: str) -> list[tuple[int, bytes]]: ...

    async def inbox_done(self, channel: str, update_id: int) -> None: ...

    async def outbox(self, channel: str) -> list[OutboxEntry]:
        """The channel's entries not yet released, oldest first."""
        ...

    async def outbox_progress(
        self, event_key: str, delivered: int, conversation_id: str, message_ids: list[int]
    ) -> None:
        """Record that `delivered` messages of an entry were sent (with their ids)."""
        ...

    async def finish(self, channel: str, update_id: int | None, event_key: str) -> None:
        """Release a delivered outbox entry and a handled update in one write."""
        ...

    async def messages_add(self, conversation_id: str, message_ids: list[int]) -> None: ...

    async def messages_take(self, conversation_id: str) -> list[int]:
        """The chat's message ids, removed from storage."""
        ...


class Repository(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def process(
        self, conversation_id: str, event_key: str, decide: Decide, *, outbox: str | None = None
    ) -> Outcome:
        """Run `decide` and store its result atomically, once per `event_key`.

        A second call with an `event_key` already processed changes nothing and returns an
        Outcome with `duplicate=True` and no effects. With `outbox` (the channel's address for
        the person), the effects are also stored in the outbox in the same transaction, to be
        delivered and then released with `finish`.
        """
        ...

    async def load(self, conversation_id: str) -> Conversation | None: ...

    async def transcript(self, conversation_id: str) -> list[TranscriptEntry]: ...

    async def handoffs(self, conversation_id: str | None = None) -> list[HandoffRecord]: ...

    async def erase(self, conversation_id: str) -> None:
        """Remove every row and evidence file about this conversation, for real."""
        ...

    async def evidence_items(self, conversation_id: str) -> list[EvidenceRecord]: ...

    async def evidence_data(self, record: EvidenceRecord) -> bytes:
        """The original bytes of an item, decrypted."""
        ...

    async def purge(self, idle_before: float, inbox_before: float) -> PurgeReport:
        """Erase conversations with no activity since `idle_before`, evidence files with no row,
        and processed-event ids older than `inbox_before`."""
        ...
