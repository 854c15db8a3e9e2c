"""Engine benchmark: N conversations through the engine with durable SQLite writes.

Prints events/s, per-event latency (p50/p99) and memory per idle conversation.
Targets (issue 2): >= 5,000 events/s on 2 cores, p99 < 5 ms, idle conversations not in memory.

    python -m bench.engine [--conversations 10000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from bot.app import tune_process
from bot.config import PROJECT_ROOT, Settings
from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.model import EventKind, Inbound
from bot.storage.sqlite import SqliteRepository

# One person's conversation: open, age, place (typed), what happened, then advice steps.
SCRIPT: list[tuple[EventKind, str]] = [
    (EventKind.START, ""),
    (EventKind.CHOICE, "begin"),
    (EventKind.TEXT, "I'm 24"),
    (EventKind.CHOICE, "wales"),
    (EventKind.CHOICE, "webcam"),
    *[(EventKind.CHOICE, "next")] * 5,
]


async def _converse(engine: Engine, n: int, latencies: list[float] | None) -> None:
    for step, (kind, text) in enumerate(SCRIPT):
        event = Inbound("bench", f"user{n}", f"{n}-{step}", kind, text)
        started = time.perf_counter()
        await engine.handle(event)
        if latencies is not None:
            latencies.append(time.perf_counter() - started)


async def run(conversations: int, concurrency: int, directory: Path) -> dict[str, float]:
    content = Content.load(
        Settings(flows_dir=PROJECT_ROOT / "flows", content_dir=PROJECT_ROOT / "content")
    )
    keyring = Keyring(os.urandom(32))
    repository = SqliteRepository(directory / "bench.db", keyring)
    await repository.open()
    engine = Engine(content, repository, keyring)
    tune_process()  # as the service does at start-up
    latencies: list[float] = []
    numbers = iter(range(conversations))

    async def person() -> None:
        for n in numbers:  # each simulated person takes the next conversation when done
            await _converse(engine, n, latencies)

    started = time.perf_counter()
    await asyncio.gather(*(person() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    batches, batched = repository.batches, repository.batched_events

    # Memory per idle conversation, measured apart from the timed run (tracemalloc is slow):
    # what the heap still holds after 1,000 more conversations have gone quiet.
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    extra = iter(range(conversations, conversations + 1000))

    async def quiet_person() -> None:
        for n in extra:
            await _converse(engine, n, None)

    await asyncio.gather(*(quiet_person() for _ in range(concurrency)))
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    await repository.close()
    db_bytes = sum(p.stat().st_size for p in directory.iterdir())
    ordered = sorted(latencies)
    return {
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000,
        "heap_per_idle_conversation_bytes": max(0, retained) / 1000,
        "db_bytes_per_conversation": db_bytes / (conversations + 1000),
        "events_per_commit": batched / max(batches, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    args = parser.parse_args()
    print(
        f"engine benchmark: {args.conversations} conversations x {len(SCRIPT)} events, "
        f"SQLite WAL synchronous=FULL, sealed transcript, {os.cpu_count()} cores"
    )
    print(
        f"{'concurrency':>11} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'ev/commit':>9} "
        f"{'heap B/idle conv':>16} {'DB B/conv':>9}"
    )
    for concurrency in args.concurrency:
        with tempfile.TemporaryDirectory() as tmp:
            r = asyncio.run(run(args.conversations, concurrency, Path(tmp)))
        print(
            f"{concurrency:>11} {r['events_per_s']:>9.0f} {r['p50_ms']:>7.2f} "
            f"{r['p99_ms']:>7.2f} {r['events_per_commit']:>9.1f} "
            f"{r['heap_per_idle_conversation_bytes']:>16.1f} "
            f"{r['db_bytes_per_conversation']:>9.0f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the benchmark process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
