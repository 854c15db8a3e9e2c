"""Web widget benchmark: N concurrent WebSocket sessions against the real server.

The server (`supportbot run`) runs as a child process over a fresh data directory; this process
plays the widgets: it opens the sessions (websockets' asyncio client, no compression, the
server's own origin), signs each connection's nonce with a P-256 key as the widget does, then
every session walks a conversation at once, each message waiting for its ack. All sockets stay
open while the server's memory is read from /proc. Client and server share the machine's cores.

    python -m bench.web [--sessions 2000] [--messages 6] [--ramp 0] [--talkers 0]

Prints sessions opened, connect + session set-up p50/p99, messages/s, reply latency p50/p99
(a frame sent to its {"t":"ack"}, which follows the reply frames) and the server's memory: RSS
before any connection, with all sessions open, and per connection (which takes in everything
the server grew by: sockets, sessions, conversations and SQLite's page cache). Target: 2,000
concurrent sessions in one process under 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bot.config import PROJECT_ROOT

TARGET_SESSIONS = 2000
TARGET_MB = 150.0
STARTUP_SECONDS = 60.0
STEP_SECONDS = 120.0  # one frame's wait, generous: 2,000 sessions queue on 2 cores

# One person's conversation after the welcome: taps name an option (the first one shown if
# that one is not offered), texts are typed. Further messages tap "Go on".
STEPS: list[tuple[str, str]] = [
    ("tap", "begin"),
    ("text", "I'm 30"),
    ("text", "England"),
    ("text", "someone recorded me on a video call"),
    ("tap", "next"),
    ("text", "Go on"),
]

Frame = dict[str, Any]


class ServerSaid(Exception):
    """The server answered with something a working session never gets."""


# --- the server (child process) ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(port: int, data_dir: Path, *, limits: bool = False) -> subprocess.Popen[bytes]:
    """`limits`: keep the per-address abuse limits as deployed (bench.flood); without it they
    are lifted, because every simulated person of bench.web comes from 127.0.0.1."""
    lifted = {
        "SUPPORTBOT_WEB_SESSIONS_PER_ADDRESS": "1000000",
        "SUPPORTBOT_WEB_CONNECTIONS_PER_MINUTE": "1000000",
        "SUPPORTBOT_WEB_UPLOAD_MB_PER_ADDRESS": "100000",
    }
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "SUPPORTBOT_DATA_DIR": str(data_dir),
        "SUPPORTBOT_DATABASE_URL": "",
        "SUPPORTBOT_SECRET_KEY": "",
        **({} if limits else lifted),
        # Settings.origins() allows http://127.0.0.1:<SUPPORTBOT_PORT>, not --port's.
        "SUPPORTBOT_HOST": "127.0.0.1",
        "SUPPORTBOT_PORT": str(port),
        "SUPPORTBOT_PUBLIC_URL": "",
        "SUPPORTBOT_ALLOWED_ORIGINS": "",
        "TELEGRAM_BOT_TOKEN": "",
        "SUPPORTBOT_TELEGRAM_BOT_TOKEN": "",
    }
    with open(data_dir / "server.log", "wb") as log:
        # cwd: the data directory, so no .env of the caller's is read.
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--port", str(port)],
            env=env,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_server(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


async def wait_healthy(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the server exited with status {child.returncode}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if status.split()[1:2] == [b"200"]:
                return
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no answer from /healthz within {STARTUP_SECONDS:.0f} s")


@dataclass
class Memory:
    rss_mb: float
    hwm_mb: float


def memory(pid: int) -> Memory:
    """The process's resident set now (VmRSS) and its peak so far (VmHWM)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # kB -> MB
    return Memory(fields["VmRSS"], fields["VmHWM"])


