"""Signing in and out, in the one order that keeps throttling and the audit log honest."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.console.accounts import Accounts, Moderator
from bot.console.audit import Audit
from bot.console.sessions import Sessions
from bot.console.throttle import Throttle
from bot.storage.sqlite import SqliteRepository


@dataclass(frozen=True)
class SignIn:
    moderator: Moderator | None  # None: refused (say only "wrong email or password")
    token: str = ""
    csrf: str = ""
    wait: float = 0.0  # > 0: throttled, try again in this many seconds


@dataclass(frozen=True)
class Console:
    accounts: Accounts
    sessions: Sessions
    throttle: Throttle
    audit: Audit

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
        )

    async def sign_in(self, email: str, password: str, ip: str) -> SignIn:
        wait = await self.throttle.attempt(email, ip)
        if wait > 0:  # not audited: the failures that caused the lock were, and floods are cheap
            return SignIn(None, wait=wait)
        moderator = await self.accounts.verify(email, password)
        if moderator is None:
            await self._failed(email, "refused")
            return SignIn(None)
        await self.throttle.succeeded(email, ip)
        token, csrf = await self.sessions.start(moderator.id)
        await self.audit.record(moderator.id, "signin")
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
