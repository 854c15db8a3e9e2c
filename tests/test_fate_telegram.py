"""Fate isolation on Telegram: a full disk loses no acknowledged message and recovers on its
own; a failed update is retried in-process (not only after a restart); a poison file name
fails nobody else."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.engine import Content
from bot.model import EventKind, Inbound, Profile
from tests.auxil.botapi import BotApiStandIn
from tests.test_channel_telegram_crisis import decided
from tests.test_telegram import Harness, until

PEOPLE = [3001, 3002, 3003]


@pytest.fixture
async def harness(api: BotApiStandIn, content: Content, tmp_path: Path) -> object:
    h = Harness(api, content, tmp_path / "bot.db")
    yield h
    await h.stop()


async def _set_max_pages(h: Harness, pages: int | None) -> None:
    """SQLite's own size limit on the writer's connection: past it, writes fail SQLITE_FULL."""
    assert h.repository is not None
    db = h.repository._conn
    if pages is None:
        rows = await db.execute_fetchall("PRAGMA page_count")
        pages = int(next(iter(rows))[0])
    await db.execute(f"PRAGMA max_page_count={pages}")


async def test_disk_full_loses_nothing_and_recovers(harness: Harness, api: BotApiStandIn) -> None:
    channel = await harness.start()
    channel.retry_delays = (0.05, 0.1, 0.2)
    for chat in PEOPLE:
        api.text(chat, "/start")
    await until(lambda: all(len(api.chat(chat)) >= 2 for chat in PEOPLE))
    await decided(harness)
    greeted = {chat: len(api.chat(chat)) for chat in PEOPLE}
    await _set_max_pages(harness, None)  # the disk is full from now on
    long_story = "someone i met online recorded our video call and wants money " * 40
    for chat in PEOPLE:
        api.text(chat, long_story)
        api.text(chat, "I'm 19")
    polls = len(api.method_calls("getUpdates"))
    await until(lambda: len(api.method_calls("getUpdates")) >= polls + 2)
    await asyncio.sleep(0.5)
    sorry = channel.engine.renderer.text("en-GB", "sys.storage_down", Profile())
    answered = {chat: len([t for t in api.texts(chat) if t != sorry]) for chat in PEOPLE}
    assert answered == greeted  # nothing decided yet (at most a kind word that it will be)
    await _set_max_pages(harness, 1_000_000)  # space again
    await until(lambda: all(len(api.chat(chat)) > greeted[chat] + 1 for chat in PEOPLE), 30)
    await decided(harness)
    assert harness.repository is not None
    for chat in PEOPLE:
        cid = channel.engine.conversation_id(Inbound("telegram", str(chat), "x", EventKind.TEXT))
        transcript = await harness.repository.transcript(cid)
        assert len(transcript) == 3, chat  # /start, the story, the age: each exactly once
    assert await harness.repository.inbox_pending("telegram") == []


async def test_a_failed_update_is_retried_without_a_restart(
    harness: Harness, api: BotApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: "kept and retried on restart" only; the person heard nothing until then."""
    channel = await harness.start()
    channel.retry_delays = (0.05, 0.1)
    assert harness.repository is not None
    real = harness.repository.process
    failures = [2]

    async def flaky(*args: object, **kwargs: object) -> object:
        if failures[0]:
            failures[0] -= 1
            import sqlite3

            raise sqlite3.OperationalError("database is locked")
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(harness.repository, "process", flaky)
    api.text(PEOPLE[0], "/start")
    await until(lambda: len(api.chat(PEOPLE[0])) >= 2)
    assert "I'm a support bot" in api.texts(PEOPLE[0])[0]
    await decided(harness)


async def test_a_poison_file_name_fails_nobody(harness: Harness, api: BotApiStandIn) -> None:
    """A document named with a lone surrogate (valid JSON) among other people's messages."""
    from tests.auxil.files import png

    await harness.start()
    for chat in PEOPLE:
        api.text(chat, "/start")
    await until(lambda: all(len(api.chat(chat)) >= 2 for chat in PEOPLE))
    await decided(harness)
    before = {chat: len(api.chat(chat)) for chat in PEOPLE}
    api.document(PEOPLE[0], "\ud800.png", png(b"x"))
    for chat in PEOPLE[1:]:
        api.text(chat, "I'm 19")
    await until(lambda: all(len(api.chat(chat)) > before[chat] for chat in PEOPLE))
    await decided(harness)
