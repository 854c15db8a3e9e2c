"""The moderators' queue as they read it: paged, counted, and folded by source.

Never thousands of cases at once: a page holds at most MAX_LIMIT entries, in the queue's order
(waiting before claimed; crisis, then under-18s, then everyone else; longest waiting first; the
case id last, so the order is total and pages don't overlap while nothing changes).

Waiting cases from one source (a keyed hash of the client, see `bot.console.folding`) are one
entry: its most urgent, longest-waiting case, with how many cases the group holds and how many
are urgent. Nothing is hidden: every case counts, the group's own page lists each one, and a
case that is claimed leaves its group and shows on its own. Cases with no known source (Telegram
chats, cases opened before sources were kept) are never grouped.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.console.cases import (
    CASE_COLUMNS,
    CASE_WIDTH,
    CASES_FROM,
    URGENT_RANK,
    Case,
    case_from_row,
)
from bot.storage.sqlite import SqliteRepository

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_OFFSET = 100_000  # beyond this a page is refused: nobody reads that far, and it costs a scan

_ORDER = "ORDER BY c.status = 'claimed', c.rank, c.queued_at, c.id"
# One row per entry: a group's lead case (its most urgent, longest waiting) or a case of its own,
# with the group's size and how many of it are urgent.
_PAGE = f"""
WITH open AS (
    SELECT id, status, rank, queued_at,
        CASE WHEN status = 'queued' AND source IS NOT NULL THEN 's' || source
            ELSE 'c' || id END AS entry
    FROM cases WHERE status != 'closed'
), ranked AS (
    SELECT id,
        ROW_NUMBER() OVER (PARTITION BY entry ORDER BY rank, queued_at, id) AS place,
        COUNT(*) OVER (PARTITION BY entry) AS members,
        SUM(status = 'queued' AND rank < {URGENT_RANK}) OVER (PARTITION BY entry) AS urgent
    FROM open
)
SELECT {CASE_COLUMNS}, r.members, r.urgent FROM ranked r JOIN cases c ON c.id = r.id
LEFT JOIN conversations v ON v.id = c.conversation_id
WHERE r.place = 1 {_ORDER} LIMIT ? OFFSET ?
"""
_GROUP = (
    f"SELECT {CASE_COLUMNS}, 1, c.rank < {URGENT_RANK} {CASES_FROM} "
    f"WHERE c.status = 'queued' AND c.source = ? {_ORDER} LIMIT ? OFFSET ?"
)
_COUNTS = (
    f"SELECT coalesce(sum(status = 'queued'), 0), "
    f"coalesce(sum(status = 'queued' AND rank < {URGENT_RANK}), 0), "
    "coalesce(sum(status = 'claimed'), 0) FROM cases WHERE status != 'closed'"
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the queue: a case, or the case that leads a group from one source."""

    case: Case
    members: int = 1  # cases in its group; 1: a case of its own
    urgent: int = 0  # of those, how many are urgent

    @property
    def group(self) -> str | None:
        """The group's id (its source hash) when this entry stands for several cases."""
        return self.case.source if self.members > 1 else None


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[Entry]
    more: bool  # entries after this page


@dataclass(frozen=True, slots=True)
class Counts:
    waiting: int
    urgent: int
    claimed: int


def bounded(offset: int, limit: int) -> tuple[int, int]:
    """Clamp a page request (ValueError for an offset past MAX_OFFSET)."""
    if offset < 0 or offset > MAX_OFFSET:
        raise ValueError("offset out of range")
    return offset, max(1, min(limit, MAX_LIMIT))


class Queue:
    def __init__(self, repository: SqliteRepository) -> None:
        self.repository = repository

    async def page(self, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Page:
        """Entries `offset` to `offset + limit`, each group folded into its lead case."""
        offset, limit = bounded(offset, limit)
        return await self._page(_PAGE, (limit + 1, offset), limit)

    async def group(self, source: str, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Page:
        """Every waiting case from one source, in queue order."""
        offset, limit = bounded(offset, limit)
        return await self._page(_GROUP, (source, limit + 1, offset), limit)

    async def counts(self) -> Counts:
        rows = await self.repository.fetch(_COUNTS)
        waiting, urgent, claimed = (int(n) for n in rows[0])
        return Counts(waiting, urgent, claimed)

    async def _page(self, sql: str, params: tuple[object, ...], limit: int) -> Page:
        rows = await self.repository.fetch(sql, params)
        size, urgent = CASE_WIDTH, CASE_WIDTH + 1  # the columns after the case's own
        entries = [Entry(case_from_row(row), int(row[size]), int(row[urgent])) for row in rows]
        return Page(entries[:limit], more=len(entries) > limit)
