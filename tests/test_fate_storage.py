"""Fate isolation in the group-commit writer: one event that cannot be stored fails alone.

Issue 11, item 1: a file name with a lone surrogate raised inside the batch's commit, so every
other event of the batch (and, through the pipeline, of the next one) lost its message.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from bot.crypto import Keyring
from bot.model import Conversation, Decision, NewEvidence, Outcome, Say
from bot.storage.sqlite import SqliteRepository

POISON = "\ud800.png"  # valid JSON, not valid UTF-8


def _conversation(cid: str, turns: int) -> Conversation:
    return Conversation(cid, "test", "intake", "ask_age", "en-GB", 1.0, 1.0, turns=turns)


def _decide(cid: str, name: str) -> object:
    def decide(stored: Conversation | None) -> Decision:
        turns = (stored.turns if stored else 0) + 1
        data = b"evidence " + cid.encode()
        item = NewEvidence(
            f"item{cid}x{turns}",
            "file",
            "image/png",
            name,
            data,
            hashlib.sha256(data).hexdigest(),
            1.0,
            "test",
        )
        return Decision(_conversation(cid, turns), [Say(f"kept {cid}")], evidence=[item])

    return decide


@pytest.fixture
async def repository(tmp_path: Path) -> object:
    repo = SqliteRepository(tmp_path / "bot.db", Keyring(b"fate tests"))
    await repo.open()
    yield repo
    await repo.close()


async def _one_batch(
    repository: SqliteRepository, jobs: list[tuple[str, str, str]]
) -> list[Outcome | BaseException]:
    """All `jobs` queued before the writer runs, so they are decided as one batch."""
    calls = [
        repository.process(cid, key, _decide(cid, name))  # type: ignore[arg-type]
        for cid, key, name in jobs
    ]
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def test_a_poison_event_among_fifty_fails_alone(repository: SqliteRepository) -> None:
    good = [(f"c{i}", f"test:e{i}", "screenshot.png") for i in range(50)]
    jobs = [*good[:25], ("poison", "test:poison", POISON), *good[25:]]
    results = await _one_batch(repository, jobs)
    # Every good event answered and stored; the poison one too, with its name made valid
    # (or, at worst, failing by itself).
    for (cid, _, _), result in zip(jobs, results, strict=True):
        if cid == "poison":
            continue
        assert isinstance(result, Outcome), (cid, result)
        assert result.effects == (Say(f"kept {cid}"),)
    stored = {row[0] for row in await repository.fetch("SELECT id FROM conversations")}
    assert {cid for cid, _, _ in good} <= stored
    poison = results[25]
    if isinstance(poison, Outcome):
        [record] = await repository.evidence_items("poison")
        assert record.name == "?.png"
    # The next batch is not hurt either.
    after = await _one_batch(repository, [("late", "test:late", "x.png")])
    assert isinstance(after[0], Outcome)


async def test_an_event_that_breaks_the_commit_fails_alone(
    repository: SqliteRepository,
) -> None:
    """Whatever breaks a commit (here: an evidence id already stored, a constraint error), the
    writer stores the rest one by one, and the next batch is decided on what was stored."""
    first = await _one_batch(repository, [("a", "test:first", "x.png")])
    assert isinstance(first[0], Outcome)

    def clash(stored: Conversation | None) -> Decision:
        decision = _decide("clash", "y.png")(stored)  # type: ignore[operator]
        assert isinstance(decision, Decision)
        decision.evidence[0] = NewEvidence(
            "itemax1", "file", "image/png", "y.png", b"z", "0" * 64, 1.0, "test"
        )
        return decision

    calls = [
        repository.process(f"g{i}", f"test:g{i}", _decide(f"g{i}", "ok.png")) for i in range(10)
    ]  # type: ignore[arg-type]
    calls.insert(5, repository.process("clash", "test:clash", clash))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[5], sqlite3.IntegrityError)
    assert all(isinstance(r, Outcome) for i, r in enumerate(results) if i != 5)
    stored = {row[0] for row in await repository.fetch("SELECT id FROM conversations")}
    assert {f"g{i}" for i in range(10)} <= stored and "clash" not in stored


async def test_a_busy_database_is_waited_for(repository: SqliteRepository, tmp_path: Path) -> None:
    """Another connection holding the write lock for longer than busy_timeout: the batch is
    tried again (not failed) once the lock is gone."""
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    await repository._conn.execute("PRAGMA busy_timeout=50")
    task = asyncio.ensure_future(_one_batch(repository, [("b", "test:busy", "x.png")]))
    await asyncio.sleep(0.3)
    other.execute("COMMIT")
    other.close()
    [result] = await task
    assert isinstance(result, Outcome)


async def test_chat_message_ids_are_erased_and_purged(repository: SqliteRepository) -> None:
    """Issue 11, item 12: `channel_messages` was never purged nor erased with a person."""
    import time

    for cid in ("erased", "kept", "old", "exited"):
        result = await _one_batch(repository, [(cid, f"test:{cid}", "x.png")])
        assert isinstance(result[0], Outcome)
        await repository.messages_add(cid, [1, 2, 3])

    async def count(cid: str) -> int:
        rows = await repository.fetch(
            "SELECT COUNT(*) FROM channel_messages WHERE conversation_id = ?", (cid,)
        )
        return int(rows[0][0])

    await repository.erase("erased")
    assert await count("erased") == 0
    # Ids older than Telegram's 48-hour deletion window are no use: purged.
    await repository.submit(
        lambda db: db.execute(
            "UPDATE channel_messages SET at = ? WHERE conversation_id = 'old'",
            (time.time() - 49 * 3600,),
        )
    )
    # A quick exit forgets the conversation; its message ids stay until the channel takes them.
    exit_decision = repository.process(
        "exited", "test:exit", lambda stored: Decision(None, [Say("Chat closed.")], erase=True)
    )
    assert isinstance(await exit_decision, Outcome)
    assert await count("exited") == 3
    assert await repository.messages_take("exited") == [1, 2, 3]
    report = await repository.purge(idle_before=0.0, inbox_before=0.0)
    assert report.conversations == 0
    assert await count("old") == 0 and await count("kept") == 3
    # A conversation erased after the retention period takes its message ids with it.
    await repository.purge(idle_before=time.time() + 1, inbox_before=0.0)
    assert await count("kept") == 0
