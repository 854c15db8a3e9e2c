"""The writer after a restart (issue 11, item 1).

In 1 of 10 runs of a Telegram crash drill the first batches after a restart failed with
`OperationalError` right after the start-up purge. The cause was not the crash, WAL recovery or
a second connection: the purge ends with `PRAGMA wal_checkpoint(TRUNCATE)`, run with
`execute()` and its cursor dropped at its result row. aiosqlite's thread keeps its last result
(that cursor) alive until its next call has run, so the checkpoint was still in progress during
the writer connection's next call. SQLite counts a checkpoint as a writing statement, and a
COMMIT beside one fails: "cannot commit transaction - SQL statements in progress" (SQLITE_BUSY).
When that next call was a batch's commit (someone's message queued behind the purge, as after
every restart with updates waiting), the batch failed. Erasures and quick exits truncate the WAL
too. Since then busy errors are retried, which hid it: the failed batch's rollback ended the
statement, so the second try worked. These tests turn the retries off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import bot.storage.sqlite as sqlite_module
from bot.config import PROJECT_ROOT
from bot.crypto import Keyring
from bot.model import Conversation, Decision, Outcome, Say
from bot.storage.sqlite import SqliteRepository

KEY = b"restart tests"


def _decide(cid: str, erase: bool = False):  # type: ignore[no-untyped-def]
    def decide(stored: Conversation | None) -> Decision:
        if erase:
            return Decision(None, [Say("Chat closed.")], erase=True)
        turns = (stored.turns if stored else 0) + 1
        now = time.time()  # (the start-up purge keeps conversations active lately)
        conversation = Conversation(cid, "telegram", "intake", "ask_age", "en-GB", now, now)
        conversation.turns = turns
        return Decision(conversation, [Say(f"reply {turns}")])

    return decide


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A busy database fails at once, and nothing may even have looked busy."""
    monkeypatch.setattr(sqlite_module, "RETRIES", 0)
    caplog.set_level(logging.WARNING, logger="bot.storage.sqlite")


