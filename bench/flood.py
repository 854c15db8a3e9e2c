"""Flood benchmark: 50 ordinary widget users' reply times with and without one abusive client.

The server (`supportbot run`) runs as a child process on 127.0.0.1 over a fresh data directory
(bench/web.py's helpers). Ordinary people connect from their own loopback addresses
(127.0.1.N), the abuser from 127.0.0.1, so the per-address limits see them as different
clients, as they would be on the internet. The abuser, in bounded loops, at once:

- opens new sessions, each saying a crisis phrase (fake urgent cases),
- sends ReDoS-like long inputs ("1," * 2999) from the sessions it got,
- declares large uploads on idle sockets and never sends them.

Prints the p99 (and p50) reply time of the 50 people without the flood and under it, and the
ratio (target < 1.5), plus what the abuser got (sessions, limited answers, cases).

    python -m bench.flood [--people 50] [--sessions 300] [--redos 30] [--uploads 13]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bench.web import (
    STEPS,
    Timings,
    Widget,
    converse,
    free_port,
    start_server,
    stop_server,
    wait_healthy,
)

TARGET_RATIO = 1.5
WAIT = 60.0  # seconds for any one frame
KILL = "I want to kill myself tonight"


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _connect(port: int, source: str) -> ClientConnection:
    return await connect(
        f"ws://127.0.0.1:{port}/ws",
        origin=Origin(f"http://127.0.0.1:{port}"),
        compression=None,
        proxy=None,
        open_timeout=WAIT,
        ping_interval=None,
        local_addr=(source, 0),
    )


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        frame = json.loads(await ws.recv())
    assert isinstance(frame, dict)
    return frame


async def _new(ws: ClientConnection, widget: Widget) -> dict[str, Any]:
    hello = await _recv(ws)
    await ws.send(
        json.dumps({"t": "new", "key": widget.public, "sig": widget.sign(hello["nonce"])})
    )
    return await _recv(ws)  # {"t": "session"} or {"t": "limited"}


async def person(port: int, n: int, timings: Timings) -> None:
    """One ordinary person from their own address: a session, then the usual conversation."""
    widget = Widget.make()
    widget.ws = ws = await _connect(port, f"127.0.1.{n + 1}")
    try:
        first = await _new(ws, widget)
        if first.get("t") != "session":
            raise RuntimeError(f"an ordinary person was refused: {first}")
        while True:
            frame = await _recv(ws)
            if frame.get("t") == "choices":
                widget.options = frame["options"]
                break
        await converse(widget, STEPS, timings)
    finally:
        await ws.close()


@dataclass
class Abuse:
    sessions: Counter[str] = field(default_factory=Counter)
    redos_sent: int = 0
    uploads: Counter[str] = field(default_factory=Counter)
    open_sockets: list[ClientConnection] = field(default_factory=list)


async def abuser(port: int, sessions: int, redos: int, uploads: int, abuse: Abuse) -> None:
    """One client (127.0.0.1), all at once, each loop bounded."""

    async def fake_crisis(n: int) -> None:
        widget = Widget.make()
        ws = await _connect(port, "127.0.0.1")
        try:
            first = await _new(ws, widget)
            abuse.sessions[str(first.get("t"))] += 1
            await ws.send(json.dumps({"t": "text", "id": f"k{n}", "text": KILL}))
            while (await _recv(ws)).get("t") != "ack":
                pass
        finally:
            await ws.close()

    async def long_inputs() -> None:
        widget = Widget.make()
        ws = await _connect(port, "127.0.0.1")
        try:
            await _new(ws, widget)
            for n in range(redos):
                await ws.send(json.dumps({"t": "text", "id": f"r{n}", "text": "1," * 2999}))
                abuse.redos_sent += 1
                while (await _recv(ws)).get("t") != "ack":
                    pass
        finally:
            await ws.close()

    async def idle_upload(n: int) -> None:
        widget = Widget.make()
        ws = await _connect(port, "127.0.0.1")
        abuse.open_sockets.append(ws)
        await _new(ws, widget)
        size = 20 * 1024 * 1024
        await ws.send(json.dumps({"t": "file", "id": f"u{n}", "name": "x.png", "size": size}))
        async with asyncio.timeout(5):
            with_answer = False
            while not with_answer:
                frame = await _recv(ws)
                with_answer = frame.get("id") == f"u{n}"
                if with_answer:
                    abuse.uploads[str(frame.get("code", frame.get("t")))] += 1

    # Its first sessions go to long inputs and idle uploads; then fake crises until refused.
    first = [*(long_inputs() for _ in range(3)), *(idle_upload(n) for n in range(uploads))]
    early = [asyncio.create_task(job) for job in first]
    await asyncio.sleep(0.5)
    results = await asyncio.gather(
        *(fake_crisis(n) for n in range(sessions)), *early, return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, TimeoutError):
            abuse.sessions[f"error {type(result).__name__}"] += 1


async def people(port: int, count: int) -> tuple[list[float], int]:
    timings = Timings()
    outcomes = await asyncio.gather(
        *(person(port, n, timings) for n in range(count)), return_exceptions=True
    )
    failed = sum(isinstance(o, BaseException) for o in outcomes)
    return timings.reply, failed


async def run(args: argparse.Namespace, port: int, child: Any, data: Path) -> None:
    await wait_healthy(port, child)
    await asyncio.sleep(0.5)
    baseline, failed_before = await people(port, args.people)
    # The abuser is its own process (its own machine, in life), so its client-side work does
    # not slow the measuring event loop; both still share this machine's cores with the server.
    flood = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.flood",
        "--abuse-port",
        str(port),
        "--sessions",
        str(args.sessions),
        "--redos",
        str(args.redos),
        "--uploads",
        str(args.uploads),
        stdout=asyncio.subprocess.PIPE,
    )
    assert flood.stdout is not None
    await flood.stdout.readline()  # "started"
    await asyncio.sleep(0.3)  # the flood is under way
    started = time.perf_counter()
    flooded, failed_during = await people(port, args.people)
    during = time.perf_counter() - started
    flood_done = flood.returncode is not None
    summary = json.loads((await flood.communicate())[0] or b"{}")
    with sqlite3.connect(data / "supportbot.db") as db:
        cases = db.execute("SELECT COUNT(*) FROM handoffs").fetchone()[0]
    before, after = p(baseline, 0.99), p(flooded, 0.99)
    ratio = after / before if before else float("nan")
    print(f"people: {args.people}, {len(STEPS)} messages each")
    print(
        f"without the flood: p50 {statistics.median(baseline) * 1000:.0f} ms, "
        f"p99 {before * 1000:.0f} ms ({failed_before} failed)"
    )
    print(
        f"under the flood:   p50 {statistics.median(flooded) * 1000:.0f} ms, "
        f"p99 {after * 1000:.0f} ms ({failed_during} failed; {during:.1f} s; flood "
        f"{'finished' if flood_done else 'still running'} when they were done)"
    )
    print(f"p99 ratio: {ratio:.2f} (target < {TARGET_RATIO})")
    print(
        f"abuser: sessions {summary.get('sessions')}, long inputs sent "
        f"{summary.get('redos_sent')}, uploads {summary.get('uploads')}; cases in the queue {cases}"
    )


async def abuse_only(port: int, args: argparse.Namespace) -> None:
    """The abusive client's process: floods, then prints what it got as one JSON line."""
    abuse = Abuse()
    print("started", flush=True)
    await abuser(port, args.sessions, args.redos, args.uploads, abuse)
    for ws in abuse.open_sockets:
        await ws.close()
    summary = {
        "sessions": dict(abuse.sessions),
        "redos_sent": abuse.redos_sent,
        "uploads": dict(abuse.uploads),
    }
    print(json.dumps(summary), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--redos", type=int, default=30, help="long inputs per abusive session")
    parser.add_argument("--uploads", type=int, default=13)
    parser.add_argument("--abuse-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.abuse_port:
        asyncio.run(abuse_only(args.abuse_port, args))
        return
    data = Path(tempfile.mkdtemp(prefix="supportbot-flood-"))
    port = free_port()
    child = start_server(port, data, limits=True)  # the limits as deployed
    try:
        asyncio.run(run(args, port, child, data))
    finally:
        stop_server(child)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
