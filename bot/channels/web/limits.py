"""Abuse limits for the widget, per client address: socket openings per minute, new sessions
(each can open at most one case, so this also bounds open cases and urgent notifications) and
upload space.

The address is the connecting peer's, or the one a configured trusted proxy reports (uvicorn's
`forwarded_allow_ips`, see `SUPPORTBOT_TRUSTED_PROXIES`). IPv6 addresses count per /64, the
block one household or phone usually gets. Kept in memory only, and never logged.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings

MAX_ADDRESSES = 50_000  # addresses remembered at once; the oldest are forgotten first


@dataclass(frozen=True)
class WebLimits:
    sessions_per_address: int = 20
    sessions_window_seconds: float = 3600.0
    connections_per_minute: int = 120  # socket openings per address (reconnects included)
    upload_bytes_per_address: int = 48 * 1024 * 1024
    upload_chunk_seconds: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        return cls(
            sessions_per_address=settings.web_sessions_per_address,
            sessions_window_seconds=settings.web_sessions_window_minutes * 60.0,
            connections_per_minute=settings.web_connections_per_minute,
            upload_bytes_per_address=settings.web_upload_mb_per_address * 1024 * 1024,
            upload_chunk_seconds=settings.web_upload_chunk_seconds,
        )


def address_key(host: str | None) -> str:
    """Who a client is, for counting: its IPv4 address or its IPv6 /64 ('' if unknown)."""
    if not host:
        return ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class SlidingWindow:
    """At most `limit` events per key within `window` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Count one event for `key` if it is within the limit; False (not counted) if not."""
        now = self.clock()
        times = self._seen.pop(key, None) or deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        allowed = len(times) < self.limit
        if allowed:
            times.append(now)
        if times:
            self._seen[key] = times
        while len(self._seen) > MAX_ADDRESSES:
            self._seen.popitem(last=False)
        return allowed


class Budget:
    """Bytes reserved per key, up to `limit` each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}

    def reserve(self, key: str, size: int) -> bool:
        held = self._held.get(key, 0)
        if held + size > self.limit:
            return False
        self._held[key] = held + size
        return True

    def release(self, key: str, size: int) -> None:
        held = self._held.get(key, 0) - size
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)

    def held(self, key: str) -> int:
        return self._held.get(key, 0)
