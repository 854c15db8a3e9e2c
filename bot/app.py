"""Assembling the service from settings: keys, content, storage, engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from bot.crypto import Keyring, load_or_create_secret
from bot.engine import Content, Engine
from bot.storage.sqlite import SqliteRepository


def keyring_for(settings: Settings) -> Keyring:
    return Keyring(load_or_create_secret(settings.secret_key, settings.data_dir))


@asynccontextmanager
async def running_engine(settings: Settings) -> AsyncIterator[Engine]:
    """An engine over the configured SQLite database, closed cleanly on the way out."""
    keyring = keyring_for(settings)
    repository = SqliteRepository(settings.database_path(), keyring.store)
    await repository.open()
    try:
        yield Engine.from_settings(settings, Content.load(settings), repository, keyring)
    finally:
        await repository.close()
