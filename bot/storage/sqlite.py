"""SQLite repository (aiosqlite): one writer task, group commits, sealed personal data.

Why one writer: on a shared connection one task's COMMIT also commits another task's pending
writes, and a deferred transaction that upgrades to a write skips the busy handler (aiosqlite
#251). So every write goes through one queue; the writer takes whatever has queued up, decides
each event in order, and commits the whole batch in one `BEGIN IMMEDIATE` transaction with
`synchronous=FULL`. A failed decision contributes nothing; a failed commit fails the batch.
Reads for other callers use a second, read-only connection (WAL lets it read while we write).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from bot import effects_codec
from bot.crypto import Keyring
from bot.model import (
    Conversation,
    Decision,
    Handoff,
    NewEvidence,
    OutboxEntry,
    Outcome,
    TranscriptEntry,
)
from bot.storage.base import Decide, EvidenceRecord, HandoffRecord, PurgeReport
from bot.storage.blobs import BlobStore
from bot.storage.codec import (
    conversation_from_dict,
    conversation_to_dict,
    secret_part,
    transcript_bytes,
    transcript_from,
)
from bot.storage.migrations import PERSONAL_TABLES, migrate

log = logging.getLogger(__name__)
MAX_BATCH = 256
CHECKPOINT_EVERY = 1.0  # seconds


@dataclass
class _Process:
    conversation_id: str
    event_key: str
    decide: Decide
    future: asyncio.Future[Outcome]
    outbox: str | None = None


@dataclass
class _Call:
    """Any other write, run alone in its own transaction."""

    work: Callable[[aiosqlite.Connection], Awaitable[Any]]
    future: asyncio.Future[Any]
    checkpoint: bool = False  # truncate the WAL afterwards (after erasing someone's data)


_STOP = object()


@dataclass
class _Plan:
    """Everything a batch will write, gathered before the transaction opens."""

    wiped: set[str] = field(default_factory=set)
    final: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    transcript: dict[str, list[tuple[int, TranscriptEntry]]] = field(default_factory=dict)
    handoffs: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)
    inbox: list[tuple[str, float]] = field(default_factory=list)
    evidence: dict[str, list[NewEvidence]] = field(default_factory=dict)
    drop_files: set[str] = field(default_factory=set)
    outbox: list[tuple[str, str, float, bytes]] = field(default_factory=list)
    names: dict[str, bytes] = field(default_factory=dict)  # evidence id -> sealed file name
    # Anonymous counts for the dashboard: (day, metric, key) -> n.
    stats: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def count(
        self,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        handoffs: list[Handoff],
        now: float,
    ) -> None:
        if after is None:
            return
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        keys = [("conversations", "all")] if before is None else []
        now_profile = after.get("profile") or {}
        was_profile = (before or {}).get("profile") or {}
        for column in ("pattern", "age_band", "nation"):
            value = now_profile.get(column)
            if value and was_profile.get(column) != value:
                keys.append((column, str(value)))
        keys += [("handoffs", handoff.priority) for handoff in handoffs[:1]]
        for metric, key in keys:
            self.stats[(day, metric, key)] = self.stats.get((day, metric, key), 0) + 1

    def add(self, conversation_id: str, event_key: str, decision: Decision, now: float) -> None:
        conversation = decision.conversation
        if decision.erase or conversation is None:
            self.wiped.add(conversation_id)
            self.transcript.pop(conversation_id, None)
            self.handoffs.pop(conversation_id, None)
            self.evidence.pop(conversation_id, None)
        self.final[conversation_id] = (
            conversation_to_dict(conversation) if conversation is not None else None
        )
        if conversation is not None:
            if decision.transcript is not None:
                self.transcript.setdefault(conversation_id, []).append(
                    (conversation.turns, decision.transcript)
                )
            for handoff in decision.handoffs:
                self.handoffs.setdefault(conversation_id, []).append(
                    (handoff.priority, handoff.reason, now)
                )
            if decision.drop_files:
                self.drop_files.add(conversation_id)
                kept = [i for i in self.evidence.get(conversation_id, []) if i.kind != "file"]
                self.evidence[conversation_id] = kept
            if decision.evidence:
                self.evidence.setdefault(conversation_id, []).extend(decision.evidence)
        self.inbox.append((event_key, now))


@dataclass
class _Inflight:
    """A decided batch whose transaction may still be committing."""

    batch: list[_Process]
    results: list[Outcome | BaseException]
    plan: _Plan
    task: asyncio.Task[None] | None = None  # None: nothing to write (all duplicates or failures)

    @property
    def event_keys(self) -> set[str]:
        return {key for key, _ in self.plan.inbox}


# SQLite's primary result codes for a database that is busy for a moment (another connection
# checkpointing, recovering the WAL after a crash, or writing): such a write is tried again.
_TRANSIENT = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
# ... and for a database that can take no write at all (full disk, I/O error, read-only): every
# event of a batch would fail the same way, so trying them one by one is no use.
_WHOLE_DATABASE = {8, 10, 13, 14}  # READONLY, IOERR, FULL, CANTOPEN
RETRIES = 6
RETRY_FIRST_DELAY = 0.05  # seconds, doubled after each try
TRUNCATE_TRIES = 3


def _primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _transient(exc: BaseException) -> bool:
    return _primary_code(exc) in _TRANSIENT


def _error_name(exc: BaseException) -> str:
    """For logs: the exception's type and SQLite's code name (never a value from a row)."""
    name = getattr(exc, "sqlite_errorname", None)
    return f"{type(exc).__name__}/{name}" if name else type(exc).__name__


def _utf8(text: str) -> bytes:
    """UTF-8 that cannot fail: a lone surrogate (valid JSON, invalid Unicode) becomes '?'."""
    return text.encode("utf-8", "replace")


class SqliteRepository:
    def __init__(self, path: Path, keyring: Keyring, *, max_batch: int = MAX_BATCH) -> None:
        self.path = path
        self.sealer = keyring.store
        self.blobs = BlobStore(path.parent / "evidence", keyring.evidence)
        self.max_batch = max_batch
        self._db: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        # Called after a commit with the conversations that asked for a person in it.
        self.on_handoff: Callable[[set[str]], None] | None = None
        # Called after a commit that erased conversations (the console forgets who owned them).
        self.on_erase: Callable[[set[str]], None] | None = None
        self._handed_over: set[str] = set()
        self.batches = 0  # for benchmarks: how many commits served how many events
        self.batched_events = 0

    # --- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        # "IMMEDIATE": Python's sqlite3 opens each write transaction with BEGIN IMMEDIATE itself,
        # just before the first write, which saves a round trip to the connection's thread.
        self._db = await aiosqlite.connect(self.path, isolation_level="IMMEDIATE")
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",  # evidence and case state must survive power loss, not just crashes
            "busy_timeout=5000",
            "foreign_keys=ON",
            "secure_delete=ON",  # deleted rows are overwritten, not left in free pages
            "cache_size=-8000",  # 8 MB of page cache: reads are few and small
            # Checkpoints run from their own connection (see _checkpoints), not inside a commit
            # that someone is waiting on.
            "wal_autocheckpoint=0",
        ):
            await _pragma(self._db, pragma)
        if fresh:
            os.chmod(self.path, 0o600)
        await migrate(self._db)
        self._reader = await aiosqlite.connect(f"file:{self.path}?mode=ro", uri=True)
        await _pragma(self._reader, "busy_timeout=5000")
        self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
        await _pragma(self._checkpointer, "busy_timeout=5000")
        self._writer = asyncio.create_task(self._run(), name="sqlite-writer")
        self._checkpoint_task = asyncio.create_task(self._checkpoints(), name="sqlite-checkpoint")

    async def close(self) -> None:
        if self._writer is not None:
            await self._queue.put(_STOP)
            await self._writer
            self._writer = None
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_task
            self._checkpoint_task = None
        for connection in (self._checkpointer, self._reader, self._db):
            if connection is not None:
                await connection.close()
        self._checkpointer = self._reader = self._db = None

    async def _checkpoints(self) -> None:
        """Copy the WAL back into the database in the background. PASSIVE never blocks writers;
        the checkpoint's own fsync happens here, off the path of anyone waiting for a reply."""
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY)
            try:
                assert self._checkpointer is not None
                await _pragma(self._checkpointer, "wal_checkpoint(PASSIVE)")
            except aiosqlite.Error:
                log.warning("background checkpoint failed; will retry")

    # --- the writer ------------------------------------------------------------------------------
    #
    # Pipelined: while batch N's transaction commits in the connection's thread, batch N+1 is
    # read (through the read-only connection, overlaid with N's results held in memory) and
    # decided. N+1 is written only after N committed, and nobody hears an answer before the
    # answer's own batch committed. If N fails to commit, N+1 fails too: its decisions may rest
    # on what N would have written.

    async def _run(self) -> None:
        inflight: _Inflight | None = None
        held: Any = None  # a job taken from the queue that must wait for the next round
        while True:
            if inflight is not None and held is None and self._queue.empty():
                await self._settle(inflight)
                inflight = None
            job = held if held is not None else await self._queue.get()
            held = None
            if job is _STOP or isinstance(job, _Call):
                if inflight is not None:
                    await self._settle(inflight)
                    inflight = None
                if isinstance(job, _Call):
                    calls = [job]
                    while len(calls) < self.max_batch and not self._queue.empty():
                        more = self._queue.get_nowait()
                        if not isinstance(more, _Call):
                            held = more
                            break
                        calls.append(more)
                    await self._calls(calls)
                    continue
                return
            batch: list[_Process] = [job]
            while len(batch) < self.max_batch and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is _STOP or isinstance(more, _Call):
                    held = more
                    break
                batch.append(more)
            prepared = await self._prepare(batch, inflight)
            if inflight is not None and not await self._settle(inflight):
                # The batch before did not commit as decided (its events were then stored one
                # by one, or failed): decide this one again on what is really stored.
                prepared = await self._prepare(batch, None)
            inflight = prepared
            if prepared.plan.inbox:
                prepared.task = asyncio.create_task(self._write(self._conn, prepared.plan))

    async def _calls(self, calls: list[_Call]) -> None:
        """Consecutive writes share one commit; each runs in its own savepoint, so a failing
        one is undone alone and the others still commit. On a full disk or an I/O error SQLite
        may undo the whole transaction, not just the failing statement: with no savepoint left
        to go back to, that call fails alone and the others run again in a new transaction (a
        neighbour's failed insert must not fail a delete that would free space)."""
        db = self._conn
        delay = RETRY_FIRST_DELAY
        busy = 0
        while calls:
            results: list[tuple[_Call, Any, BaseException | None]] = []
            undone: tuple[_Call, BaseException] | None = None
            try:
                if not db.in_transaction:
                    await db.execute("BEGIN IMMEDIATE")
                for job in calls:
                    await db.execute("SAVEPOINT call")
                    try:
                        result = await job.work(db)
                    except Exception as exc:
                        if _transient(exc):
                            raise  # the database was busy, not this call wrong: all again
                        if not db.in_transaction:  # SQLite rolled everything back
                            undone = (job, exc)
                            break
                        await db.execute("ROLLBACK TO call")
                        results.append((job, None, exc))
                    else:
                        results.append((job, result, None))
                    await db.execute("RELEASE call")
                if undone is None:
                    await db.commit()
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await db.rollback()
                if isinstance(exc, Exception) and _transient(exc) and busy < RETRIES:
                    log.warning("database busy (%s); trying again", _error_name(exc))
                    busy += 1
                    await asyncio.sleep(delay)
                    delay *= 2
                    continue
                log.error("%d write(s) failed (%s)", len(calls), _error_name(exc))
                for job in calls:
                    if not job.future.done():
                        job.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                return
            if undone is None:
                break
            failed, reason = undone
            log.error("a write failed and undid its transaction (%s)", _error_name(reason))
            _resolve(failed.future, None, reason)
            calls = [job for job in calls if job is not failed]
        if not calls:
            return
        if any(job.checkpoint for job in calls):
            await self._truncate_wal()
        for job, result, error in results:
            _resolve(job.future, result, error)

    async def _prepare(self, batch: list[_Process], before: _Inflight | None) -> _Inflight:
        """Read and decide a batch (no writes yet)."""
        ids = list({job.conversation_id for job in batch})
        cache: dict[str, dict[str, Any] | None] = dict.fromkeys(ids)
        seen: set[str] = set()
        # One round trip reads both the conversations and which events were already processed.
        try:
            rows = await self._read_retrying(ids, list({job.event_key for job in batch}))
        except Exception as exc:  # nothing can be decided: these events fail, the writer goes on
            log.error("reading a batch of %d events failed (%s)", len(batch), _error_name(exc))
            return _Inflight(batch, [exc] * len(batch), _Plan())
        for row in rows:
            if row[0] == "inbox":
                seen.add(row[1])
            else:
                cache[row[1]] = self._decode(row[1:])
        if before is not None:  # the batch still committing is newer than what the reader sees
            seen |= before.event_keys
            cache.update((cid, data) for cid, data in before.plan.final.items() if cid in cache)
        plan = _Plan()
        now = time.time()
        results: list[Outcome | BaseException] = []
        for job in batch:
            if job.event_key in seen:
                results.append(Outcome((), duplicate=True))
                continue
            stored = cache[job.conversation_id]
            try:
                decision = job.decide(conversation_from_dict(stored) if stored else None)
                # Everything this event adds is encoded now, alone: an event that cannot be
                # stored (say, a file name with a lone surrogate) fails here by itself instead
                # of failing the whole batch's commit.
                names = {
                    item.id: self.sealer.seal(_utf8(item.name), f"n:{item.id}")
                    for item in decision.evidence
                }
                outbox_row = None
                if job.outbox is not None and decision.effects:
                    blob = effects_codec.dumps(job.outbox, decision.effects)
                    sealed = self.sealer.seal(blob, f"o:{job.event_key}")
                    outbox_row = (job.event_key, job.conversation_id, now, sealed)
            except Exception as exc:  # this event fails alone; the rest of the batch goes on
                log.warning("an event could not be decided or encoded (%s)", type(exc).__name__)
                results.append(exc)
                continue
            seen.add(job.event_key)
            plan.add(job.conversation_id, job.event_key, decision, now)
            plan.names.update(names)
            if decision.handoffs:
                self._handed_over.add(job.conversation_id)
            plan.count(stored, plan.final[job.conversation_id], decision.handoffs, now)
            if outbox_row is not None:
                plan.outbox.append(outbox_row)
            cache[job.conversation_id] = plan.final[job.conversation_id]
            results.append(Outcome(tuple(decision.effects)))
        return _Inflight(batch, results, plan)

    async def _read_retrying(self, ids: list[str], event_keys: list[str]) -> list[Any]:
        delay = RETRY_FIRST_DELAY
        for attempt in range(RETRIES + 1):
            try:
                return await _read_batch(self._read, ids, event_keys)
            except Exception as exc:
                if not _transient(exc) or attempt == RETRIES:
                    raise
                log.warning("database busy for a read (%s); trying again", _error_name(exc))
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def _settle(self, inflight: _Inflight) -> bool:
        """Wait for a batch's commit, then answer its callers. False if it failed."""
        try:
            if inflight.task is not None:
                await inflight.task
        except Exception as exc:
            if len(inflight.batch) > 1 and _primary_code(exc) not in _WHOLE_DATABASE:
                # Something in one event broke the batch: each event is decided and written
                # again by itself, so that one fails alone and everyone else's message is kept.
                log.error(
                    "a batch of %d events failed to commit (%s); storing them one by one",
                    len(inflight.batch),
                    _error_name(exc),
                )
                await self._one_by_one(inflight.batch)
            else:
                log.error(
                    "a batch of %d events failed to commit (%s); none were stored",
                    len(inflight.batch),
                    _error_name(exc),
                )
                self._fail(inflight.batch, exc)
            return False
        self.batches += 1
        self.batched_events += len(inflight.batch)
        handed, self._handed_over = self._handed_over, set()
        if handed and self.on_handoff is not None:
            self.on_handoff(handed)
        if inflight.plan.wiped and self.on_erase is not None:
            self.on_erase(set(inflight.plan.wiped))
        for job, result in zip(inflight.batch, inflight.results, strict=True):
            if isinstance(result, BaseException):
                _resolve(job.future, None, result)
            else:
                _resolve(job.future, result, None)
        return True

    async def _one_by_one(self, batch: list[_Process]) -> None:
        """Each event in its own transaction, in order, each decided on what is stored."""
        for job in batch:
            alone = await self._prepare([job], None)
            if alone.plan.inbox:
                alone.task = asyncio.create_task(self._write(self._conn, alone.plan))
            await self._settle(alone)

    @staticmethod
    def _fail(batch: list[_Process], exc: BaseException) -> None:
        for job in batch:
            if not job.future.done():
                job.future.set_exception(exc)

    async def _write(self, db: aiosqlite.Connection, plan: _Plan) -> None:
        """Write and commit a batch; a busy database is waited for, a few times."""
        delay = RETRY_FIRST_DELAY
        for attempt in range(RETRIES + 1):
            try:
                await self._write_once(db, plan)
            except Exception as exc:
                if not _transient(exc) or attempt == RETRIES:
                    raise
                log.warning("database busy (%s); trying the batch again", _error_name(exc))
                await asyncio.sleep(delay)
                delay *= 2
            else:
                return

    async def _truncate_wal(self) -> None:
        """After an erasure: old page images of erased rows can linger in the WAL until a
        checkpoint. The data is committed either way, so a failure here fails nobody's write;
        the next erasure or purge tries again. A truncation that finds the background
        checkpoint or a reader in its way says so in its result row (not as an error): it is
        tried again a moment later, a few times."""
        delay = RETRY_FIRST_DELAY
        for attempt in range(TRUNCATE_TRIES):
            try:
                [(busy, _, _)] = await _pragma(self._conn, "wal_checkpoint(TRUNCATE)")
            except Exception as exc:
                log.warning("WAL truncation failed (%s)", _error_name(exc))
                return
            if not busy:
                return
            if attempt + 1 < TRUNCATE_TRIES:
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("WAL truncation could not finish (a checkpoint or a reader was in the way)")

    async def _write_once(self, db: aiosqlite.Connection, plan: _Plan) -> None:
        items = [(cid, item) for cid, group in plan.evidence.items() for item in group]
        evidence_rows = []
        removed: list[str] = []
        try:
            for cid, item in items:
                wrapped, blob = self.blobs.seal(item.id, item.data)
                # The file is on disk (fsynced) before its row commits; a crash in between
                # leaves an unreadable orphan that purge removes. A file that cannot be written
                # (a full disk) fails the batch, and the files written before it go too.
                await asyncio.to_thread(self.blobs.write, item.id, blob)
                evidence_rows.append(
                    (
                        item.id,
                        cid,
                        item.kind,
                        item.media_type,
                        len(item.data),
                        item.sha256,
                        item.received_at,
                        item.channel,
                        plan.names[item.id],
                        wrapped,
                    )
                )
            if plan.wiped:
                # The chat's message ids stay for the channel: it deletes those messages (quick
                # exit) and their ids right after this commit (`messages_take`).
                removed, erased = await _delete_personal(db, plan.wiped, _KEPT_FOR_THE_CHANNEL)
                await _audit_erasure(db, erased, "erased at the person's request")
            if plan.drop_files:
                removed += await _delete_files(db, plan.drop_files)
            statements: list[tuple[str, list[tuple[Any, ...]]]] = []
            upserts = [self._row(data) for data in plan.final.values() if data is not None]
            statements.append((_UPSERT_CONVERSATION, upserts))
            transcript = [
                (cid, seq, entry.at, self.sealer.seal(transcript_bytes(entry), f"t:{cid}:{seq}"))
                for cid, entries in plan.transcript.items()
                for seq, entry in entries
            ]
            statements.append((_INSERT_TRANSCRIPT, transcript))
            handoffs = [(cid, *h) for cid, items in plan.handoffs.items() for h in items]
            statements.append((_INSERT_HANDOFF, handoffs))
            if handoffs:
                statements.append((_OPEN_CASE, self._cases(plan)))
            statements.append((_COUNT_DAILY, [(*key, n) for key, n in plan.stats.items()]))
            statements.append((_INSERT_EVIDENCE, evidence_rows))
            statements.append((_INSERT_OUTBOX, list(plan.outbox)))
            statements.append(("INSERT INTO inbox (event_key, at) VALUES (?, ?)", plan.inbox))
            # One hop to the connection's thread for every statement and the commit: each await
            # on aiosqlite is a round trip between threads (~0.1 ms), and a batch has several.
            # (aiosqlite's own commit() uses this same private call; the version is pinned.)
            batch = [st for st in statements if st[1]]
            await db._execute(_apply, db._conn, batch)  # type: ignore[no-untyped-call]
        except BaseException:
            with contextlib.suppress(Exception):
                await db.rollback()
            for _, item in items:
                self.blobs.remove(item.id)
            raise
        for item_id in removed:
            self.blobs.remove(item_id)
        if plan.wiped:
            await self._truncate_wal()

    # --- encoding --------------------------------------------------------------------------------

    @staticmethod
    def _cases(plan: _Plan) -> list[tuple[Any, ...]]:
        rows = []
        for cid, items in plan.handoffs.items():
            final = plan.final.get(cid)
            if final is None or not items:
                continue
            priority, reason, at = min(items, key=lambda h: PRIORITY_RANK.get(h[0], 9))
            rank = PRIORITY_RANK.get(priority, 9)
            rows.append((cid, final["channel"], rank, reason, at, at))
        return rows

    def _row(self, data: dict[str, Any]) -> tuple[Any, ...]:
        profile = data["profile"]
        sealed = self.sealer.seal(secret_part(data), f"c:{data['id']}")
        return (
            data["id"],
            data["channel"],
            data["flow"],
            data["state"],
            data["locale"],
            profile["age_band"],
            profile["nation"],
            profile["pattern"],
            data["created_at"],
            data["updated_at"],
            sealed,
        )

    def _decode(self, row: Any) -> dict[str, Any]:
        (cid, channel, flow, state, locale, _band, _nation, _pattern, created, updated, sealed) = (
            row
        )
        secret = json.loads(self.sealer.open(sealed, f"c:{cid}"))
        return {
            "id": cid,
            "channel": channel,
            "flow": flow,
            "state": state,
            "locale": locale,
            "created_at": created,
            "updated_at": updated,
            **secret,
        }

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("repository is not open")
        return self._db

    @property
    def _read(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("repository is not open")
        return self._reader

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows from the read-only connection (it sees every committed write)."""
        return list(await self._read.execute_fetchall(sql, params))

    # --- the interface ---------------------------------------------------------------------------

    async def process(
        self, conversation_id: str, event_key: str, decide: Decide, *, outbox: str | None = None
    ) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Process(conversation_id, event_key, decide, future, outbox))
        return await future

    # --- ChannelStore ----------------------------------------------------------------------------

    async def inbox_put_many(self, channel: str, updates: list[tuple[int, bytes]]) -> list[int]:
        rows = [
            (channel, uid, time.time(), self.sealer.seal(raw, f"u:{channel}:{uid}"))
            for uid, raw in updates
        ]

        async def work(db: aiosqlite.Connection) -> list[int]:
            # Two round trips for the whole batch: which ids are known, then insert the rest.
            marks = ",".join("?" * len(rows))
            known = {
                row[0]
                for row in await db.execute_fetchall(
                    f"SELECT update_id FROM channel_inbox WHERE channel = ? "
                    f"AND update_id IN ({marks})",
                    [channel, *(row[1] for row in rows)],
                )
            }
            new = [row for row in rows if row[1] not in known]
            await db.executemany(
                "INSERT OR IGNORE INTO channel_inbox (channel, update_id, received_at, sealed) "
                "VALUES (?, ?, ?, ?)",
                new,
            )
            return [row[1] for row in new]

        return list(await self.submit(work))

    async def inbox_pending(self, channel: str) -> list[tuple[int, bytes]]:
        rows = await self._read.execute_fetchall(
            "SELECT update_id, sealed FROM channel_inbox WHERE channel = ? ORDER BY update_id",
            (channel,),
        )
        return [(uid, self.sealer.open(sealed, f"u:{channel}:{uid}")) for uid, sealed in rows]

    async def inbox_done(self, channel: str, update_id: int) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "DELETE FROM channel_inbox WHERE channel = ? AND update_id = ?",
                (channel, update_id),
            )

        await self.submit(work)

    async def outbox(self, channel: str) -> list[OutboxEntry]:
        rows = await self._read.execute_fetchall(
            "SELECT seq, event_key, conversation_id, delivered, sealed FROM outbox "
            "WHERE substr(event_key, 1, ?) = ? ORDER BY seq",
            (len(channel) + 1, f"{channel}:"),
        )
        entries = []
        for seq, key, cid, delivered, sealed in rows:
            address, effects = effects_codec.loads(self.sealer.open(sealed, f"o:{key}"))
            entries.append(OutboxEntry(seq, key, cid, address, effects, delivered))
        return entries

    async def outbox_progress(
        self, event_key: str, delivered: int, conversation_id: str, message_ids: list[int]
    ) -> None:
        now = time.time()

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE outbox SET delivered = ? WHERE event_key = ?", (delivered, event_key)
            )
            await db.executemany(
                "INSERT OR IGNORE INTO channel_messages (conversation_id, message_id, at) "
                "VALUES (?, ?, ?)",
                [(conversation_id, mid, now) for mid in message_ids],
            )

        await self.submit(work)

    async def finish(self, channel: str, update_id: int | None, event_key: str) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("DELETE FROM outbox WHERE event_key = ?", (event_key,))
            if update_id is not None:
                await db.execute(
                    "DELETE FROM channel_inbox WHERE channel = ? AND update_id = ?",
                    (channel, update_id),
                )

        await self.submit(work)

    async def messages_add(self, conversation_id: str, message_ids: list[int]) -> None:
        now = time.time()

        async def work(db: aiosqlite.Connection) -> None:
            await db.executemany(
                "INSERT OR IGNORE INTO channel_messages (conversation_id, message_id, at) "
                "VALUES (?, ?, ?)",
                [(conversation_id, mid, now) for mid in message_ids],
            )

        await self.submit(work)

    async def messages_take(self, conversation_id: str) -> list[int]:
        async def work(db: aiosqlite.Connection) -> list[int]:
            rows = await db.execute_fetchall(
                "SELECT message_id FROM channel_messages WHERE conversation_id = ? "
                "ORDER BY message_id",
                (conversation_id,),
            )
            await db.execute(
                "DELETE FROM channel_messages WHERE conversation_id = ?", (conversation_id,)
            )
            return [row[0] for row in rows]

        return list(await self.submit(work))

    async def submit(
        self, work: Callable[[aiosqlite.Connection], Awaitable[Any]], *, checkpoint: bool = False
    ) -> Any:
        """Run a write in its own transaction on the writer (in order with `process`)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Call(work, future, checkpoint))
        return await future

    async def load(self, conversation_id: str) -> Conversation | None:
        rows = list(
            await self._read.execute_fetchall(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                (conversation_id,),
            )
        )
        return conversation_from_dict(self._decode(rows[0])) if rows else None

    async def transcript(self, conversation_id: str) -> list[TranscriptEntry]:
        async with self._read.execute(
            "SELECT seq, at, sealed FROM transcript WHERE conversation_id = ? ORDER BY seq",
            (conversation_id,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            transcript_from(at, self.sealer.open(sealed, f"t:{conversation_id}:{seq}"))
            for seq, at, sealed in rows
        ]

    async def handoffs(self, conversation_id: str | None = None) -> list[HandoffRecord]:
        sql = "SELECT id, conversation_id, priority, reason, created_at, status FROM handoffs"
        params: tuple[str, ...] = ()
        if conversation_id is not None:
            sql += " WHERE conversation_id = ?"
            params = (conversation_id,)
        async with self._read.execute(sql + " ORDER BY id", params) as cursor:
            return [HandoffRecord(*row) for row in await cursor.fetchall()]

    async def erase(self, conversation_id: str) -> None:
        async def work(db: aiosqlite.Connection) -> list[str]:
            removed, erased = await _delete_personal(db, {conversation_id})
            await _audit_erasure(db, erased, "erased on request")
            return removed

        removed = await self.submit(work, checkpoint=True)
        for item_id in removed:
            self.blobs.remove(item_id)
        if self.on_erase is not None:
            self.on_erase({conversation_id})

    async def evidence_items(self, conversation_id: str) -> list[EvidenceRecord]:
        rows = await self._read.execute_fetchall(
            "SELECT id, conversation_id, kind, media_type, size, sha256, received_at, channel, "
            "sealed_name FROM evidence WHERE conversation_id = ? ORDER BY received_at, id",
            (conversation_id,),
        )
        return [
            EvidenceRecord(
                id=row[0],
                conversation_id=row[1],
                kind=row[2],
                media_type=row[3],
                size=row[4],
                sha256=row[5],
                received_at=row[6],
                channel=row[7],
                name=self.sealer.open(row[8], f"n:{row[0]}").decode(),
            )
            for row in rows
        ]

    async def evidence_data(self, record: EvidenceRecord) -> bytes:
        rows = list(
            await self._read.execute_fetchall(
                "SELECT wrapped_key FROM evidence WHERE id = ?", (record.id,)
            )
        )
        if not rows:
            raise KeyError("no such evidence item")
        return await asyncio.to_thread(self.blobs.read, record.id, rows[0][0])

    async def purge(self, idle_before: float, inbox_before: float) -> PurgeReport:
        now = time.time()

        async def work(db: aiosqlite.Connection) -> tuple[set[str], list[str], int]:
            rows = await db.execute_fetchall(
                "SELECT id FROM conversations WHERE updated_at < ?", (idle_before,)
            )
            stale = {row[0] for row in rows}
            removed, erased = await _delete_personal(db, stale) if stale else ([], 0)
            await _audit_erasure(db, erased, "erased after the retention period")
            # Rows written for a conversation after it was erased (a reply racing a deletion).
            for table, column in PERSONAL_TABLES.items():
                if table not in ("conversations", "outbox", *_KEPT_FOR_THE_CHANNEL):
                    await db.execute(
                        f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM conversations)"
                    )
            # Telegram lets a bot delete a message for 48 hours only: older ids are no use to a
            # quick exit, and ids left by a quick exit that a crash cut short go with them.
            await db.execute(
                "DELETE FROM channel_messages WHERE at < ?", (now - MESSAGE_IDS_KEPT_SECONDS,)
            )
            cursor = await db.execute("DELETE FROM inbox WHERE at < ?", (inbox_before,))
            # Raw platform updates that never got handled (each one failed every retry) are
            # personal too: they go with the processed-event ids.
            await db.execute("DELETE FROM channel_inbox WHERE received_at < ?", (inbox_before,))
            return stale, removed, cursor.rowcount

        stale, removed, inbox_rows = await self.submit(work, checkpoint=True)
        count = len(stale)
        if stale and self.on_erase is not None:
            self.on_erase(stale)
        for item_id in removed:
            self.blobs.remove(item_id)

        # Files with no row: left by a crash between writing a file and committing its row.
        # Found on the writer, between batches: a batch writes its files before its rows
        # commit, so a scan beside a committing batch would take its files for orphans.
        async def scan(db: aiosqlite.Connection) -> set[str]:
            known = {row[0] for row in await db.execute_fetchall("SELECT id FROM evidence")}
            return self.blobs.stored_ids() - known

        orphans: set[str] = await self.submit(scan)
        for item_id in orphans:
            self.blobs.remove(item_id)
            self.blobs.path(item_id).with_suffix(".tmp").unlink(missing_ok=True)
        return PurgeReport(count, len(removed), len(orphans), inbox_rows)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Answer a caller; one that gave up waiting (cancelled) must not stop the writer."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_CONVERSATION_COLUMNS = (
    "id, channel, flow, state, locale, age_band, nation, pattern, created_at, updated_at, sealed"
)


