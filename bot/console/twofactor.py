"""Two-factor sign-in: time-based codes (TOTP, RFC 6238, with `pyotp`) and one-time recovery codes.

The TOTP secret is sealed at rest (AES-GCM, bound to the moderator's id) and shown once, when it is
set up; it counts only after the moderator confirms it with a code from their app. Each accepted
code's time step is kept, so a code can't be used twice. Recovery codes (ten, 80 bits each) are
shown once and kept as SHA-256 hashes; each works once. An admin (in the console or on the command
line) can require two-factor sign-in for every account; on the command line, reset an account's
second factor.

The tables come from the storage migrations (bot/storage/migrations.py, number 7); they hold no
words of the people the bot helps.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

import aiosqlite
import pyotp

from bot.storage.sqlite import SqliteRepository

ISSUER = "supportbot console"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def _context(moderator_id: int) -> str:
    return f"totp:{moderator_id}"


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(c for c in code.lower() if c.isascii() and c.isalnum())[:64]


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))  # 31**16: about 79 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


class TwoFactor:
    def __init__(self, repo: SqliteRepository, *, clock: Callable[[], float] = time.time) -> None:
        self.repo = repo
        self.sealer = repo.sealer
        self.clock = clock

    # --- the requirement ---------------------------------------------------------------------

    async def required(self) -> bool:
        rows = await self.repo.fetch("SELECT value FROM console_settings WHERE key = 'require_2fa'")
        return bool(rows) and rows[0][0] == "on"

    async def set_required(self, on: bool) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT INTO console_settings (key, value) VALUES ('require_2fa', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                ("on" if on else "off",),
            )

        await self.repo.submit(work)

    # --- one moderator's second factor -------------------------------------------------------

    async def enabled(self, moderator_id: int) -> bool:
        """Whether this moderator has a confirmed second factor."""
        rows = await self.repo.fetch(
            "SELECT confirmed FROM moderator_totp WHERE moderator_id = ?", (moderator_id,)
        )
        return bool(rows) and bool(rows[0][0])

    async def enabled_ids(self) -> set[int]:
        """Every moderator with a confirmed second factor (for the admins' account list)."""
        rows = await self.repo.fetch("SELECT moderator_id FROM moderator_totp WHERE confirmed = 1")
        return {int(row[0]) for row in rows}

    async def begin(self, moderator_id: int, email: str) -> tuple[str, str]:
        """A new, unconfirmed secret (replacing any unconfirmed one): (secret, otpauth URI), to
        show once. Refused (ValueError) when a confirmed one exists: an admin resets it first."""
        secret = pyotp.random_base32()
        sealed = self.sealer.seal(secret.encode(), _context(moderator_id))
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> bool:
            rows = await db.execute_fetchall(
                "SELECT confirmed FROM moderator_totp WHERE moderator_id = ?", (moderator_id,)
            )
            if any(row[0] for row in rows):
                return False
            await db.execute(
                "INSERT OR REPLACE INTO moderator_totp (moderator_id, sealed, confirmed, "
                "last_step, created_at) VALUES (?, ?, 0, 0, ?)",
                (moderator_id, sealed, now),
            )
            return True

        if not await self.repo.submit(work):
            raise ValueError("two-factor sign-in is already set up")
        uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
        return secret, uri

    async def confirm(self, moderator_id: int, code: str) -> list[str] | None:
        """Confirm a new secret with a code from the app: the recovery codes (to show once), or
        None when the code is wrong or nothing is being set up."""
        if not await self._check_code(moderator_id, code, confirmed=False):
            return None
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE moderator_totp SET confirmed = 1 WHERE moderator_id = ?", (moderator_id,)
            )
            await db.execute(
                "DELETE FROM moderator_recovery WHERE moderator_id = ?", (moderator_id,)
            )
            await db.executemany(
                "INSERT OR IGNORE INTO moderator_recovery (moderator_id, code_hash) VALUES (?, ?)",
                [(moderator_id, _code_hash(c)) for c in codes],
            )

        await self.repo.submit(work)
        return codes

    async def verify(self, moderator_id: int, code: str) -> str | None:
        """A second factor at sign-in: "code" (from the app), "recovery" (a recovery code, now
        used up) or None (wrong)."""
        digits = normalise_code(code)
        if len(digits) == 6 and digits.isdigit():
            ok = await self._check_code(moderator_id, digits, confirmed=True)
            return "code" if ok else None
        if len(digits) != 16:
            return None
        key = _code_hash(digits)

        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "DELETE FROM moderator_recovery WHERE moderator_id = ? AND code_hash = ?",
                (moderator_id, key),
            )
            return cursor.rowcount == 1

        return "recovery" if await self.repo.submit(work) else None

    async def recovery_left(self, moderator_id: int) -> int:
        rows = await self.repo.fetch(
            "SELECT count(*) FROM moderator_recovery WHERE moderator_id = ?", (moderator_id,)
        )
        return int(rows[0][0])

    async def reset(self, moderator_id: int) -> None:
        """Remove an account's second factor (an admin's act, e.g. a lost phone)."""

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("DELETE FROM moderator_totp WHERE moderator_id = ?", (moderator_id,))
            await db.execute(
                "DELETE FROM moderator_recovery WHERE moderator_id = ?", (moderator_id,)
            )

        await self.repo.submit(work)

    async def _check_code(self, moderator_id: int, code: str, *, confirmed: bool) -> bool:
        digits = normalise_code(code)
        if len(digits) != 6 or not digits.isdigit():
            return False
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> bool:
            rows = list(
                await db.execute_fetchall(
                    "SELECT sealed, confirmed, last_step FROM moderator_totp "
                    "WHERE moderator_id = ?",
                    (moderator_id,),
                )
            )
            if not rows or bool(rows[0][1]) != confirmed:
                return False
            sealed, _, last_step = rows[0]
            totp = pyotp.TOTP(self.sealer.open(sealed, _context(moderator_id)).decode())
            step = int(now // totp.interval)
            # The code now, or one step either side (a phone's clock a little off).
            for candidate in (step, step - 1, step + 1):
                if candidate <= last_step:
                    continue  # each code works once
                expected = totp.generate_otp(candidate)
                if hmac.compare_digest(expected, digits):
                    await db.execute(
                        "UPDATE moderator_totp SET last_step = ? WHERE moderator_id = ?",
                        (candidate, moderator_id),
                    )
                    return True
            return False

        ok: bool = await self.repo.submit(work)
        return ok
