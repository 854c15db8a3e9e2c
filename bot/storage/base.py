"""The storage interface the engine and channels depend on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.model import Conversation, Decision, Outcome, TranscriptEntry

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


class Repository(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def process(self, conversation_id: str, event_key: str, decide: Decide) -> Outcome:
        """Run `decide` and store its result atomically, once per `event_key`.

        A second call with an `event_key` already processed changes nothing and returns an
        Outcome with `duplicate=True` and no effects.
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
