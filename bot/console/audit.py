"""The audit log: who did what to which case or account, and when.

It records actions, never content: no message text, no evidence, no names or contact details of
the people the bot helps, no passwords or tokens. `subject` names what was acted on by an id
(a conversation id, a moderator's email); `detail` is a short fixed phrase such as a role.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from bot.storage.sqlite import SqliteRepository

ACTIONS = frozenset(
    {
        "signin",
        "signin_failed",
        "signout",
        "claim",
        "release",
        "reassign",
        "close",
        "reply",
        "note",
        "reveal",
        "export",
        "delete",
        "password_change",
        "moderator_add",
        "moderator_disable",
        "moderator_enable",
        "moderator_reset",
        "two_factor_setup",
        "two_factor_on",
        "two_factor_reset",
        "two_factor_required",
        "recovery_code_used",
    }
)
MAX_FIELD = 200  # subject and detail are identifiers and short phrases, not text


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    moderator_id: int | None  # None: the command line, or someone not signed in
    action: str
    subject: str
    detail: str


Entries = list[AuditEntry]


async def write(
    db: aiosqlite.Connection,
    at: float,
    moderator_id: int | None,
    action: str,
    subject: str = "",
    detail: str = "",
) -> None:
    """Insert one row inside a caller's write transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if len(subject) > MAX_FIELD or len(detail) > MAX_FIELD:
        raise ValueError("audit subject and detail are identifiers, not text")
    await db.execute(
        "INSERT INTO audit (at, moderator_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (at, moderator_id, action, subject, detail),
    )


class Audit:
    def __init__(self, repo: SqliteRepository, *, clock: Callable[[], float] = time.time) -> None:
        self.repo = repo
        self.clock = clock

    async def record(
        self, moderator_id: int | None, action: str, subject: str = "", detail: str = ""
    ) -> None:
        at = self.clock()

        async def work(db: aiosqlite.Connection) -> None:
            await write(db, at, moderator_id, action, subject, detail)

        await self.repo.submit(work)

    async def list(self, limit: int = 50, offset: int = 0) -> Entries:
        """Newest first."""
        rows = await self.repo.fetch(
            "SELECT id, at, moderator_id, action, subject, detail FROM audit "
            "ORDER BY id DESC LIMIT ? OFFSET ?",
            (max(0, limit), max(0, offset)),
        )
        return [AuditEntry(*row) for row in rows]
