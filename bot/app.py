"""Assembling the service from settings: keys, content, storage, engine."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from bot.crypto import Keyring, load_or_create_secret
from bot.engine import Content, Engine
from bot.storage.base import ChannelStore
from bot.storage.sqlite import SqliteRepository

# The event loop thread decides while SQLite's thread commits; with Python's default 5 ms GIL
# switch interval a finished commit can wait that long to hand back its result.
GIL_SWITCH_INTERVAL = 0.0005


def tune_process() -> None:
    """Process-wide settings for a latency-sensitive service (call once, after loading content)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    # Loaded flows, texts and machines live as long as the process: keep them out of GC passes.
    gc.collect()
    gc.freeze()


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
