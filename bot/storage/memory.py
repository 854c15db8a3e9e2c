"""An in-memory repository: for tests that don't care about durability, and as the reference
behaviour the SQLite repository must match."""

from __future__ import annotations

import asyncio
import copy

from bot.model import Conversation, Outcome, TranscriptEntry
from bot.storage.base import Decide, HandoffRecord


class MemoryRepository:
    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}
        self._transcripts: dict[str, list[TranscriptEntry]] = {}
        self._handoffs: list[HandoffRecord] = []
        self._seen: set[str] = set()
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def process(self, conversation_id: str, event_key: str, decide: Decide) -> Outcome:
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
            self._seen.add(event_key)
            return Outcome(tuple(decision.effects))

    def _wipe(self, conversation_id: str) -> None:
        self._conversations.pop(conversation_id, None)
        self._transcripts.pop(conversation_id, None)
        self._handoffs = [h for h in self._handoffs if h.conversation_id != conversation_id]

    async def load(self, conversation_id: str) -> Conversation | None:
        return copy.deepcopy(self._conversations.get(conversation_id))

    async def transcript(self, conversation_id: str) -> list[TranscriptEntry]:
        return list(self._transcripts.get(conversation_id, []))

    async def handoffs(self, conversation_id: str | None = None) -> list[HandoffRecord]:
        return [h for h in self._handoffs if conversation_id in (None, h.conversation_id)]

    async def erase(self, conversation_id: str) -> None:
        async with self._lock:
            self._wipe(conversation_id)
