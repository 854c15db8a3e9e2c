"""Cases in the moderators' queue: claim, release, close, notes, the live relay, the dashboard.

Only what a moderator needs leaves this module: the queue shows categories (pattern, age band,
nation, channel, waiting time) and never words; the transcript, notes and relay are given only
to the case's owner. Notes and relay messages are sealed at rest like the transcript.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.console.accounts import Accounts, Moderator
from bot.console.audit import Audit
from bot.storage.sqlite import SqliteRepository

PRIORITIES = ("crisis", "young", "normal")  # by rank: 0 first
URGENT = ("crisis", "young")
URGENT_RANK = len(URGENT)  # cases ranked below this are urgent
OUTCOMES = (
    "advice_given",
    "referred_to_police",
    "referred_to_support_line",
    "safeguarding_referral",
    "no_response",
    "other",
)
_IDS_AT_ONCE = 500  # conversation ids per query (SQLite allows 32766 variables)


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    conversation_id: str
    channel: str
    priority: str
    reason: str
    status: str
    owner: int | None
    opened_at: float
    queued_at: float
    claimed_at: float | None
    closed_at: float | None
    outcome: str | None
    pattern: str | None
    age_band: str | None
    nation: str | None
    # A keyed hash of the client the case came from (never its address), or None: cases from
    # one source fold into one group in the queue and one urgent alert.
    source: str | None = None
    locale: str | None = None  # the conversation's language (None once it is erased)

    @property
    def priority_rank(self) -> int:
        return PRIORITIES.index(self.priority)

    @property
    def urgent(self) -> bool:
        """Waiting, and at risk or under 18: moderators are alerted."""
        return self.status == "queued" and self.priority in URGENT

    def public(self, now: float, owner_email: str | None = None) -> dict[str, Any]:
        """What every moderator may see about a case: categories and times, never words."""
        return {
            "id": self.id,
            "priority": self.priority,
            "reason": self.reason,
            "status": self.status,
            "channel": self.channel,
            "pattern": self.pattern,
            "age_band": self.age_band,
            "nation": self.nation,
            "waiting": round(now - self.queued_at) if self.status == "queued" else None,
            "opened_at": self.opened_at,
            "owner": owner_email,
            "outcome": self.outcome,
        }


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a case's conversation as the owner sees it."""

    at: float
    author: str  # person | bot | moderator | note
    text: str


CASE_COLUMNS = (
    "c.id, c.conversation_id, c.channel, c.rank, c.reason, c.status, c.owner, c.opened_at, "
    "c.queued_at, c.claimed_at, c.closed_at, c.outcome, v.pattern, v.age_band, v.nation, "
    "c.source, v.locale"
)
CASES_FROM = "FROM cases c LEFT JOIN conversations v ON v.id = c.conversation_id"
CASE_WIDTH = CASE_COLUMNS.count(",") + 1  # columns a case takes in a row


def case_from_row(row: Any) -> Case:
    """A case from the first CASE_WIDTH columns of a row selected with CASE_COLUMNS."""
    rank = int(row[3])
    priority = PRIORITIES[rank] if 0 <= rank < len(PRIORITIES) else "normal"
    return Case(row[0], row[1], row[2], priority, *row[4:CASE_WIDTH])