def raise_fd_limit(sessions: int) -> str:
    """Enough descriptors for every socket (the server inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sessions + 512
    if soft >= wanted:
        return f"{soft}"
    new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    note = "" if new >= wanted else f" (hard limit; {wanted} wanted)"
    return f"{soft} -> {new}{note}"


# --- the widgets (this process) ------------------------------------------------------------------


@dataclass
class Widget:
    key: ec.EllipticCurvePrivateKey
    public: str  # base64 of the raw uncompressed point, as WebCrypto exports it
    ws: ClientConnection | None = None
    options: list[Frame] = field(default_factory=list)

    @classmethod
    def make(cls) -> Widget:
        key = ec.generate_private_key(ec.SECP256R1())
        raw = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return cls(key, base64.b64encode(raw).decode())

    def sign(self, nonce: str) -> str:
        """ECDSA/SHA-256 over the connect message, raw r || s like WebCrypto's."""
        der = self.key.sign(f"supportbot:connect:{nonce}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


@dataclass
class Timings:
    handshake: list[float] = field(default_factory=list)
    setup: list[float] = field(default_factory=list)
    reply: list[float] = field(default_factory=list)


async def _frame(ws: ClientConnection) -> Frame:
    async with asyncio.timeout(STEP_SECONDS):
        data = await ws.recv()
    frame = json.loads(data)
    if not isinstance(frame, dict):
        raise ServerSaid(f"not a JSON object: {data[:80]!r}")
    if frame.get("t") in ("denied", "error"):
        raise ServerSaid(json.dumps(frame))
    return frame


async def open_session(widget: Widget, url: str, origin: str, timings: Timings) -> None:
    """Connect, start a new session and wait for the welcome's choices."""
    started = time.perf_counter()
    widget.ws = ws = await connect(
        url,
        origin=Origin(origin),
        compression=None,
        proxy=None,
        open_timeout=STEP_SECONDS,
        ping_interval=None,  # browsers do not ping; the server's own pings still run
    )
    handshake = time.perf_counter() - started
    hello = await _frame(ws)
    if hello.get("t") != "hello" or not isinstance(hello.get("nonce"), str):
        raise ServerSaid(f"expected hello, got {hello}")
    signature = widget.sign(hello["nonce"])
    await ws.send(json.dumps({"t": "new", "key": widget.public, "sig": signature}))
    while True:
        frame = await _frame(ws)
        if frame.get("t") == "choices":
            widget.options = frame["options"]
            break
    timings.handshake.append(handshake)
    timings.setup.append(time.perf_counter() - started)


async def converse(widget: Widget, steps: list[tuple[str, str]], timings: Timings) -> None:
    ws = widget.ws
    assert ws is not None
    for n, (kind, value) in enumerate(steps):
        if kind == "tap":
            if not widget.options:
                raise ServerSaid("no choices left to tap")
            option = next((o for o in widget.options if o["id"] == value), widget.options[0])
            sent: Frame = {"t": "choice", "id": f"m{n}", "option": option["id"]}
            sent["label"] = option["label"]
        else:
            sent = {"t": "text", "id": f"m{n}", "text": value}
        started = time.perf_counter()
        await ws.send(json.dumps(sent))
        while True:
            frame = await _frame(ws)
            kind_in = frame.get("t")
            if kind_in == "choices":
                widget.options = frame["options"]
            elif kind_in == "end":
                widget.options = []
            elif kind_in == "ack" and frame.get("id") == sent["id"]:
                break
        timings.reply.append(time.perf_counter() - started)


async def _limited(
    job: Callable[[Widget], Awaitable[None]], widgets: list[Widget], limit: int
) -> list[BaseException | None]:
    """Run the job for every widget, at most `limit` at a time (0: all at once); the exception
    of each, or None."""
    gate = asyncio.Semaphore(limit) if limit > 0 else None

    async def one(widget: Widget) -> None:
        if gate is None:
            await job(widget)
            return
        async with gate:
            await job(widget)

    return list(await asyncio.gather(*(one(w) for w in widgets), return_exceptions=True))


def _errors(outcomes: list[BaseException | None]) -> Counter[str]:
    return Counter(
        f"{type(e).__name__}: {str(e)[:120]}" for e in outcomes if isinstance(e, BaseException)
    )


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Report:
    sessions: int
    opened: int
    messages: int
    answered: int
    message_seconds: float
    timings: Timings
    idle: Memory
    after_open: Memory
    after_messages: Memory
    open_errors: Counter[str]
    message_errors: Counter[str]


async def run(
    child: subprocess.Popen[bytes],
    port: int,
    sessions: int,
    steps: list[tuple[str, str]],
    ramp: int,
    talkers: int,
) -> Report:
    await wait_healthy(port, child)
    url, origin = f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}"
    widgets = [Widget.make() for _ in range(sessions)]  # key generation is the client's cost
    timings = Timings()
    await asyncio.sleep(0.5)  # let start-up (purge, content) settle before the idle reading
    idle = memory(child.pid)
    try:
        outcomes = await _limited(lambda w: open_session(w, url, origin, timings), widgets, ramp)
        opened = [w for w, e in zip(widgets, outcomes, strict=True) if e is None]
        await asyncio.sleep(0.5)
        after_open = memory(child.pid)

        started = time.perf_counter()
        talked = await _limited(lambda w: converse(w, steps, timings), opened, talkers)
        message_seconds = time.perf_counter() - started
        await asyncio.sleep(0.5)
        after_messages = memory(child.pid)  # every socket still open
    finally:
        await asyncio.gather(
            *(w.ws.close() for w in widgets if w.ws is not None), return_exceptions=True
        )
    return Report(
        sessions=sessions,
        opened=len(opened),
        messages=len(opened) * len(steps),
        answered=len(timings.reply),
        message_seconds=message_seconds,
        timings=timings,
        idle=idle,
        after_open=after_open,
        after_messages=after_messages,
        open_errors=_errors(outcomes),
        message_errors=_errors(talked),
    )


