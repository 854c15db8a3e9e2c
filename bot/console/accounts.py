"""Moderator accounts: passwords as argon2id hashes, roles, disabling.

Hashing parameters follow OWASP ASVS 11.4.2 (argon2id, 19 MiB, 2 iterations, 1 lane). Hashing
runs in a thread, off the event loop. An unknown email is checked against a dummy hash so it
takes about as long as a wrong password. Changing or resetting a password ends every session of
that moderator; callers record audit entries themselves (they know who acted).
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.storage.sqlite import SqliteRepository

ROLES = ("moderator", "admin")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_EMAIL = 254


def default_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class AccountError(ValueError):
    """A refused account operation; the message is fit to show the person who asked."""


@dataclass(frozen=True)
class Moderator:
    id: int
    email: str
    role: str
    disabled: bool
    password_changed_at: float


Moderators = list[Moderator]
_COLUMNS = "id, email, role, disabled, password_changed_at"


def moderator_from_row(row: Sequence[Any]) -> Moderator:
    return Moderator(int(row[0]), row[1], row[2], bool(row[3]), float(row[4]))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    email = normalise_email(email)
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(email) > MAX_EMAIL
        or any(c.isspace() for c in email)
    ):
        raise AccountError(f"not an email address: {email!r}")
    return email


def check_password(password: str, email: str) -> None:
    """The password policy: 12 to 1024 characters, not the email address."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")
    if normalise_email(password) == normalise_email(email):
        raise AccountError("the password must not be the email address")


def _prepared(password: str) -> str:
    # The same password typed on different keyboards can arrive in different Unicode forms.
    return unicodedata.normalize("NFKC", password)


async def delete_sessions(db: aiosqlite.Connection, moderator_id: int) -> int:
    """Inside a caller's write transaction: end every session of one moderator."""
    cursor = await db.execute(
        "DELETE FROM moderator_sessions WHERE moderator_id = ?", (moderator_id,)
    )
    return cursor.rowcount


class Accounts:
    def __init__(
        self,
        repo: SqliteRepository,
        *,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.hasher = hasher or default_hasher()
        self.clock = clock
        self._dummy: str | None = None

    # --- reading ---------------------------------------------------------------------------------

    async def find(self, email: str) -> Moderator | None:
        rows = await self.repo.fetch(
            f"SELECT {_COLUMNS} FROM moderators WHERE email = ?", (normalise_email(email),)
        )
        return moderator_from_row(rows[0]) if rows else None

    async def get(self, moderator_id: int) -> Moderator | None:
        rows = await self.repo.fetch(
            f"SELECT {_COLUMNS} FROM moderators WHERE id = ?", (moderator_id,)
        )
        return moderator_from_row(rows[0]) if rows else None

    async def list(self) -> Moderators:
        rows = await self.repo.fetch(f"SELECT {_COLUMNS} FROM moderators ORDER BY email")
        return [moderator_from_row(row) for row in rows]

    # --- changing --------------------------------------------------------------------------------

    async def add(self, email: str, role: str, password: str) -> Moderator:
        email = check_email(email)
        if role not in ROLES:
            raise AccountError(f"role must be one of: {', '.join(ROLES)}")
        check_password(password, email)
        hashed = await self._hash(password)
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> int:
            rows = await db.execute_fetchall("SELECT 1 FROM moderators WHERE email = ?", (email,))
            if rows:
                raise AccountError(f"a moderator with email {email} already exists")
            cursor = await db.execute(
                "INSERT INTO moderators (email, role, password_hash, disabled, "
                "password_changed_at, created_at) VALUES (?, ?, ?, 0, ?, ?)",
                (email, role, hashed, now, now),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        moderator_id = int(await self.repo.submit(work))
        return Moderator(moderator_id, email, role, False, now)

    async def disable(self, email: str) -> Moderator:
        """Disable an account and end its sessions."""
        return await self._set_disabled(email, True)

    async def enable(self, email: str) -> Moderator:
        return await self._set_disabled(email, False)

    async def reset_password(self, email: str, password: str) -> Moderator:
        """Set a new password (an admin's act) and end every session of the account."""
        moderator = await self._existing(email)
        check_password(password, moderator.email)
        return await self._store_password(moderator, await self._hash(password))

    async def change_password(self, moderator_id: int, old: str, new: str) -> Moderator:
        """A moderator's own change. Ends all their sessions, this one too: sign in again."""
        rows = await self.repo.fetch(
            "SELECT email, password_hash FROM moderators WHERE id = ?", (moderator_id,)
        )
        if not rows:
            raise AccountError("no such moderator")
        email, stored = rows[0]
        if not await self._matches(stored, old):
            raise AccountError("the current password is wrong")
        check_password(new, email)
        if _prepared(new) == _prepared(old):
            raise AccountError("the new password must differ from the current one")
        moderator = await self.get(moderator_id)
        assert moderator is not None
        return await self._store_password(moderator, await self._hash(new))

    async def verify(self, email: str, password: str) -> Moderator | None:
        """The enabled moderator with this email and password, or None (in about the same time
        whether the email is unknown, the password wrong or the account disabled)."""
        rows = await self.repo.fetch(
            f"SELECT {_COLUMNS}, password_hash FROM moderators WHERE email = ?",
            (normalise_email(email)[: MAX_EMAIL + 1],),
        )
        if not rows:
            await self._matches(await self._dummy_hash(), password)
            return None
        moderator, stored = moderator_from_row(rows[0]), rows[0][5]
        if not await self._matches(stored, password) or moderator.disabled:
            return None
        if self.hasher.check_needs_rehash(stored):
            await self._rehash(moderator.id, stored, await self._hash(password))
        return moderator

    # --- inside ----------------------------------------------------------------------------------

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, _prepared(password))

    async def _matches(self, stored: str, password: str) -> bool:
        if len(password) > MAX_PASSWORD:
            return False
        try:
            return await asyncio.to_thread(self.hasher.verify, stored, _prepared(password))
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self._hash("not a password anyone has")
        return self._dummy

    async def _existing(self, email: str) -> Moderator:
        moderator = await self.find(email)
        if moderator is None:
            raise AccountError(f"no moderator with email {normalise_email(email)}")
        return moderator

    async def _set_disabled(self, email: str, disabled: bool) -> Moderator:
        moderator = await self._existing(email)

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE moderators SET disabled = ? WHERE id = ?", (int(disabled), moderator.id)
            )
            if disabled:
                await delete_sessions(db, moderator.id)

        await self.repo.submit(work)
        return Moderator(
            moderator.id, moderator.email, moderator.role, disabled, moderator.password_changed_at
        )

    async def _store_password(self, moderator: Moderator, hashed: str) -> Moderator:
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE moderators SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                (hashed, now, moderator.id),
            )
            await delete_sessions(db, moderator.id)

        await self.repo.submit(work)
        return Moderator(moderator.id, moderator.email, moderator.role, moderator.disabled, now)

    async def _rehash(self, moderator_id: int, old: str, new: str) -> None:
        """Upgrade a hash made with older parameters; not a password change (sessions stay)."""

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE moderators SET password_hash = ? WHERE id = ? AND password_hash = ?",
                (new, moderator_id, old),
            )

        await self.repo.submit(work)