async def _read_batch(db: aiosqlite.Connection, ids: list[str], event_keys: list[str]) -> list[Any]:
    # A batch is at most MAX_BATCH events: at most 512 variables (SQLite allows 32766).
    sql = (
        f"SELECT 'conversation', {_CONVERSATION_COLUMNS} FROM conversations "
        f"WHERE id IN ({','.join('?' * len(ids))}) UNION ALL "
        f"SELECT 'inbox', event_key, {', '.join(['NULL'] * 10)} FROM inbox "
        f"WHERE event_key IN ({','.join('?' * len(event_keys))})"
    )
    return list(await db.execute_fetchall(sql, [*ids, *event_keys]))


async def _pragma(db: aiosqlite.Connection, pragma: str) -> list[Any]:
    """Run a PRAGMA to its end, and its rows.

    Never `await db.execute("PRAGMA ...")` and drop the cursor: aiosqlite's thread keeps the
    last call's result (that cursor) alive until its next call has run, so a statement left at
    its result row is still in progress during the next call. `wal_checkpoint` and
    `journal_mode` count as writing statements while in progress, and a COMMIT beside one fails
    ("cannot commit transaction - SQL statements in progress", SQLITE_BUSY). That was issue
    11's lost message after a restart: the start-up purge truncates the WAL, and when the next
    call on the writer was a batch's commit, the batch failed. Fetching every row finishes
    the statement (and resets it) inside the same call.
    """
    return list(await db.execute_fetchall(f"PRAGMA {pragma}"))


