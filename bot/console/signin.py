"""Signing in and out, in the one order that keeps throttling and the audit log honest.

The throttle reserves the attempt's turn first; the attempt waits for it (a progressive delay)
before the password is checked. With a second factor set up, a right password leads to a second
step (`sign_in_code`), throttled the same way; the session starts only when the code is right.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.config import Settings
from bot.console.accounts import Accounts, Moderator
from bot.console.audit import Audit
from bot.console.sessions import Sessions
from bot.console.throttle import Throttle
from bot.console.twofactor import TwoFactor
from bot.storage.sqlite import SqliteRepository


@dataclass(frozen=True)
class SignIn:
    moderator: Moderator | None  # None: refused (say only "wrong email or password")
    token: str = ""
    csrf: str = ""
    wait: float = 0.0  # > 0: throttled, try again in this many seconds
    needs_code: bool = False  # the password was right; now the second factor (no session yet)


@dataclass(frozen=True)
class Console:
    accounts: Accounts
    sessions: Sessions
    throttle: Throttle
    audit: Audit
    two_factor: TwoFactor
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    @classmethod
    def from_settings(
        cls,
        repo: SqliteRepository,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> Console:
        return cls(
            Accounts(repo, clock=clock),
            Sessions(
                repo,
                idle_seconds=settings.console_idle_minutes * 60,
                absolute_seconds=settings.console_absolute_hours * 3600,
                clock=clock,
            ),
            Throttle(
                repo,
                max_failures=settings.signin_max_failures,
                max_failures_per_ip=settings.signin_max_failures_per_ip,
                window_seconds=settings.signin_window_minutes * 60,
                clock=clock,
            ),
            Audit(repo, clock=clock),
            TwoFactor(repo, clock=clock),
        )

    async def _turn(self, email: str, ip: str) -> float:
        """Wait for this attempt's turn; > 0: refused, try again in this many seconds."""
        turn = await self.throttle.attempt(email, ip)
        if turn.refused:  # not audited: the failures that queued it were, and floods are cheap
            return max(turn.wait, 1.0)
        if turn.wait > 0:
            await self.sleep(turn.wait)
        return 0.0

    async def sign_in(self, email: str, password: str, ip: str) -> SignIn:
        wait = await self._turn(email, ip)
        if wait > 0:
            return SignIn(None, wait=wait)
        moderator = await self.accounts.verify(email, password)
        if moderator is None:
            await self._failed(email, "refused")
            return SignIn(None)
        if await self.two_factor.enabled(moderator.id):
            # The attempt stays counted until the code is right too.
            return SignIn(moderator, needs_code=True)
        await self.throttle.succeeded(email, ip)
        return await self._start(moderator, "")

    async def sign_in_code(self, moderator_id: int, code: str, ip: str) -> SignIn:
        """The second step, for a moderator whose password was right moments ago."""
        moderator = await self.accounts.get(moderator_id)
        if moderator is None or moderator.disabled:
            return SignIn(None)
        wait = await self._turn(moderator.email, ip)
        if wait > 0:
            return SignIn(None, wait=wait)
        how = await self.two_factor.verify(moderator.id, code)
        if how is None:
            await self.audit.record(None, "signin_failed", moderator.email, "wrong code")
            return SignIn(None, needs_code=True)
        await self.throttle.succeeded(moderator.email, ip)
        if how == "recovery":
            await self.audit.record(moderator.id, "recovery_code_used", moderator.email)
        return await self._start(moderator, "recovery code" if how == "recovery" else "code")

    async def _start(self, moderator: Moderator, detail: str) -> SignIn:
        token, csrf = await self.sessions.start(moderator.id)
        await self.audit.record(moderator.id, "signin", "", detail)
        return SignIn(moderator, token, csrf)

    async def sign_out(self, token: str) -> None:
        session = await self.sessions.check(token)
        await self.sessions.end(token)
        if session is not None:
            await self.audit.record(session.moderator.id, "signout")

    async def _failed(self, email: str, detail: str) -> None:
        # Name the account only if it exists: what strangers type is not kept.
        known = await self.accounts.find(email)
        await self.audit.record(None, "signin_failed", known.email if known else "", detail)
