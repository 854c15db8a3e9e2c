"""Durable widget sessions and the messages each was sent (sealed), on the SQLite repository."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.storage.sqlite import SqliteRepository

Frame = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebSession:
    session_id: str
    conversation_id: str
    public_key: bytes
    origin: str


class WebStore:
    def __init__(self, repository: SqliteRepository) -> None:
        self.repository = repository
        self.sealer = repository.sealer

    async def create(
        self, token_hash: str, session: WebSession, *, now: float | None = None
    ) -> None:
        at = time.time() if now is None else now

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT INTO web_sessions (token_hash, session_id, conversation_id, public_key, "
                "origin, created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token_hash,
                    session.session_id,
                    session.conversation_id,
                    session.public_key,
                    session.origin,
                    at,
                    at,
                ),
            )

        await self.repository.submit(work)

    async def find(self, token_hash: str) -> WebSession | None:
        rows = await self.repository.fetch(
            "SELECT session_id, conversation_id, public_key, origin FROM web_sessions "
            "WHERE token_hash = ?",
            (token_hash,),
        )
        return WebSession(*rows[0]) if rows else None

    async def append(
        self, conversation_id: str, frames: list[Frame], *, release: str | None = None
    ) -> list[tuple[int, Frame]]:
        """Add frames to the conversation's log with the next sequence numbers; `release`: an
        outbox entry these frames deliver, removed in the same transaction."""
        sealer = self.sealer

        async def work(db: aiosqlite.Connection) -> list[tuple[int, Frame]]:
            rows = await db.execute_fetchall(
                "SELECT COALESCE(MAX(seq), 0) FROM web_messages WHERE conversation_id = ?",
                (conversation_id,),
            )
            last = int(next(iter(rows))[0])
            numbered = [(last + i, frame) for i, frame in enumerate(frames, start=1)]
            await db.executemany(
                "INSERT INTO web_messages (conversation_id, seq, sealed) VALUES (?, ?, ?)",
                [
                    (
                        conversation_id,
                        seq,
                        sealer.seal(json.dumps(frame).encode(), f"w:{conversation_id}:{seq}"),
                    )
                    for seq, frame in numbered
                ],
            )
            if release is not None:
                await db.execute("DELETE FROM outbox WHERE event_key = ?", (release,))
            return numbered

        result: list[tuple[int, Frame]] = await self.repository.submit(work)
        return result

    async def after(self, conversation_id: str, seq: int) -> list[tuple[int, Frame]]:
        rows = await self.repository.fetch(
            "SELECT seq, sealed FROM web_messages WHERE conversation_id = ? AND seq > ? "
            "ORDER BY seq",
            (conversation_id, seq),
        )
        return [
            (s, json.loads(self.sealer.open(sealed, f"w:{conversation_id}:{s}")))
            for s, sealed in rows
        ]

    async def touch(self, token_hash: str) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE web_sessions SET last_seen = ? WHERE token_hash = ?",
                (time.time(), token_hash),
            )

        await self.repository.submit(work)
