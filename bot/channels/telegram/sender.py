"""Sending that respects Telegram's limits and never drops or reorders a message.

Per-chat and whole-bot token buckets keep us under the limits (about 1 message/s per chat with
short bursts, about 30/s overall). A 429 is answered by waiting `retry_after` and sending the
same message again; network hiccups are retried with backoff. A chat's messages are sent by that
chat's worker one at a time, so order is kept; one chat waiting never holds up another.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
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


# What goes first when requests queue: a reply's first message (someone is waiting for any
# answer at all), then further messages, then typing indicators.
FIRST, LATER, TYPING = 0, 1, 2


class Gate:
    """At most `slots` requests in flight; the rest wait in priority order, then FIFO.

    Why: with hundreds of requests queued inside httpcore's pool, the pool spends most of its
    time re-scanning its queue (work grows with connections x requests), and it serves in
    arrival order, so typing indicators hold up other people's first replies.
    """

    def __init__(self, slots: int) -> None:
        self.free = slots
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # it was handed a slot just as it was cancelled
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the slot passes straight to the next in line
                return
        self.free += 1


class Sender:
    def __init__(
        self,
        *,
        global_rate: float = 30.0,
        chat_rate: float = 1.0,
        chat_burst: int = 4,
        max_attempts: int = 12,
        in_flight: int = 16,
    ) -> None:
        self.gate = Gate(in_flight)
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
        self,
        chat_id: int,
        send: Callable[[], Awaitable[T]],
        *,
        limited: bool = True,
        priority: int = LATER,
    ) -> T:
        attempt = 0
        while True:
            if limited:
                wait = max(self._bucket(chat_id).delay(), self.whole.delay())
                if wait:
                    await asyncio.sleep(wait)
            try:
                await self.gate.acquire(priority)
                try:
                    return await send()
                finally:
                    self.gate.release()
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
