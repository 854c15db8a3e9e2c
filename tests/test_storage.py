"""Durable, private storage: exactly-once events, restarts, encryption at rest, real deletion."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.model import Conversation, Decision, EventKind, Say
from bot.storage.migrations import MIGRATIONS
from bot.storage.sqlite import SqliteRepository
from tests.auxil.chat import MONDAY_AFTERNOON, Person

SECRET_PHRASE = "purple-elephant-7731 my snapchat is secret_handle_42"


def _files(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())


async def _open(content: Content, path: Path, keyring: Keyring) -> tuple[Engine, SqliteRepository]:
    repository = SqliteRepository(path, keyring)
    await repository.open()
    return Engine(content, repository, keyring, clock=lambda: MONDAY_AFTERNOON), repository


async def test_duplicate_event_has_one_effect(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine)
    await person.start()
    first = await person.send(person.event(EventKind.CHOICE, "begin", event_id="same-id"))
    again = await person.send(person.event(EventKind.CHOICE, "begin", event_id="same-id"))
    assert "how old are you" in first.text
    assert again.duplicate and again.effects == ()
    assert await person.state() == ("intake", "ask_age")
    cid = sqlite_engine.keyring.conversation_id("test:person-1")
    assert len(await sqlite_engine.repository.transcript(cid)) == 2


async def test_duplicates_inside_one_batch(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine)
    await person.start()
    event = person.event(EventKind.CHOICE, "begin", event_id="twice")
    replies = await asyncio.gather(sqlite_engine.handle(event), sqlite_engine.handle(event))
    assert sorted(r.duplicate for r in replies) == [False, True]
    assert await person.state() == ("intake", "ask_age")


async def test_restart_mid_conversation_continues(content: Content, tmp_path: Path) -> None:
    keyring = Keyring(b"a key for this test")
    engine, repository = await _open(content, tmp_path / "bot.db", keyring)
    person = Person(engine)
    await person.start()
    await person.tap("start")
    await person.say("I'm 19")
    await person.tap("Northern Ireland")
    await person.tap("already paid")
    await repository.close()

    # A new process: new repository, same file and key.
    engine, repository = await _open(content, tmp_path / "bot.db", Keyring(b"a key for this test"))
    person = Person(engine)
    assert await person.state() == ("paid", "start")
    reply = await person.start()
    assert "Welcome back" in reply.text
    reply = await person.tap("Go on")
    assert "don't pay anything more" in reply.text
    conversation = await repository.load(keyring.conversation_id("test:person-1"))
    assert conversation is not None
    assert (conversation.profile.age, conversation.profile.nation) == (19, "northern_ireland")
    await repository.close()


async def test_typed_words_are_not_in_the_database_or_logs(
    content: Content, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    keyring = Keyring(b"another key")
    engine, repository = await _open(content, tmp_path / "bot.db", keyring)
    person = Person(engine, user="chat-998877")
    await person.start()
    await person.tap("start")
    await person.say("25")
    await person.say("I live in Glasgow")
    await person.say(SECRET_PHRASE)  # free text while the bot asks a yes/no question
    cid = keyring.conversation_id("test:chat-998877")
    transcript = await repository.transcript(cid)
    assert SECRET_PHRASE in [entry.inbound for entry in transcript], "it was stored (sealed)"
    await repository.close()

    on_disk = _files(tmp_path)
    for needle in (SECRET_PHRASE, "purple-elephant", "secret_handle_42", "Glasgow", "chat-998877"):
        assert needle.encode() not in on_disk, needle
        assert needle not in caplog.text, needle


async def test_delete_removes_the_data_for_real(content: Content, tmp_path: Path) -> None:
    keyring = Keyring(b"k")
    engine, repository = await _open(content, tmp_path / "bot.db", keyring)
    person = Person(engine)
    await person.start()
    await person.tap("start")
    await person.say("person")  # leaves a handoff row too
    cid = keyring.conversation_id("test:person-1")
    with sqlite3.connect(tmp_path / "bot.db") as db:
        blobs = [row[0] for row in db.execute("SELECT sealed FROM transcript")]
        blobs += [row[0] for row in db.execute("SELECT sealed FROM conversations")]
    assert blobs and await repository.handoffs(cid)

    await person.say("delete")
    reply = await person.tap("Yes, delete")
    assert reply.ended
    await repository.close()
    on_disk = _files(tmp_path)
    for blob in blobs:
        assert blob[:24] not in on_disk, "sealed bytes linger on disk"
    assert cid.encode() not in on_disk
    with sqlite3.connect(tmp_path / "bot.db") as db:
        for table in ("conversations", "transcript", "handoffs"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


async def test_many_conversations_at_once(sqlite_engine: Engine) -> None:
    async def talk(n: int) -> tuple[str, str] | None:
        person = Person(sqlite_engine, user=f"p{n}")
        await person.start()
        await person.tap("start")
        await person.say(str(14 + n % 30))
        await person.tap("Wales")
        return await person.state()

    states = await asyncio.gather(*(talk(n) for n in range(60)))
    assert set(states) == {("intake", "young_note"), ("intake", "ask_what")}
    repository = sqlite_engine.repository
    assert isinstance(repository, SqliteRepository)
    assert repository.batched_events == 60 * 4
    assert repository.batches < 60 * 4, "concurrent events share commits"


async def test_a_failing_decision_stores_nothing_and_spares_the_batch(
    sqlite_engine: Engine,
) -> None:
    repository = sqlite_engine.repository
    ok_person = Person(sqlite_engine, user="fine")

    def explode(conversation: Conversation | None) -> Decision:
        raise RuntimeError("boom")

    async def fine() -> None:
        reply = await ok_person.start()
        assert "support bot" in reply.text

    results = await asyncio.gather(
        repository.process("c-broken", "test:broken-1", explode), fine(), return_exceptions=True
    )
    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert await repository.load("c-broken") is None

    # The failed event was not marked as processed: a retry runs again.
    def ok(conversation: Conversation | None) -> Decision:
        return Decision(None, [Say("ok")])

    outcome = await repository.process("c-broken", "test:broken-1", ok)
    assert not outcome.duplicate


async def test_schema_is_versioned_and_hardened(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert path.stat().st_mode & 0o777 == 0o600


async def test_secret_key_file_is_private(tmp_path: Path) -> None:
    from bot.crypto import load_or_create_secret

    first = load_or_create_secret("", tmp_path)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret("", tmp_path) == first
    assert load_or_create_secret("configured", tmp_path) == b"configured"


async def test_a_caller_that_gives_up_does_not_stop_the_writer(sqlite_engine: Engine) -> None:
    repository = sqlite_engine.repository
    assert isinstance(repository, SqliteRepository)

    async def slow(db):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.05)

    waiting = asyncio.create_task(repository.submit(slow))
    await asyncio.sleep(0.01)
    waiting.cancel()  # e.g. a chat's worker stopped during shutdown
    await asyncio.sleep(0.1)
    person = Person(sqlite_engine)
    reply = await asyncio.wait_for(person.start(), 5)  # a dead writer would never answer
    assert "support bot" in reply.text


async def test_dashboard_counts_are_anonymous_and_outlive_erasure(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine, "counted")
    await person.start()
    await person.tap("start")
    await person.say("I'm 16")
    await person.say("Cardiff")
    await person.say("yes")
    await person.say("person")
    repository = sqlite_engine.repository
    assert isinstance(repository, SqliteRepository)
    await person.say("delete")
    await person.say("yes")
    rows = {(m, k): n for _, m, k, n in await repository.fetch("SELECT * FROM daily")}
    assert rows[("conversations", "all")] == 1
    assert rows[("age_band", "13_17")] == 1 and rows[("nation", "wales")] == 1
    assert rows[("handoffs", "young")] == 1
    assert await repository.fetch("SELECT * FROM conversations") == []
    assert await repository.fetch("SELECT * FROM cases") == []
    # The deletion itself is audited: when and how, not whose.
    audit = await repository.fetch("SELECT moderator_id, action, subject, detail FROM audit")
    assert audit == [(None, "delete", "", "erased at the person's request")]