def _apply(connection: sqlite3.Connection, statements: list[tuple[str, list[Any]]]) -> None:
    """Runs in aiosqlite's thread: the batch's statements, then the commit."""
    for sql, rows in statements:
        connection.executemany(sql, rows)
    connection.commit()


# Tables a decision that erases a conversation leaves for the channel to empty itself.
_KEPT_FOR_THE_CHANNEL = frozenset({"channel_messages"})
MESSAGE_IDS_KEPT_SECONDS = 48 * 3600.0

_INSERT_TRANSCRIPT = (
    "INSERT OR REPLACE INTO transcript (conversation_id, seq, at, sealed) VALUES (?, ?, ?, ?)"
)
_INSERT_HANDOFF = (
    "INSERT INTO handoffs (conversation_id, priority, reason, created_at) VALUES (?, ?, ?, ?)"
)
_COUNT_DAILY = (
    "INSERT INTO daily (day, metric, key, count) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (day, metric, key) DO UPDATE SET count = count + excluded.count"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (event_key, conversation_id, created_at, sealed) VALUES (?, ?, ?, ?)"
)

# Crisis first, then under-18s, then everyone else.
PRIORITY_RANK = {"crisis": 0, "young": 1, "normal": 2}
# One open case per conversation: a further handoff can only raise its priority.
_OPEN_CASE = (
    "INSERT INTO cases (conversation_id, channel, rank, reason, opened_at, queued_at) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (conversation_id) WHERE status != 'closed' DO UPDATE SET "
    "reason = CASE WHEN excluded.rank < rank THEN excluded.reason ELSE reason END, "
    "rank = MIN(rank, excluded.rank)"
)

_UPSERT_CONVERSATION = (
    "INSERT INTO conversations (id, channel, flow, state, locale, age_band, nation, pattern, "
    "created_at, updated_at, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET flow = excluded.flow, state = excluded.state, "
    "locale = excluded.locale, age_band = excluded.age_band, nation = excluded.nation, "
    "pattern = excluded.pattern, updated_at = excluded.updated_at, sealed = excluded.sealed"
)


async def _audit_erasure(db: aiosqlite.Connection, erased: int, how: str) -> None:
    """Deletions go into the audit log: when and how, never whose."""
    if erased:
        await db.executemany(
            "INSERT INTO audit (at, moderator_id, action, subject, detail) "
            "VALUES (?, NULL, 'delete', '', ?)",
            [(time.time(), how)] * erased,
        )


async def _delete_personal(
    db: aiosqlite.Connection, conversation_ids: set[str], keep: frozenset[str] = frozenset()
) -> tuple[list[str], int]:
    """Delete every row about these conversations (but in the tables in `keep`); returns the
    evidence files to remove after the transaction commits, and how many conversations there
    were."""
    ids = list(conversation_ids)
    marks = ",".join("?" * len(ids))
    rows = await db.execute_fetchall(
        f"SELECT id FROM evidence WHERE conversation_id IN ({marks})", ids
    )
    existing = await db.execute_fetchall(
        f"SELECT COUNT(*) FROM conversations WHERE id IN ({marks})", ids
    )
    for table, column in PERSONAL_TABLES.items():
        if table in keep:
            continue
        await db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(cid,) for cid in ids])
    return [row[0] for row in rows], int(next(iter(existing))[0])


async def _delete_files(db: aiosqlite.Connection, conversation_ids: set[str]) -> list[str]:
    """Delete the file evidence (not typed details) of these conversations; returns the files
    to remove from disk after the transaction commits."""
    ids = list(conversation_ids)
    marks = ",".join("?" * len(ids))
    where = f"conversation_id IN ({marks}) AND kind = 'file'"
    rows = await db.execute_fetchall(f"SELECT id FROM evidence WHERE {where}", ids)
    await db.execute(f"DELETE FROM evidence WHERE {where}", ids)
    return [row[0] for row in rows]


_INSERT_EVIDENCE = (
    "INSERT INTO evidence (id, conversation_id, kind, media_type, size, sha256, received_at, "
    "channel, sealed_name, wrapped_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
