"""A full disk (issue 11): SQLite answers SQLITE_FULL, evidence files cannot be written.

No acknowledged message is lost: a message counts as taken in only once its commit returned,
and whatever failed left nothing behind (no row, no outbox entry, no file, not even part of
one), so it is decided afresh, exactly once, when space returns. Writes recover by themselves,
without a restart. On Telegram the crisis answer still goes out while nothing can be stored.

The disk is filled for real, as SQLite sees it: `PRAGMA max_page_count` caps the file at its
current size, after a filler table has taken every free page and byte in it, so any write that
needs a page fails with SQLITE_FULL.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import bot.storage.blobs as blobs_module
from bot.crypto import Keyring
from bot.engine import Content
from bot.model import (
    Conversation,
    Decision,
    EventKind,
    Inbound,
    NewEvidence,
    Outcome,
    Profile,
    Say,
    TranscriptEntry,
)
from bot.storage.sqlite import SqliteRepository
from tests.auxil.botapi import BotApiStandIn
from tests.test_channel_telegram_crisis import KILL, decided, samaritans
from tests.test_telegram import Harness, until

SQLITE_FULL = 13
# Longer than a page (4 KiB): every row carrying it needs a page of its own.
LONG = "someone i met online recorded our video call and now wants money from me " * 70
KEY = b"disk full tests"


async def fill_the_disk(repository: SqliteRepository) -> None:
    """From now on the database cannot grow, and has no free page or byte left to use."""
    filler = sqlite3.connect(repository.path, timeout=5, isolation_level=None)
    try:
        filler.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
        [(pages,)] = filler.execute("PRAGMA page_count").fetchall()
        filler.execute(f"PRAGMA max_page_count = {pages}").fetchall()
        for size in (4000, 1000, 300, 100, 30, 10, 1):
            while True:
                try:
                    filler.execute("INSERT INTO filler VALUES (zeroblob(?))", (size,))
                except sqlite3.OperationalError as exc:
                    assert _full(exc)
                    break
    finally:
        filler.close()
    await _limit(repository, pages)


async def space_again(repository: SqliteRepository) -> None:
    await _limit(repository, 1 << 30)


async def _limit(repository: SqliteRepository, pages: int) -> None:
    """The writer's own connection gets the cap (it is a setting of each connection)."""

    async def work(db: Any) -> None:
        await db.execute_fetchall(f"PRAGMA max_page_count = {pages}")

    await repository.submit(work)


