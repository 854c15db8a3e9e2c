"""Sign-in throttling, per email address and per client address, kept in `signin_attempts`.

An attempt is counted as a failure before the password is checked, in the same transaction that
checks the limits, so guesses sent in parallel cannot all slip under the limit; a successful
sign-in then takes its own rows back and clears its email's count. After `max_failures` within
`window` seconds a key is refused until its oldest counted failure leaves the window. Rows older
than the window are pruned as new ones arrive.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

import aiosqlite

from bot.console.accounts import MAX_EMAIL, normalise_email
from bot.storage.sqlite import SqliteRepository


def email_key(email: str) -> str:
    return "email:" + normalise_email(email)[: MAX_EMAIL + 1]


def ip_key(ip: str) -> str:
    """One key per IPv4 address, and per /64 for IPv6 (one subscriber's usual allocation)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return "ip:" + ip.strip()[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"ip:{address}"


class Throttle:
    def __init__(
        self,
        repo: SqliteRepository,
        *,
        max_failures: int = 5,
        max_failures_per_ip: int = 20,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.limits = {"email": max_failures, "ip": max_failures_per_ip}
        self.window = window_seconds
        self.clock = clock

    def _keys(self, email: str, ip: str) -> dict[str, int]:
        return {email_key(email): self.limits["email"], ip_key(ip): self.limits["ip"]}

    async def wait(self, email: str, ip: str) -> float:
        """Seconds until an attempt for this email from this address would be allowed (0: now).
        Only looks; `attempt` is what counts."""
        now = self.clock()
        waits = [0.0]
        for key, limit in self._keys(email, ip).items():
            rows = await self.repo.fetch(
                "SELECT at FROM signin_attempts WHERE key = ? AND at > ? ORDER BY at DESC",
                (key, now - self.window),
            )
            waits.append(_wait([row[0] for row in rows], limit, now, self.window))
        return max(waits)

    async def attempt(self, email: str, ip: str) -> float:
        """Seconds to wait if either key is locked (nothing is recorded then). Otherwise 0, and
        the attempt is recorded as a failure until `succeeded` takes it back."""
        now = self.clock()
        keys = self._keys(email, ip)

        async def work(db: aiosqlite.Connection) -> float:
            await db.execute("DELETE FROM signin_attempts WHERE at <= ?", (now - self.window,))
            waits = [0.0]
            for key, limit in keys.items():
                rows = await db.execute_fetchall(
                    "SELECT at FROM signin_attempts WHERE key = ? ORDER BY at DESC", (key,)
                )
                waits.append(_wait([row[0] for row in rows], limit, now, self.window))
            if max(waits) > 0:
                return max(waits)
            await db.executemany(
                "INSERT INTO signin_attempts (key, at) VALUES (?, ?)",
                [(key, now) for key in keys],
            )
            return 0.0

        return float(await self.repo.submit(work))

    async def succeeded(self, email: str, ip: str) -> None:
        """Clear the email's count, and take back this attempt's row for the address (other
        failures from that address still count)."""
        key = ip_key(ip)

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("DELETE FROM signin_attempts WHERE key = ?", (email_key(email),))
            await db.execute(
                "DELETE FROM signin_attempts WHERE rowid = (SELECT rowid FROM signin_attempts "
                "WHERE key = ? ORDER BY at DESC LIMIT 1)",
                (key,),
            )

        await self.repo.submit(work)

    async def prune(self) -> int:
        now = self.clock()

        async def work(db: aiosqlite.Connection) -> int:
            cursor = await db.execute(
                "DELETE FROM signin_attempts WHERE at <= ?", (now - self.window,)
            )
            return cursor.rowcount

        return int(await self.repo.submit(work))


def _wait(newest_first: list[float], limit: int, now: float, window: float) -> float:
    """Locked while `limit` failures lie within the window: until the limit-th newest leaves it."""
    if len(newest_first) < limit:
        return 0.0
    return max(0.0, newest_first[limit - 1] + window - now)
