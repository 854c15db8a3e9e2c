"""Assembling the service from settings: keys, content, storage, engine."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.crypto import Keyring, load_or_create_secret
from bot.engine import Content, Engine
from bot.storage.base import ChannelStore
from bot.storage.sqlite import SqliteRepository

if TYPE_CHECKING:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

# The event loop thread decides while SQLite's thread commits; with Python's default 5 ms GIL
# switch interval a finished commit can wait that long to hand back its result.
GIL_SWITCH_INTERVAL = 0.0005


def tune_process() -> None:
    """Process-wide settings for a latency-sensitive service (call once, after loading content)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    # Loaded flows, texts and machines live as long as the process: keep them out of GC passes.
    gc.collect()
    gc.freeze()
    # Loading content parses large files once (the gazetteer); hand the freed heap back to the
    # OS so it isn't counted against the service for its whole life (glibc only).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def channel_store(engine: Engine) -> ChannelStore:
    """The durable store channels keep their inbox and outbox in (the SQLite repository)."""
    repository = engine.repository
    if not isinstance(repository, SqliteRepository):
        raise TypeError("channels need the SQLite repository")
    return repository


def keyring_for(settings: Settings) -> Keyring:
    return Keyring(load_or_create_secret(settings.secret_key, settings.data_dir))


@asynccontextmanager
async def running_engine(settings: Settings) -> AsyncIterator[Engine]:
    """An engine over the configured SQLite database, closed cleanly on the way out."""
    keyring = keyring_for(settings)
    repository = SqliteRepository(settings.database_path(), keyring)
    await repository.open()
    try:
        engine = Engine.from_settings(settings, Content.load(settings), repository, keyring)
        tune_process()
        yield engine
    finally:
        await repository.close()


def header_deadline_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request headers have not all
    arrived `seconds` after it opened (or after its previous response): slow-header clients
    (slowloris) cannot hold connections. uvicorn itself has no such deadline."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            waiting = self.cycle is None or self.cycle.response_complete
            if waiting and not self.transport.is_closing():
                self.transport.close()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self._disarm()  # the WebSocket has its own timeouts from here on
            super().handle_websocket_upgrade(event)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadline
