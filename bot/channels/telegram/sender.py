"""Sending that respects Telegram's limits and never drops or reorders a message.

Per-chat and whole-bot token buckets keep us under the limits (about 1 message/s per chat with
short bursts, about 30/s overall). A 429 is answered by waiting `retry_after` and sending the
same message again; network hiccups are retried with backoff. A chat's messages are sent by that
chat's worker one at a time, so order is kept; one chat waiting never holds up another.

The whole-bot rate is shared out by priority, not by arrival: when more people are being
answered than the bot may send to in a second, the queue for it can be many seconds long, and a
crisis answer must not wait at its end (a 429 storm, tests/test_storm_telegram.py, showed it
waiting 3 s behind 120 chats). Crisis lines go first, then the first message of any reply, then
the rest, then typing indicators.
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


def seconds_of(retry_after: float | dt.timedelta) -> float:
    """A RetryAfter's wait in seconds (PTB gives a timedelta or a number, by version/setting)."""
    if isinstance(retry_after, dt.timedelta):
        return retry_after.total_seconds()
    return float(retry_after)


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


# What goes first when requests queue: crisis lines, then a reply's first message (someone is
# waiting for any answer at all), then further messages, then typing indicators.
CRISIS, FIRST, LATER, TYPING = -1, 0, 1, 2


class Pacer:
    """A whole-bot rate (`rate` a second, bursts up to `burst`) granted in priority order, then
    first come first served. Unlike a token bucket that hands out waiting times, a request that
    arrives later with a higher priority is granted before those already waiting."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.capacity = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def acquire(self, priority: int) -> None:
        self._refill()
        if not self._waiting and self.tokens >= 1:
            self.tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        self._grant()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.tokens += 1  # granted just as it was cancelled: the next one may use it
                self._grant()
            raise

    def _grant(self) -> None:
        """Hand out what the bucket holds, best first; come back when the next token is due."""
        if self._timer is not None:
            return
        self._refill()
        while self._waiting and self.tokens >= 1:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                self.tokens -= 1
                future.set_result(None)
        if self._waiting:
            delay = (1 - self.tokens) / self.rate
            self._timer = asyncio.get_running_loop().call_later(delay, self._due)

    def _due(self) -> None:
        self._timer = None
        self._grant()


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
        self.whole = Pacer(global_rate, global_rate)
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
                # The chat's own pace first (its messages come one at a time), then a turn in
                # the whole bot's, by priority.
                wait = self._bucket(chat_id).delay()
                if wait:
                    await asyncio.sleep(wait)
                await self.whole.acquire(priority)
            try:
                await self.gate.acquire(priority)
                try:
                    return await send()
                finally:
                    self.gate.release()
            except RetryAfter as exc:
                self.retried_429 += 1
                await asyncio.sleep(seconds_of(exc.retry_after))
            except (BadRequest, Forbidden):
                raise  # our mistake or the person blocked the bot: retrying won't help
            except (TimedOut, NetworkError):
                attempt += 1
                self.retried_network += 1
                if attempt >= self.max_attempts:
                    raise
                await asyncio.sleep(min(30.0, 0.25 * 2**attempt))