def _nothing_looked_busy(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.fixture
async def repository(tmp_path: Path) -> object:
    repo = SqliteRepository(tmp_path / "bot.db", Keyring(KEY))
    await repo.open()
    yield repo
    await repo.close()


async def test_a_message_queued_behind_the_start_up_purge_is_stored(
    repository: SqliteRepository, no_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The drill's failure exactly: the purge, then a waiting update's batch, then its commit."""
    assert isinstance(await repository.process("a", "telegram:1", _decide("a")), Outcome)
    now = time.time()
    report, outcome = await asyncio.gather(
        repository.purge(now - 90 * 86400, now - 30 * 86400),
        repository.process("b", "telegram:2", _decide("b")),
        return_exceptions=True,
    )
    assert isinstance(outcome, Outcome), outcome
    assert outcome.effects == (Say("reply 1"),)
    assert not isinstance(report, BaseException), report
    _nothing_looked_busy(caplog)


async def test_a_message_right_after_an_erasure_is_stored(
    repository: SqliteRepository, no_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    await repository.process("a", "telegram:1", _decide("a"))
    await repository.erase("a")
    outcome = await repository.process("b", "telegram:2", _decide("b"))
    assert outcome.effects == (Say("reply 1"),)
    _nothing_looked_busy(caplog)


async def test_a_message_right_after_a_quick_exit_is_stored(
    repository: SqliteRepository, no_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    await repository.process("a", "telegram:1", _decide("a"))
    await repository.process("a", "telegram:2", _decide("a", erase=True))
    outcome = await repository.process("b", "telegram:3", _decide("b"))
    assert outcome.effects == (Say("reply 1"),)
    _nothing_looked_busy(caplog)


async def test_the_wal_is_still_truncated_after_an_erasure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finishing the checkpoint statement must not stop it from doing its job: erased rows'
    old page images are gone from the WAL."""
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_EVERY", 3600.0)  # no background checkpoint
    repo = SqliteRepository(tmp_path / "bot.db", Keyring(KEY))
    await repo.open()
    try:
        for n in range(5):
            await repo.process("a", f"telegram:{n}", _decide("a"))
        wal = tmp_path / "bot.db-wal"
        assert wal.stat().st_size > 0
        await repo.erase("a")
        assert wal.stat().st_size == 0
    finally:
        await repo.close()


async def test_a_truncation_that_finds_a_checkpoint_in_its_way_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background checkpoint holds the checkpoint lock for a moment: TRUNCATE then reports
    busy in its result row (no error, no busy handler). One such moment must not leave an
    erased person's old pages in the WAL until the next erasure or purge."""
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_EVERY", 3600.0)
    real = sqlite_module._pragma
    busy_once = [True]

    async def in_the_way(db: Any, pragma: str) -> list[Any]:
        if pragma == "wal_checkpoint(TRUNCATE)" and busy_once:
            busy_once.clear()
            return [(1, -1, -1)]  # (busy, WAL frames, frames checkpointed)
        return await real(db, pragma)

    monkeypatch.setattr(sqlite_module, "_pragma", in_the_way)
    repo = SqliteRepository(tmp_path / "bot.db", Keyring(KEY))
    await repo.open()
    try:
        await repo.process("a", "telegram:1", _decide("a"))
        await repo.erase("a")
        assert busy_once == []
        assert (tmp_path / "bot.db-wal").stat().st_size == 0
    finally:
        await repo.close()


# --- a real crash ----------------------------------------------------------------------------

# Writes one conversation's events one after another, printing each event's key once its
# commit returned (the moment a channel would acknowledge it), until it is killed.
_CHILD = """
import asyncio, sys, time
from pathlib import Path
from bot.crypto import Keyring
from bot.model import Conversation, Decision, Say
from bot.storage.sqlite import SqliteRepository

def decide(cid):
    def run(stored):
        c = Conversation(cid, "telegram", "intake", "ask_age", "en-GB", time.time(), time.time())
        c.turns = (stored.turns if stored else 0) + 1
        return Decision(c, [Say("x" * 2000)])
    return run

async def main():
    repo = SqliteRepository(Path(sys.argv[1]), Keyring(sys.argv[2].encode()))
    await repo.open()
    n = 0
    while True:
        key = f"telegram:{n}"
        await asyncio.gather(*(repo.process(f"p{i}", f"{key}:{i}", decide(f"p{i}"), outbox="1")
                               for i in range(4)))
        print(key, flush=True)
        n += 1

asyncio.run(main())
"""


def _crash_while_writing(path: Path, acknowledged: int) -> list[str]:
    """Run a writer in another process and SIGKILL it after `acknowledged` commits."""
    keys = []
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), KEY.decode()],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    ) as child:
        assert child.stdout is not None
        try:
            while len(keys) < acknowledged:
                line = child.stdout.readline()
                assert line, "the writer died by itself"
                keys.append(line.decode().strip())
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    return keys


async def test_start_up_after_a_crash_stores_the_first_messages(
    tmp_path: Path, no_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGKILLed mid-write, then started as the server starts: the channel's recovery reads,
    the start-up purge and the waiting messages all at once. Every message is stored at the
    first try, and nothing acknowledged before the crash is lost."""
    path = tmp_path / "bot.db"
    acknowledged = _crash_while_writing(path, 20)
    assert Path(f"{path}-wal").exists()  # killed: nothing checkpointed or closed the WAL
    repo = SqliteRepository(path, Keyring(KEY))
    await repo.open()
    try:
        await repo.outbox("telegram")  # what `recover` reads first
        now = time.time()
        results = await asyncio.gather(
            repo.purge(now - 90 * 86400, now - 30 * 86400),
            *(repo.process(f"p{i}", f"telegram:new:{i}", _decide(f"p{i}")) for i in range(4)),
            return_exceptions=True,
        )
        assert all(not isinstance(r, BaseException) for r in results), results
        # Each acknowledged event is stored: sent again, it is a duplicate.
        again = await asyncio.gather(
            *(
                repo.process(f"p{i}", f"{key}:{i}", _decide(f"p{i}"))
                for key in acknowledged
                for i in range(4)
            )
        )
        assert all(outcome.duplicate for outcome in again)
        for i in range(4):
            conversation = await repo.load(f"p{i}")
            assert conversation is not None
            assert conversation.turns >= len(acknowledged) + 1
    finally:
        await repo.close()
    _nothing_looked_busy(caplog)
