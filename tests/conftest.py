from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, Settings
from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.storage.memory import MemoryRepository
from bot.storage.sqlite import SqliteRepository
from tests.auxil.botapi import BotApiStandIn
from tests.auxil.chat import MONDAY_AFTERNOON, Person


@pytest.fixture(scope="session")
def content() -> Content:
    return Content.load(
        Settings(flows_dir=PROJECT_ROOT / "flows", content_dir=PROJECT_ROOT / "content")
    )


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.for_testing()


@pytest.fixture
def engine(content: Content, keyring: Keyring) -> Engine:
    """An engine over the in-memory repository, at a fixed Monday afternoon."""
    return Engine(content, MemoryRepository(), keyring, clock=lambda: MONDAY_AFTERNOON)


@pytest.fixture
async def sqlite_engine(
    content: Content, keyring: Keyring, tmp_path: Path
) -> AsyncIterator[Engine]:
    repository = SqliteRepository(tmp_path / "bot.db", keyring)
    await repository.open()
    yield Engine(content, repository, keyring, clock=lambda: MONDAY_AFTERNOON)
    await repository.close()


@pytest.fixture
def person(engine: Engine) -> Person:
    return Person(engine)


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    """The stand-in Telegram Bot API server, on a loopback port."""
    server = BotApiStandIn()
    await server.start()
    yield server
    await server.stop()
