"""Sending that respects Telegram's limits and never drops or reorders a message.

Per-chat and whole-bot token buckets keep us under the limits (about 1 message/s per chat with
short bursts, about 30/s overall). A 429 is answered by waiting `retry_after` and sending the
same message again; network hiccups are retried with backoff. A chat's messages are sent by that
chat's worker one at a time, so order is kept; one chat waiting never holds up another.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_CHAT_BUCKETS = 10_000


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.capacity = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def delay(self) -> float:
        """Take a token; how long to wait before using it."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class Sender:
    def __init__(
        self,
        *,
        global_rate: float = 30.0,
        chat_rate: float = 1.0,
        chat_burst: int = 4,
        max_attempts: int = 12,
    ) -> None:
        self.whole = TokenBucket(global_rate, global_rate)
        self.chat_rate, self.chat_burst = chat_rate, chat_burst
        self.chats: OrderedDict[int, TokenBucket] = OrderedDict()
        self.max_attempts = max_attempts
        self.retried_429 = 0
        self.retried_network = 0

    def _bucket(self, chat_id: int) -> TokenBucket:
        bucket = self.chats.pop(chat_id, None) or TokenBucket(self.chat_rate, self.chat_burst)
        self.chats[chat_id] = bucket
        if len(self.chats) > MAX_CHAT_BUCKETS:
            self.chats.popitem(last=False)
        return bucket

    async def call(
        self, chat_id: int, send: Callable[[], Awaitable[T]], *, limited: bool = True
    ) -> T:
        attempt = 0
        while True:
            if limited:
                wait = max(self._bucket(chat_id).delay(), self.whole.delay())
                if wait:
                    await asyncio.sleep(wait)
            try:
                return await send()
            except RetryAfter as exc:
                self.retried_429 += 1
                retry = exc.retry_after
                seconds = retry.total_seconds() if isinstance(retry, dt.timedelta) else float(retry)
                await asyncio.sleep(seconds)
            except (BadRequest, Forbidden):
                raise  # our mistake or the person blocked the bot: retrying won't help
            except (TimedOut, NetworkError):
                attempt += 1
                self.retried_network += 1
                if attempt >= self.max_attempts:
                    raise
                await asyncio.sleep(min(30.0, 0.25 * 2**attempt))
