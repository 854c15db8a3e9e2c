"""Sign-in throttling by progressive delays, never a lockout, kept in `signin_attempts`.

Two keys count failures: the account from one client address (`pair:`), and the address across
accounts (`ip:`; IPv6 per /64). The first `free` failures of a key within the window cost
nothing; each one after that makes the next attempt wait twice as long as the last (1 s, 2 s,
4 s, ... at most `max_delay`). An attempt reserves its turn in the same transaction that reads
the counts (its row is written at the reserved time), so guesses sent in parallel queue up one
after another instead of slipping through together; it then waits for its turn before the
password is checked. Only an attempt whose turn lies more than `max_delay` ahead is refused
(a flood from that same account and address). An attacker elsewhere can't slow a moderator's
own account-and-address key, so nobody can be locked out from afar. A success takes its rows
back and clears its pair's count.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass

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


def pair_key(email: str, ip: str) -> str:
    return f"pair:{normalise_email(email)[: MAX_EMAIL + 1]}|{ip_key(ip)[3:]}"


BASE_DELAY = 1.0  # seconds: the wait after the first failure beyond the free ones
MAX_DELAY = 60.0  # seconds: the longest wait, and how far ahead a turn may be reserved


@dataclass(frozen=True)
class Turn:
    wait: float  # seconds to wait before checking the password
    refused: bool = False  # True: too many attempts queued; nothing was recorded


class Throttle:
    def __init__(
        self,
        repo: SqliteRepository,
        *,
        max_failures: int = 5,
        max_failures_per_ip: int = 20,
        window_seconds: float = 15 * 60,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.free = {"pair": max_failures, "ip": max_failures_per_ip}
        self.window = window_seconds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.clock = clock

    def _keys(self, email: str, ip: str) -> dict[str, int]:
        return {pair_key(email, ip): self.free["pair"], ip_key(ip): self.free["ip"]}

    def delay(self, failures: int, free: int) -> float:
        """The wait after `failures` counted failures of a key allowing `free` of them."""
        extra = failures - free
        if extra < 0:
            return 0.0
        return min(self.max_delay, self.base_delay * 2.0 ** min(extra, 62))

    async def attempt(self, email: str, ip: str) -> Turn:
        """Reserve this attempt's turn: it is recorded as a failure (until `succeeded` takes it
        back) at the time it may go ahead. Refused, and not recorded, only when that time lies
        more than `max_delay` ahead."""
        now = self.clock()
        keys = self._keys(email, ip)

        async def work(db: aiosqlite.Connection) -> Turn:
            await db.execute("DELETE FROM signin_attempts WHERE at <= ?", (now - self.window,))
            turn = now
            for key, free in keys.items():
                rows = list(
                    await db.execute_fetchall(
                        "SELECT count(*), max(at) FROM signin_attempts WHERE key = ?", (key,)
                    )
                )
                count, newest = int(rows[0][0]), rows[0][1]
                if newest is not None:
                    turn = max(turn, float(newest) + self.delay(count, free))
            if turn - now > self.max_delay:
                return Turn(turn - now, refused=True)
            await db.executemany(
                "INSERT INTO signin_attempts (key, at) VALUES (?, ?)",
                [(key, turn) for key in keys],
            )
            return Turn(turn - now)

        turn: Turn = await self.repo.submit(work)
        return turn

    async def succeeded(self, email: str, ip: str) -> None:
        """Clear the pair's count, and take back this attempt's row for the address (other
        failures from that address still count)."""
        key = ip_key(ip)

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("DELETE FROM signin_attempts WHERE key = ?", (pair_key(email, ip),))
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
