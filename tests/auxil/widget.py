"""Widget clients over real WebSockets that behave as the widget's own script does (frame.js),
and a crash drill for them: `supportbot run` killed with SIGKILL at seeded points and restarted
on the same port and data, while several people follow a scripted conversation (issue 11).

What a client does, as frame.js does it:
- the first connection signs the server's nonce and asks for a new session ("new", with its
  public key); every later one resumes ("resume", the token, a fresh signature, and `after`:
  the highest message number it has);
- numbered frames it already has (seq <= the highest) are dropped; unnumbered ones (seq 0:
  crisis lines sent without storage) are always shown;
- what it sent is kept until acknowledged and sent again (same id) after every reconnect.
A person sends their next line only once the last one was acknowledged (as someone reading the
replies would), so the conversation is the same whether or not the server crashed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Origin

from tests.auxil.warm import Warm, WarmChild

Frame = dict[str, Any]
STALL_SECONDS = 30.0  # nobody receiving anything for this long: something was lost
SHOWN = ("say", "upload", "choices", "you", "pack", "end")  # frames that put something on screen

# One person's conversation after the welcome: ("text", words) is typed; ("tap", "n") taps the
# n-th of the options last shown.
SCRIPT: list[tuple[str, str]] = [
    ("tap", "1"),
    ("text", "I'm 19 and I live in Leeds"),
    ("text", "a girl on insta recorded our video call and wants £200"),
    ("text", "ok"),
    ("text", "should I just pay?"),
    ("text", "go on"),
    ("text", "I want to kill myself"),
    ("text", "ok"),
    ("text", "evidence"),
    ("text", "his snapchat is ryan_x_99"),
    ("text", "that's all"),
]


class Refused(Exception):
    """The server refused a session the person had: it was lost."""


def seen_as(frame: Frame) -> str:
    """One shown frame as the person sees it. A list of support lines depends on the hour (open
    now or not), and a calm run happened a little earlier than the drill: such a list counts as
    being there, not word for word."""
    kind = frame.get("t")
    if kind == "choices":
        return "[" + " | ".join(str(o.get("label")) for o in frame.get("options", [])) + "]"
    if kind == "you":
        return f"you: {frame.get('text', '')}{frame.get('file', '')}"
    text = str(frame.get("text", ""))
    if "open now" in text or "closed now" in text:
        text = "<support lines>"
    return f"{kind}/{frame.get('kind', '')}: {text}"


@dataclass
class WidgetPerson:
    """One person's widget: its key pair, session token, and everything it has shown."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    token: str | None = None
    received: int = 0  # highest message number received
    seen: list[Frame] = field(default_factory=list)
    pending: dict[str, Frame] = field(default_factory=dict)  # sent, not yet acknowledged
    connections: int = 0
    progress: int = 0  # new things received (frames, its session, acknowledgements)
    welcomed: asyncio.Event = field(default_factory=asyncio.Event)
    acked: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def public(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.b64encode(raw).decode()

    def sign(self, nonce: str) -> str:
        der = self.key.sign(f"supportbot:connect:{nonce}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()

    def shown(self) -> list[str]:
        return [seen_as(frame) for frame in self.seen]

    def options(self) -> list[dict[str, str]]:
        for frame in reversed(self.seen):
            if frame.get("t") == "choices":
                return list(frame.get("options", []))
        return []


@dataclass
class WidgetServer:
    """`supportbot run` on a fixed port and data directory, restartable after a SIGKILL."""

    warm: Warm
    data_dir: Path
    port: int
    child: WarmChild | None = None
    starts: int = 0
    killed: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SUPPORTBOT_"))
        }
        return {
            **inherited,
            "SUPPORTBOT_DATA_DIR": str(self.data_dir),
            "SUPPORTBOT_HOST": "127.0.0.1",
            "SUPPORTBOT_PORT": str(self.port),
            "SUPPORTBOT_LOG_LEVEL": "WARNING",
            # Every person here comes from 127.0.0.1, and reconnects after every crash.
            "SUPPORTBOT_WEB_SESSIONS_PER_ADDRESS": "100000",
            "SUPPORTBOT_WEB_CONNECTIONS_PER_MINUTE": "100000",
        }

    def start(self) -> None:
        self.starts += 1
        self.child = self.warm.spawn(
            ["run", "--port", str(self.port)], self.env(), self.data_dir.parent / "server.log"
        )

    def alive(self) -> bool:
        """Running and not yet sent a SIGKILL."""
        return self.child is not None and not self.killed and self.child.poll() is None

    def kill(self) -> None:
        if self.child is not None:
            self.child.send_signal(signal.SIGKILL)
            self.killed = True

    def restart(self) -> None:
        """Start again once the last one is really gone (its port free)."""
        if self.child is not None:
            self.child.wait(10)
        self.killed = False
        self.start()

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(20)
            except Exception:
                self.child.kill()

    async def healthy(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                await asyncio.to_thread(_get, f"{self.url}/healthz")
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("the server did not come up")


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=2) as response:
        assert response.status == 200


@dataclass
class Progress:
    """Counts what people receive (each new numbered frame, session and acknowledgement) and
    kills the server as the count reaches each kill point. A point reached while the server is
    down (killed at the point before, not yet back) is owed: the next thing received after the
    restart kills it again, so every point is a kill."""

    server: WidgetServer
    kills: list[int] = field(default_factory=list)
    count: int = 0
    killed: int = 0
    owed: int = 0

    def tick(self) -> None:
        self.count += 1
        while self.kills and self.count >= self.kills[0]:
            self.kills.pop(0)
            self.owed += 1
        if self.owed and self.server.alive():
            self.owed -= 1
            self.killed += 1
            self.server.kill()

    @property
    def done(self) -> bool:
        return not self.kills and not self.owed


async def _recv(ws: ClientConnection) -> Frame:
    while True:
        message = await ws.recv()
        if isinstance(message, str):
            frame: Frame = json.loads(message)
            return frame


async def converse(
    person: WidgetPerson,
    server: WidgetServer,
    script: list[tuple[str, str]],
    progress: Progress,
    timeout: float,
) -> None:
    """The person's whole script, reconnecting (and resuming) whenever the socket drops."""
    deadline = time.monotonic() + timeout
    step = 0  # the script line to send next
    sent_ids: set[str] = set()
    acked_ids: set[str] = set()
    counted = person.progress
    stalled = time.monotonic() + STALL_SECONDS
    while step < len(script) or person.pending:
        if person.progress != counted:
            counted, stalled = person.progress, time.monotonic() + STALL_SECONDS
        if time.monotonic() > min(deadline, stalled):
            raise AssertionError(f"{person.name}: stuck at line {step}, saw {person.shown()}")
        try:
            async with connect(
                f"ws://127.0.0.1:{server.port}/ws",
                origin=Origin(server.url),
                compression=None,
                proxy=None,
                open_timeout=5,
                close_timeout=1,
                ping_interval=None,
            ) as ws:
                person.connections += 1
                hello = await _recv(ws)
                signature = person.sign(hello["nonce"])
                if person.token is None:
                    opening = {"t": "new", "key": person.public, "sig": signature}
                else:
                    opening = {
                        "t": "resume",
                        "token": person.token,
                        "sig": signature,
                        "after": person.received,
                    }
                await ws.send(json.dumps(opening))
                while step < len(script) or person.pending:
                    frame = await asyncio.wait_for(_recv(ws), STALL_SECONDS / 3)
                    kind = frame.get("t")
                    if kind == "denied":
                        raise Refused(person.name)
                    if kind in ("session", "resumed"):
                        if kind == "session":
                            person.token = frame["token"]
                            _tick(person, progress)
                        for pending in person.pending.values():
                            await ws.send(json.dumps(pending))
                        continue
                    if kind == "ack":
                        if frame.get("id") in person.pending:
                            del person.pending[frame["id"]]
                        if frame.get("id") not in acked_ids:
                            acked_ids.add(frame.get("id", ""))
                            _tick(person, progress)
                    elif kind in SHOWN or kind == "limited":
                        seq = int(frame.get("seq", 0))
                        if seq > 0 and seq <= person.received:
                            continue  # already here (sent again after a resume)
                        if seq > 0:
                            person.received = seq
                        person.seen.append(frame)
                        _tick(person, progress)
                        if kind == "choices":
                            person.welcomed.set()
                    # The next line: once the welcome is here and nothing is unacknowledged.
                    if person.welcomed.is_set() and not person.pending and step < len(script):
                        action, value = script[step]
                        frame_id = f"m{step}"
                        if action == "text":
                            out: Frame = {"t": "text", "id": frame_id, "text": value}
                        else:
                            option = _option(person, value)
                            out = {
                                "t": "choice",
                                "id": frame_id,
                                "option": option["id"],
                                "label": option["label"],
                            }
                        assert frame_id not in sent_ids
                        sent_ids.add(frame_id)
                        person.pending[frame_id] = out
                        step += 1
                        await ws.send(json.dumps(out))
        except (ConnectionClosed, InvalidHandshake, InvalidStatus, OSError, TimeoutError):
            await asyncio.sleep(0.05)


def _tick(person: WidgetPerson, progress: Progress) -> None:
    person.progress += 1
    progress.tick()


def _option(person: WidgetPerson, number: str) -> dict[str, str]:
    options = person.options()
    assert len(options) >= int(number), options
    return options[int(number) - 1]


async def keep_running(server: WidgetServer, progress: Progress, done: Callable[[], bool]) -> int:
    """Restart the server whenever it died, until `done()`; the number of restarts. A kill still
    owed (its point came while the server was down) is done here if no frame comes first: a
    seeded moment within 0.3 s of the restart (so during start-up, recovery or resumes)."""
    rng = random.Random(len(progress.kills))
    restarts = 0
    server.start()
    owed_at = None
    while not done():
        if not server.alive():
            restarts += 1
            await asyncio.to_thread(server.restart)
            owed_at = time.monotonic() + rng.uniform(0.0, 0.3)
        elif progress.owed and owed_at is not None and time.monotonic() >= owed_at:
            progress.owed -= 1
            progress.killed += 1
            server.kill()
        await asyncio.sleep(0.02)
    return restarts


def kill_points(seed: int, total: int, count: int) -> list[int]:
    """`count` distinct points among the first 85% of `total` (the rest is conversation after
    the last restart, so every kill is followed by more of it)."""
    rng = random.Random(seed)
    last = max(2, total * 85 // 100)
    return sorted(rng.sample(range(1, last), min(count, last - 1)))


async def reload(person: WidgetPerson, server: WidgetServer) -> list[str]:
    """What a reloaded page shows: the whole log, from a resume after message 0."""
    async with connect(
        f"ws://127.0.0.1:{server.port}/ws",
        origin=Origin(server.url),
        compression=None,
        proxy=None,
        ping_interval=None,
    ) as ws:
        hello = await _recv(ws)
        assert person.token is not None
        opening = {"t": "resume", "token": person.token, "sig": person.sign(hello["nonce"])}
        await ws.send(json.dumps({**opening, "after": 0}))
        await ws.send(json.dumps({"t": "ping"}))  # answered after the log is sent
        shown: list[str] = []
        while (frame := await asyncio.wait_for(_recv(ws), 30)).get("t") != "pong":
            if frame.get("t") in SHOWN:
                shown.append(seen_as(frame))
        return shown
