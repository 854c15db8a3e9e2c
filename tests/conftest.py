from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from bot.config import PROJECT_ROOT, Settings
from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.storage.memory import MemoryRepository
from bot.storage.sqlite import SqliteRepository
from tests.auxil.botapi import BotApiStandIn
from tests.auxil.browser import CHROMIUM, CHROMIUM_ARGS, StaticSite, free_port
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


@pytest.fixture
def site(tmp_path: Path) -> Iterator[StaticSite]:
    """Another origin: a neutral page, and host pages that embed the widget from the server."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "neutral.html").write_text("<!doctype html><title>Weather</title><h1>Weather</h1>")
    running = StaticSite(root, free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium, driven by Playwright."""
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()