def _percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p99 * 1000:.1f} ms"


def show(report: Report, log: Path) -> bool:
    """Print the figures; True when nothing went wrong."""
    t, n = report.timings, report.sessions
    rows = [
        ("sessions opened", f"{report.opened} / {n}"),
        ("WebSocket handshake p50 / p99", _percentiles(t.handshake)),
        ("connect + session set-up p50 / p99", _percentiles(t.setup)),
        ("messages answered", f"{report.answered} / {report.messages}"),
        ("messages/s", f"{report.answered / max(report.message_seconds, 1e-9):.0f}"),
        ("reply latency (to ack) p50 / p99", _percentiles(t.reply)),
        ("server RSS before connections", f"{report.idle.rss_mb:.1f} MB"),
        (f"server RSS, {report.opened} open, set up", f"{report.after_open.rss_mb:.1f} MB"),
        (f"server RSS, {report.opened} open, talked", f"{report.after_messages.rss_mb:.1f} MB"),
        ("server peak RSS (VmHWM)", f"{report.after_messages.hwm_mb:.1f} MB"),
    ]
    if report.opened:
        grown = report.after_messages.rss_mb - report.idle.rss_mb
        per = grown * 1024 / report.opened
        rows.append(("memory per connection (talked - before)", f"{per:.1f} KB"))
    stored = sum(f.stat().st_size for f in log.parent.glob("supportbot.db*"))
    rows.append(("database on disk", f"{stored / 2**20:.1f} MB"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>18}")

    total = report.after_messages.rss_mb
    if report.opened < TARGET_SESSIONS:
        verdict = f"not shown by {report.opened} sessions (run --sessions {TARGET_SESSIONS})"
    else:
        verdict = "met" if total < TARGET_MB else "NOT met"
    print(
        f"target: {TARGET_SESSIONS:,} concurrent sessions in one process under {TARGET_MB:.0f} MB: "
        f"RSS {total:.1f} MB with {report.opened} open (peak {report.after_messages.hwm_mb:.1f} MB)"
        f" -> {verdict}"
    )

    clean = report.opened == n and report.answered == report.messages
    for title, errors in (("opening", report.open_errors), ("messages", report.message_errors)):
        for error, count in errors.most_common(5):
            print(f"  {title} error x{count}: {error}")
    text = log.read_text(errors="replace") if log.exists() else ""
    troubles = [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]
    if troubles:
        clean = False
        print(f"server log: {len(troubles)} error line(s), first: {troubles[0][:160]}")
    return clean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sessions", type=int, default=TARGET_SESSIONS)
    parser.add_argument("--messages", type=int, default=len(STEPS), help="per session")
    parser.add_argument(
        "--ramp", type=int, default=0, help="sessions being set up at once (0: all at once)"
    )
    parser.add_argument(
        "--talkers", type=int, default=0, help="sessions talking at once (0: all at once)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory and log")
    args = parser.parse_args()
    steps = STEPS[: args.messages] + [("tap", "next")] * max(0, args.messages - len(STEPS))

    fds = raise_fd_limit(args.sessions)
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    log = data_dir / "server.log"
    child = start_server(port, data_dir)
    print(
        f"web benchmark: {args.sessions} sessions x {len(steps)} messages, `supportbot run` "
        f"(pid {child.pid}) on 127.0.0.1:{port}, no compression, {os.cpu_count()} cores "
        f"shared by client and server, fd limit {fds}"
    )
    at_once = {0: "all at once"}
    print(
        f"set-up: {at_once.get(args.ramp, f'{args.ramp} at a time')}; "
        f"talking: {at_once.get(args.talkers, f'{args.talkers} sessions at a time')}, "
        "each message waits for its ack"
    )
    status = 1  # kept unless the run completes or is interrupted
    try:
        report = asyncio.run(run(child, port, args.sessions, steps, args.ramp, args.talkers))
        stop_server(child)  # first, so the log is complete
        status = 0 if show(report, log) else 1
    except KeyboardInterrupt:
        print("interrupted")
        status = 130
    finally:
        stop_server(child)
        if args.keep or status == 1:
            print(f"server data and log kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