class CaseStore:
    def __init__(
        self, repository: SqliteRepository, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.repository = repository
        self.sealer = repository.sealer
        self.clock = clock

    async def open_for(self, conversation_ids: Iterable[str]) -> list[Case]:
        """The open cases of these conversations (at most one each), in queue order."""
        ids = sorted(set(conversation_ids))
        found: list[Case] = []
        for start in range(0, len(ids), _IDS_AT_ONCE):
            chunk = ids[start : start + _IDS_AT_ONCE]
            rows = await self.repository.fetch(
                f"SELECT {CASE_COLUMNS} {CASES_FROM} WHERE c.status != 'closed' AND "
                f"c.conversation_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found += [case_from_row(row) for row in rows]
        return sorted(found, key=lambda c: (c.status == "claimed", c.priority_rank, c.queued_at))

    async def set_sources(self, sources: dict[str, str]) -> None:
        """Note where open cases came from (conversation id -> source hash), where not known yet."""
        if not sources:
            return

        async def work(db: aiosqlite.Connection) -> None:
            await db.executemany(
                "UPDATE cases SET source = ? WHERE conversation_id = ? AND status != 'closed' "
                "AND source IS NULL",
                [(source, cid) for cid, source in sources.items()],
            )

        await self.repository.submit(work)

    async def get(self, case_id: int) -> Case | None:
        rows = await self.repository.fetch(
            f"SELECT {CASE_COLUMNS} {CASES_FROM} WHERE c.id = ?", (case_id,)
        )
        return case_from_row(rows[0]) if rows else None

    async def claimed_conversations(self) -> dict[str, int]:
        """Conversation id -> owning moderator, for every case someone has claimed."""
        rows = await self.repository.fetch(
            "SELECT conversation_id, owner FROM cases WHERE status = 'claimed'"
        )
        return {row[0]: int(row[1]) for row in rows}

    async def claimed_counts(self) -> dict[int, int]:
        """Moderator id -> how many cases they own now."""
        rows = await self.repository.fetch(
            "SELECT owner, count(*) FROM cases WHERE status = 'claimed' GROUP BY owner"
        )
        return {int(owner): int(n) for owner, n in rows if owner is not None}

    async def claim(self, case_id: int, moderator_id: int) -> Case | None:
        """Take a queued case. Of two moderators clicking at once exactly one wins: the update
        only matches while the case is still queued, and writes are serialised."""
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "UPDATE cases SET status = 'claimed', owner = ?, claimed_at = ? "
                "WHERE id = ? AND status = 'queued'",
                (moderator_id, now, case_id),
            )
            if cursor.rowcount != 1:
                return False
            rows = await db.execute_fetchall("SELECT queued_at FROM cases WHERE id = ?", (case_id,))
            waited = now - float(next(iter(rows))[0])
            await db.execute(
                "INSERT INTO waits (day, seconds) VALUES (?, ?)", (day_of(now), waited)
            )
            return True

        won = await self.repository.submit(work)
        return await self.get(case_id) if won else None

    async def release(self, case_id: int, moderator_id: int | None) -> Case | None:
        """Hand a case back to the queue: its owner, or (`moderator_id` None) an admin forcing
        it back whoever owns it."""
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "UPDATE cases SET status = 'queued', owner = NULL, queued_at = ? "
                "WHERE id = ? AND status = 'claimed' AND owner = coalesce(?, owner)",
                (now, case_id, moderator_id),
            )
            return cursor.rowcount == 1

        return await self.get(case_id) if await self.repository.submit(work) else None

    async def reassign(self, case_id: int, moderator_id: int) -> tuple[Case, int | None] | None:
        """An admin gives an open case to an enabled moderator: (the case, its former owner),
        or None when the case is closed or the moderator can't take it."""
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> tuple[bool, int | None]:
            rows = list(
                await db.execute_fetchall(
                    "SELECT status, owner FROM cases WHERE id = ?", (case_id,)
                )
            )
            able = await db.execute_fetchall(
                "SELECT 1 FROM moderators WHERE id = ? AND disabled = 0", (moderator_id,)
            )
            if not rows or rows[0][0] == "closed" or not able:
                return False, None
            status, former = rows[0]
            await db.execute(
                "UPDATE cases SET status = 'claimed', owner = ?, claimed_at = coalesce(?, "
                "claimed_at) WHERE id = ?",
                (moderator_id, now if status == "queued" else None, case_id),
            )
            return True, former

        done, former = await self.repository.submit(work)
        if not done:
            return None
        case = await self.get(case_id)
        return (case, former) if case is not None else None

    async def release_all(self, moderator_id: int) -> list[Case]:
        """Hand back every case a moderator owns (their account was disabled)."""
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> list[int]:
            rows = await db.execute_fetchall(
                "SELECT id FROM cases WHERE status = 'claimed' AND owner = ?", (moderator_id,)
            )
            ids = [int(row[0]) for row in rows]
            await db.execute(
                "UPDATE cases SET status = 'queued', owner = NULL, queued_at = ? "
                "WHERE status = 'claimed' AND owner = ?",
                (now, moderator_id),
            )
            return ids

        released = []
        for case_id in await self.repository.submit(work):
            case = await self.get(case_id)
            if case is not None:
                released.append(case)
        return released

    async def orphaned(self) -> list[Case]:
        """Claimed cases whose owner can no longer act: disabled, or gone."""
        rows = await self.repository.fetch(
            f"SELECT {CASE_COLUMNS} {CASES_FROM} LEFT JOIN moderators m ON m.id = c.owner "
            "WHERE c.status = 'claimed' AND (m.id IS NULL OR m.disabled = 1)"
        )
        return [case_from_row(row) for row in rows]

    async def close(self, case_id: int, moderator_id: int | None, outcome: str) -> Case | None:
        """Close a claimed case: its owner, or (`moderator_id` None) an admin, whoever owns it."""
        if outcome not in OUTCOMES:
            raise ValueError("unknown outcome")
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> bool:
            # Where it came from is needed only while it is open: it goes with the closing.
            cursor = await db.execute(
                "UPDATE cases SET status = 'closed', closed_at = ?, outcome = ?, source = NULL "
                "WHERE id = ? AND status = 'claimed' AND owner = coalesce(?, owner)",
                (now, outcome, case_id, moderator_id),
            )
            if cursor.rowcount == 1:
                await db.execute(
                    "INSERT INTO daily (day, metric, key, count) VALUES (?, 'outcome', ?, 1) "
                    "ON CONFLICT (day, metric, key) DO UPDATE SET count = count + 1",
                    (day_of(now), outcome),
                )
            return cursor.rowcount == 1

        return await self.get(case_id) if await self.repository.submit(work) else None

    # --- words: sealed at rest, shown only to the owner -------------------------------------------

    async def add_note(self, case: Case, moderator_id: int, text: str) -> None:
        await self._add_sealed(
            "INSERT INTO case_notes (conversation_id, moderator_id, at, sealed) "
            "VALUES (?, ?, ?, ?)",
            case.conversation_id,
            (moderator_id,),
            text,
            "note",
        )

    async def add_relay(
        self,
        conversation_id: str,
        author: str,
        text: str,
        moderator_id: int | None = None,
        event_key: str | None = None,
    ) -> bool:
        """False when `event_key` was relayed before (a resent message counts once)."""
        return await self._add_sealed(
            "INSERT OR IGNORE INTO relay (conversation_id, author, moderator_id, event_key, at, "
            "sealed) VALUES (?, ?, ?, ?, ?, ?)",
            conversation_id,
            (author, moderator_id, event_key),
            text,
            "relay",
        )

    async def _add_sealed(
        self, sql: str, conversation_id: str, extra: tuple[Any, ...], text: str, kind: str
    ) -> bool:
        now = self.clock()
        sealer = self.sealer
        # Lone surrogates (valid in JSON, not in UTF-8) must not break the write.
        data = text.encode("utf-8", "replace")

        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(sql, (conversation_id, *extra, now, b""))
            if cursor.rowcount != 1:
                return False
            # The row id is part of the seal's context: a sealed note can't be moved to another row.
            row_id = cursor.lastrowid
            table = "case_notes" if kind == "note" else "relay"
            sealed = sealer.seal(data, f"{kind}:{conversation_id}:{row_id}")
            await db.execute(f"UPDATE {table} SET sealed = ? WHERE id = ?", (sealed, row_id))
            return True

        inserted: bool = await self.repository.submit(work)
        return inserted

    async def notes(self, case: Case) -> list[Line]:
        rows = await self.repository.fetch(
            "SELECT n.id, n.at, n.sealed, m.email FROM case_notes n "
            "LEFT JOIN moderators m ON m.id = n.moderator_id WHERE n.conversation_id = ? "
            "ORDER BY n.id",
            (case.conversation_id,),
        )
        return [
            Line(at, f"note:{email or '?'}", self._open(sealed, f"note:{case.conversation_id}:{i}"))
            for i, at, sealed, email in rows
        ]

    async def lines(self, case: Case) -> list[Line]:
        """The conversation with the bot and the live relay, in time order."""
        lines: list[Line] = []
        for entry in await self.repository.transcript(case.conversation_id):
            if entry.inbound:
                lines.append(Line(entry.at, "person", entry.inbound))
            lines.extend(Line(entry.at, "bot", text) for text in entry.outbound)
        rows = await self.repository.fetch(
            "SELECT id, at, author, sealed FROM relay WHERE conversation_id = ? ORDER BY id",
            (case.conversation_id,),
        )
        for i, at, author, sealed in rows:
            lines.append(Line(at, author, self._open(sealed, f"relay:{case.conversation_id}:{i}")))
        return sorted(lines, key=lambda line: line.at)

    def _open(self, sealed: bytes, context: str) -> str:
        return self.sealer.open(sealed, context).decode("utf-8", "replace")


async def disable_moderator(
    accounts: Accounts, cases: CaseStore, audit: Audit, email: str, actor: int | None
) -> tuple[Moderator, list[Case]]:
    """Disable an account (its sessions end) and hand its cases back to the queue, audited.
    The caller lets the bot resume for those people (the console's desk does it at once; after
    the command line, the running server's desk sweep does within seconds)."""
    moderator = await accounts.disable(email)
    await audit.record(actor, "moderator_disable", moderator.email)
    released = await cases.release_all(moderator.id)
    for case in released:
        await audit.record(actor, "release", f"case {case.id}", "account disabled")
    return moderator, released


def day_of(at: float) -> str:
    """The UTC day an aggregate counts under."""
    return time.strftime("%Y-%m-%d", time.gmtime(at))