def _full(result: object) -> bool:
    code = getattr(result, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == SQLITE_FULL


def _decide(cid: str, words: str, files: tuple[bytes, ...] = ()):  # type: ignore[no-untyped-def]
    def decide(stored: Conversation | None) -> Decision:
        now = time.time()
        turns = (stored.turns if stored else 0) + 1
        conversation = Conversation(cid, "test", "intake", "ask_age", "en-GB", now, now)
        conversation.turns = turns
        evidence = [
            NewEvidence(
                hashlib.sha256(f"{cid}:{turns}:{n}".encode()).hexdigest()[:32],
                "file",
                "image/png",
                "shot.png",
                data,
                hashlib.sha256(data).hexdigest(),
                now,
                "test",
            )
            for n, data in enumerate(files)
        ]
        return Decision(
            conversation,
            [Say(f"{cid}, turn {turns}")],
            transcript=TranscriptEntry(now, words, (f"turn {turns}",)),
            evidence=evidence,
        )

    return decide


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[SqliteRepository]:
    repo = SqliteRepository(tmp_path / "bot.db", Keyring(KEY))
    await repo.open()
    yield repo
    await repo.close()


async def _stored_keys(repository: SqliteRepository) -> set[str]:
    return {row[0] for row in await repository.fetch("SELECT event_key FROM inbox")}


async def _after_a_restart(repository: SqliteRepository) -> SqliteRepository:
    """The same database opened afresh, as the next process would, once this one closed."""
    await repository.close()
    reopened = SqliteRepository(repository.path, Keyring(KEY))
    await reopened.open()
    return reopened


async def _attempt(repository: SqliteRepository, cid: str, n: int) -> Outcome | BaseException:
    try:
        return await repository.process(cid, f"test:{cid}:{n}", _decide(cid, LONG), outbox="1")
    except Exception as exc:
        return exc


# --- storage ---------------------------------------------------------------------------------


async def test_nothing_is_taken_in_while_full_and_all_of_it_after(
    repository: SqliteRepository,
) -> None:
    people = [f"p{n}" for n in range(6)]
    for cid in people:
        assert isinstance(
            await repository.process(cid, f"test:{cid}:0", _decide(cid, "hi")), Outcome
        )
    await fill_the_disk(repository)

    # Everyone writes twice at once (several batches): each fails, none is claimed as stored.
    results = await asyncio.gather(
        *(_attempt(repository, cid, n) for n in (1, 2) for cid in people)
    )
    assert all(_full(result) for result in results), results
    # Raw platform updates cannot be kept either: the channel does not acknowledge them.
    with pytest.raises(sqlite3.OperationalError) as intake:
        await repository.inbox_put_many("telegram", [(1, LONG.encode())])
    assert _full(intake.value)
    # Nothing half-stored: no event, no outbox entry, no transcript line of the failed ones.
    assert await _stored_keys(repository) == {f"test:{cid}:0" for cid in people}
    assert await repository.outbox("test") == []
    assert await repository.inbox_pending("telegram") == []
    for cid in people:
        assert len(await repository.transcript(cid)) == 1

    await space_again(repository)  # no restart: the same writer goes on

    async def again(cid: str) -> list[Outcome | BaseException]:
        return [await _attempt(repository, cid, n) for n in (1, 2)]

    for cid, outcomes in zip(people, await asyncio.gather(*map(again, people)), strict=True):
        assert outcomes == [Outcome((Say(f"{cid}, turn 2"),)), Outcome((Say(f"{cid}, turn 3"),))]
    assert await repository.inbox_put_many("telegram", [(1, LONG.encode())]) == [1]

    reopened = await _after_a_restart(repository)
    try:
        assert await _stored_keys(reopened) == {
            f"test:{cid}:{n}" for cid in people for n in range(3)
        }
        for cid in people:
            assert len(await reopened.transcript(cid)) == 3  # each message exactly once
        assert len(await reopened.outbox("test")) == 2 * len(people)
    finally:
        await reopened.close()


async def test_acknowledged_means_stored_while_the_disk_fills_up(
    repository: SqliteRepository,
) -> None:
    """A little room left, then none, in the middle of a burst: every message answered is
    there after a restart, and every one refused is not."""
    rows = await repository.fetch("PRAGMA page_count")
    await _limit(repository, int(rows[0][0]) + 24)
    outcomes: dict[str, Outcome | BaseException] = {}
    for wave in range(12):  # waves of three people writing at once
        people = [f"w{wave}p{n}" for n in range(3)]
        results = await asyncio.gather(*(_attempt(repository, cid, 1) for cid in people))
        outcomes.update(zip((f"test:{cid}:1" for cid in people), results, strict=True))
    answered = {key for key, result in outcomes.items() if isinstance(result, Outcome)}
    refused = set(outcomes) - answered
    assert answered and refused
    assert all(_full(outcomes[key]) for key in refused)

    reopened = await _after_a_restart(repository)
    try:
        assert await _stored_keys(reopened) == answered
    finally:
        await reopened.close()


class _DiskWithRoomFor:
    """The `os` module as blobs.py sees it, on a disk with `room` bytes left."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: Any) -> int:
        if not self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = os.write(fd, bytes(data[: self.room]))
        self.room -= written
        return written


async def test_files_on_a_full_disk_fail_alone_and_leave_nothing(
    repository: SqliteRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room for the first of two files and half the second: the event with the files fails
    (neither file nor any part of one stays), everyone else's message in its batch is stored."""
    first, second = os.urandom(3000), os.urandom(3000)
    disk = _DiskWithRoomFor(3000 + 28 + 1500)  # sealing adds a nonce and a tag (28 bytes)
    monkeypatch.setattr(blobs_module, "os", disk)
    calls = [
        repository.process("a", "test:a", _decide("a", "hi")),
        repository.process("files", "test:files", _decide("files", "here", (first, second))),
        repository.process("b", "test:b", _decide("b", "hi")),
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[0], Outcome) and isinstance(results[2], Outcome), results
    assert isinstance(results[1], OSError) and results[1].errno == errno.ENOSPC
    assert await _stored_keys(repository) == {"test:a", "test:b"}
    assert list(repository.blobs.directory.iterdir()) == []

    disk.room = 1 << 20  # space again
    outcome = await repository.process(
        "files", "test:files", _decide("files", "here", (first, second))
    )
    assert outcome == Outcome((Say("files, turn 1"),))
    records = await repository.evidence_items("files")
    assert [await repository.evidence_data(record) for record in records] in (
        [first, second],
        [second, first],
    )


# --- Telegram --------------------------------------------------------------------------------

ALICE, BOB = 4101, 4102


@pytest.fixture
async def harness(api: BotApiStandIn, content: Content, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(api, content, tmp_path / "bot.db")
    yield h
    await h.stop()


def _crisis_lines(api: BotApiStandIn, content: Content, chat: int) -> int:
    return sum(samaritans(content) in text for text in api.texts(chat))


async def _with_people_started(harness: Harness, api: BotApiStandIn) -> dict[int, int]:
    channel = await harness.start()
    channel.retry_delays = (0.05, 0.1, 0.2)
    for chat in (ALICE, BOB):
        api.text(chat, "/start")
    await until(lambda: all(len(api.chat(chat)) >= 2 for chat in (ALICE, BOB)))
    await decided(harness)
    return {chat: len(api.chat(chat)) for chat in (ALICE, BOB)}


async def test_crisis_answer_on_a_full_disk_then_everything_once(
    harness: Harness, api: BotApiStandIn, content: Content
) -> None:
    greeted = await _with_people_started(harness, api)
    assert harness.repository is not None
    await fill_the_disk(harness.repository)
    api.text(ALICE, f"{KILL}. {LONG}")
    api.text(BOB, LONG)
    await until(lambda: _crisis_lines(api, content, ALICE) >= 1)
    polls = len(api.method_calls("getUpdates"))
    await until(lambda: len(api.method_calls("getUpdates")) >= polls + 2)
    assert _crisis_lines(api, content, ALICE) == 1  # once, though the update came again
    # Nothing decided for Bob (nothing was stored): only the kind word that it will come.
    sorry = content_sorry(harness)
    assert api.texts(BOB)[greeted[BOB] :] == [sorry]

    await space_again(harness.repository)
    assert harness.channel is not None
    ids = {
        chat: harness.channel.engine.conversation_id(
            Inbound("telegram", str(chat), "x", EventKind.TEXT)
        )
        for chat in (ALICE, BOB)
    }

    async def transcripts() -> dict[int, int]:
        assert harness.repository is not None
        return {chat: len(await harness.repository.transcript(ids[chat])) for chat in ids}

    for _ in range(1500):  # the next getUpdates keeps them; then each is decided
        if await transcripts() == {ALICE: 2, BOB: 2}:
            break
        await asyncio.sleep(0.02)
    await decided(harness)
    assert await transcripts() == {ALICE: 2, BOB: 2}  # /start and the long one, each once
    assert len(api.chat(BOB)) > greeted[BOB] + 1  # Bob's answer came
    assert api.texts(BOB).count(sorry) == 1
    assert _crisis_lines(api, content, ALICE) == 1  # the decided reply did not repeat them


def content_sorry(harness: Harness) -> str:
    assert harness.channel is not None
    return harness.channel.engine.renderer.text("en-GB", "sys.storage_down", Profile())


async def test_a_person_hears_kindly_while_the_disk_is_full(
    harness: Harness, api: BotApiStandIn
) -> None:
    greeted = await _with_people_started(harness, api)
    assert harness.repository is not None
    await fill_the_disk(harness.repository)
    api.text(BOB, LONG)
    await until(lambda: len(api.chat(BOB)) > greeted[BOB], 5)
    sorry = content_sorry(harness)
    assert api.texts(BOB)[-1] == sorry
    api.text(BOB, "and another thing")  # told once, not at every message
    await asyncio.sleep(1.5)
    assert api.texts(BOB).count(sorry) == 1
    await space_again(harness.repository)
    await until(lambda: len(api.chat(BOB)) > greeted[BOB] + 1, 30)  # then the real answer
    assert api.texts(BOB).count(sorry) == 1
