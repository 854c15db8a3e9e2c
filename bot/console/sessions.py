"""Server-side console sessions.

The browser holds a random token in a cookie; the database holds only its SHA-256, so a copy of
the database gives no working sessions. Each session has its own CSRF token for forms. A session
ends when idle too long, when too old, when its moderator is disabled, or when the password
changed after it began.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypedDict

import aiosqlite

from bot.console.accounts import Moderator, delete_sessions, moderator_from_row
from bot.storage.sqlite import SqliteRepository

COOKIE = "__Host-supportbot"  # the __Host- prefix: Secure, Path=/, no Domain, so no subdomain
INSECURE_COOKIE = "supportbot_console"  # plain HTTP (local use): browsers refuse __Host- there
TOUCH_EVERY = 60.0  # seconds: last_seen is written at most this often


class CookieOptions(TypedDict):
    key: str
    path: str
    secure: bool
    httponly: bool
    samesite: Literal["lax", "strict", "none"]


def cookie_name(secure: bool) -> str:
    return COOKIE if secure else INSECURE_COOKIE


def cookie_options(secure: bool) -> CookieOptions:
    """Keyword arguments for Starlette's `response.set_cookie(value=token, **...)` and
    `response.delete_cookie(**...)`. No max_age: the cookie ends with the browser; the server
    enforces the idle and absolute limits."""
    return CookieOptions(
        key=cookie_name(secure), path="/", secure=secure, httponly=True, samesite="strict"
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    moderator: Moderator
    csrf: str
    created_at: float
    last_seen: float


def csrf_ok(session: SessionInfo, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(session.csrf.encode(), given.encode())


class Sessions:
    def __init__(
        self,
        repo: SqliteRepository,
        *,
        idle_seconds: float = 30 * 60,
        absolute_seconds: float = 12 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.idle = idle_seconds
        self.absolute = absolute_seconds
        self.clock = clock

    async def start(self, moderator_id: int) -> tuple[str, str]:
        """A new session: (token for the cookie, CSRF token for forms)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT INTO moderator_sessions (token_hash, moderator_id, csrf, created_at, "
                "last_seen) VALUES (?, ?, ?, ?, ?)",
                (token_hash(token), moderator_id, csrf, now, now),
            )

        await self.repo.submit(work)
        return token, csrf

    def valid_until(self, session: SessionInfo) -> float:
        """When this session ends unless it is used again."""
        return min(session.last_seen + self.idle, session.created_at + self.absolute)

    async def check(self, token: str | None, *, touch: bool = True) -> SessionInfo | None:
        """The session a cookie's token belongs to, if it is still valid. `touch=False`: only
        look (an open live stream is not activity; it must not keep the session from idling)."""
        if not token or len(token) > 200:
            return None
        key = token_hash(token)
        rows = await self.repo.fetch(
            "SELECT s.csrf, s.created_at, s.last_seen, m.id, m.email, m.role, m.disabled, "
            "m.password_changed_at FROM moderator_sessions s "
            "JOIN moderators m ON m.id = s.moderator_id WHERE s.token_hash = ?",
            (key,),
        )
        if not rows:
            return None
        csrf, created_at, last_seen, *moderator_row = rows[0]
        moderator = moderator_from_row(moderator_row)
        now = self.clock()
        if (
            now - last_seen > self.idle
            or now - created_at > self.absolute
            or moderator.disabled
            or created_at < moderator.password_changed_at
        ):
            await self._delete(key)
            return None
        if touch and now - last_seen >= TOUCH_EVERY:

            async def write(db: aiosqlite.Connection) -> None:
                await db.execute(
                    "UPDATE moderator_sessions SET last_seen = ? WHERE token_hash = ?", (now, key)
                )

            await self.repo.submit(write)
            last_seen = now
        return SessionInfo(moderator, csrf, created_at, last_seen)

    async def end(self, token: str) -> None:
        await self._delete(token_hash(token))

    async def revoke_all(self, moderator_id: int) -> int:
        async def work(db: aiosqlite.Connection) -> int:
            return await delete_sessions(db, moderator_id)

        return int(await self.repo.submit(work))

    async def prune(self) -> int:
        """Delete sessions past either time limit; returns how many."""
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> int:
            cursor = await db.execute(
                "DELETE FROM moderator_sessions WHERE last_seen < ? OR created_at < ?",
                (now - self.idle, now - self.absolute),
            )
            return cursor.rowcount

        return int(await self.repo.submit(work))

    async def _delete(self, key: str) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("DELETE FROM moderator_sessions WHERE token_hash = ?", (key,))

        await self.repo.submit(work)
