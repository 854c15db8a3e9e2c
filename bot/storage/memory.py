"""An in-memory repository: for tests that don't care about durability, and as the reference
behaviour the SQLite repository must match."""

from __future__ import annotations

import asyncio
import copy
import time

from bot.model import Conversation, NewEvidence, Outcome, TranscriptEntry
from bot.storage.base import Decide, EvidenceRecord, HandoffRecord, PurgeReport


class MemoryRepository:
    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}
        self._transcripts: dict[str, list[TranscriptEntry]] = {}
        self._handoffs: list[HandoffRecord] = []
        self._seen: dict[str, float] = {}
        self._evidence: dict[str, tuple[str, NewEvidence]] = {}
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def process(
        self, conversation_id: str, event_key: str, decide: Decide, *, outbox: str | None = None
    ) -> Outcome:
        async with self._lock:
            if event_key in self._seen:
                return Outcome((), duplicate=True)
            # Decide on a copy so a failing decision leaves the stored state untouched.
            decision = decide(copy.deepcopy(self._conversations.get(conversation_id)))
            if decision.erase or decision.conversation is None:
                self._wipe(conversation_id)
            if decision.conversation is not None:
                self._conversations[conversation_id] = decision.conversation
                if decision.transcript is not None:
                    self._transcripts.setdefault(conversation_id, []).append(decision.transcript)
                if decision.drop_files:
                    self._evidence = {
                        key: (cid, item)
                        for key, (cid, item) in self._evidence.items()
                        if cid != conversation_id or item.kind != "file"
                    }
                for item in decision.evidence:
                    self._evidence[item.id] = (conversation_id, item)
                for handoff in decision.handoffs:
                    self._handoffs.append(
                        HandoffRecord(
                            len(self._handoffs) + 1,
                            conversation_id,
                            handoff.priority,
                            handoff.reason,
                            decision.conversation.updated_at,
                            "open",
                        )
                    )
            self._seen[event_key] = time.time()
            return Outcome(tuple(decision.effects))

    def _wipe(self, conversation_id: str) -> None:
        self._conversations.pop(conversation_id, None)
        self._transcripts.pop(conversation_id, None)
        self._handoffs = [h for h in self._handoffs if h.conversation_id != conversation_id]
        self._evidence = {
            key: (cid, item)
            for key, (cid, item) in self._evidence.items()
            if cid != conversation_id
        }

    async def load(self, conversation_id: str) -> Conversation | None:
        return copy.deepcopy(self._conversations.get(conversation_id))

    async def transcript(self, conversation_id: str) -> list[TranscriptEntry]:
        return list(self._transcripts.get(conversation_id, []))

    async def handoffs(self, conversation_id: str | None = None) -> list[HandoffRecord]:
        return [h for h in self._handoffs if conversation_id in (None, h.conversation_id)]

    async def erase(self, conversation_id: str) -> None:
        async with self._lock:
            self._wipe(conversation_id)

    async def evidence_items(self, conversation_id: str) -> list[EvidenceRecord]:
        return [
            EvidenceRecord(
                item.id,
                cid,
                item.kind,
                item.media_type,
                len(item.data),
                item.sha256,
                item.received_at,
                item.channel,
                item.name,
            )
            for cid, item in self._evidence.values()
            if cid == conversation_id
        ]

    async def evidence_data(self, record: EvidenceRecord) -> bytes:
        return self._evidence[record.id][1].data

    async def purge(self, idle_before: float, inbox_before: float) -> PurgeReport:
        async with self._lock:
            stale = [cid for cid, c in self._conversations.items() if c.updated_at < idle_before]
            files = sum(1 for cid, _ in self._evidence.values() if cid in stale)
            for cid in stale:
                self._wipe(cid)
            old = [key for key, at in self._seen.items() if at < inbox_before]
            for key in old:
                del self._seen[key]
            return PurgeReport(len(stale), files, 0, len(old))
