"""Abuse limits at the widget's socket: new sessions per address (a limited client still gets
the crisis answer, nothing stored, no case), upload space reserved only at the evidence step and
per address, released when chunks stop, and the pack rate limit kept per conversation."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from starlette.datastructures import Address
from starlette.websockets import WebSocketDisconnect, WebSocketState

import bot.engine
from bot.channels.web.channel import WebChannel
from bot.channels.web.limits import SlidingWindow, WebLimits, address_key
from bot.channels.web.store import WebStore
from bot.engine import Engine
from bot.storage.sqlite import SqliteRepository

ORIGIN = "http://127.0.0.1:8080"
KILL = "I want to kill myself"


class Socket:
    """A scripted widget socket: what the channel needs of Starlette's WebSocket."""

    def __init__(self, host: str, script: list[Any] | None = None, *, hang: bool = True) -> None:
        self.headers = {"origin": ORIGIN}
        self.client = Address(host, 50000)
        self.application_state = WebSocketState.CONNECTING
        self.sent: list[dict[str, Any]] = []
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.closed: int | None = None
        self.hang = hang
        for item in script or []:
            self.inbox.put_nowait(item)

    async def accept(self) -> None:
        self.application_state = WebSocketState.CONNECTED

    async def send_json(self, frame: dict[str, Any]) -> None:
        self.sent.append(frame)

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append({"t": "bytes", "size": len(data)})

    async def close(self, code: int = 1000) -> None:
        self.closed = code
        self.application_state = WebSocketState.DISCONNECTED

    async def receive(self) -> dict[str, Any]:
        if self.inbox.empty() and not self.hang:
            raise WebSocketDisconnect(1000)
        item = await self.inbox.get()
        if item is None:
            return {"type": "websocket.disconnect", "code": 1000}
        if item == "new":
            item = self.new_frame()
        if isinstance(item, bytes):
            return {"type": "websocket.receive", "bytes": item}
        return {"type": "websocket.receive", "text": json.dumps(item)}

    def new_frame(self) -> dict[str, Any]:
        nonce = self.sent[0]["nonce"]
        der = self.key.sign(f"supportbot:connect:{nonce}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "t": "new",
            "key": base64.b64encode(raw).decode(),
            "sig": base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode(),
        }

    def kinds(self) -> list[str]:
        return [str(f.get("t")) for f in self.sent]

    def says(self) -> str:
        return "\n".join(str(f.get("text", "")) for f in self.sent if f.get("t") == "say")


async def until(condition: Any, seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


def channel_for(engine: Engine, limits: WebLimits) -> WebChannel:
    repository = engine.repository
    assert isinstance(repository, SqliteRepository)
    return WebChannel(engine, WebStore(repository), origins=[ORIGIN], limits=limits)


async def serve(channel: WebChannel, socket: Socket) -> asyncio.Task[None]:
    return asyncio.create_task(channel.serve(socket))  # type: ignore[arg-type]


def test_addresses_are_counted_per_ipv4_and_per_ipv6_64() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key(None) == ""


def test_sliding_window_forgets_old_events() -> None:
    now = [0.0]
    window = SlidingWindow(2, 60.0, clock=lambda: now[0])
    assert window.allow("a") and window.allow("a")
    assert not window.allow("a")
    assert window.allow("b")  # another address is not affected
    now[0] = 61.0
    assert window.allow("a")


async def test_new_sessions_per_address_are_limited_kindly_with_crisis_answer(
    sqlite_engine: Engine,
) -> None:
    engine = sqlite_engine
    channel = channel_for(engine, WebLimits(sessions_per_address=2))
    for _ in range(2):
        ok = Socket("198.51.100.1", ["new"], hang=False)
        await (await serve(channel, ok))
        assert "session" in ok.kinds()
    flood = Socket("198.51.100.1", ["new", {"t": "text", "id": "m1", "text": KILL}], hang=False)
    await (await serve(channel, flood))
    assert "session" not in flood.kinds() and "limited" in flood.kinds()
    assert "try again in a little while" in flood.says()
    samaritans = engine.renderer.directory.services["samaritans"].contacts["phone"]
    assert samaritans in flood.says().split("try again")[1]  # the crisis answer still goes out
    assert {"t": "ack", "id": "m1"} in flood.sent
    repository = engine.repository
    assert isinstance(repository, SqliteRepository)
    rows = await repository.fetch("SELECT COUNT(*) FROM web_sessions", ())
    assert rows[0][0] == 2  # the limited one stored nothing
    assert len(await repository.handoffs()) == 0  # and opened no case
    other = Socket("198.51.100.2", ["new"], hang=False)  # another address is not limited
    await (await serve(channel, other))
    assert "session" in other.kinds()


async def to_evidence_step(channel: WebChannel, socket: Socket) -> None:
    """Walk a session to the step that asks for files (as tests/auxil/chat does)."""
    steps: list[dict[str, Any]] = [
        {"t": "choice", "id": "a1", "option": "begin"},
        {"t": "text", "id": "a2", "text": "I'm 30"},
        {"t": "text", "id": "a3", "text": "England"},
        {"t": "text", "id": "a4", "text": "someone recorded me on a video call"},
    ]
    for step in steps:
        socket.inbox.put_nowait(step)
        await until(lambda s=step: {"t": "ack", "id": s["id"]} in socket.sent)
    for n in range(12):
        if any(f.get("t") == "upload" for f in socket.sent):
            return
        choices = [f for f in socket.sent if f.get("t") == "choices"]
        options = choices[-1]["options"] if choices else []
        wanted = ("evidence", "next", "yes", "go")
        option = next(
            (o for o in options if any(w in o["id"] for w in wanted)),
            options[0] if options else None,
        )
        assert option is not None, socket.kinds()
        step = {"t": "choice", "id": f"b{n}", "option": option["id"]}
        socket.inbox.put_nowait(step)
        await until(lambda s=step: {"t": "ack", "id": s["id"]} in socket.sent)
    raise AssertionError("never reached the evidence step")


async def test_upload_space_is_reserved_only_when_files_are_asked_for(
    sqlite_engine: Engine,
) -> None:
    channel = channel_for(sqlite_engine, WebLimits())
    socket = Socket("198.51.100.3", ["new"])
    task = await serve(channel, socket)
    await until(lambda: "session" in socket.kinds())
    await until(lambda: "choices" in socket.kinds())
    socket.inbox.put_nowait({"t": "file", "id": "f1", "name": "a.png", "size": 5_000_000})
    await until(lambda: any(f.get("id") == "f1" for f in socket.sent))
    assert {"t": "error", "code": "not_now", "id": "f1"} in socket.sent
    assert channel._uploading == 0
    socket.inbox.put_nowait(b"x" * 1000)  # bytes before any upload request: never buffered
    await until(lambda: "unexpected_data" in str(socket.sent))
    task.cancel()


async def test_upload_space_is_per_address_and_released_when_chunks_stop(
    sqlite_engine: Engine,
) -> None:
    limits = WebLimits(upload_bytes_per_address=25_000_000, upload_chunk_seconds=5.0)
    channel = channel_for(sqlite_engine, limits)
    first = Socket("198.51.100.4", ["new"])
    second = Socket("198.51.100.4", ["new"])
    tasks = [await serve(channel, first), await serve(channel, second)]
    for socket in (first, second):
        await until(lambda s=socket: "choices" in s.kinds())
        await to_evidence_step(channel, socket)
    first.inbox.put_nowait({"t": "file", "id": "f1", "name": "a.png", "size": 20_000_000})
    await until(lambda: channel._uploading == 20_000_000)
    # The same address cannot hold more than its share...
    second.inbox.put_nowait({"t": "file", "id": "f2", "name": "b.png", "size": 20_000_000})
    await until(lambda: {"t": "error", "code": "busy", "id": "f2"} in second.sent)
    # ...and a file that stops arriving gives its space back.
    await until(lambda: {"t": "error", "code": "upload_timeout", "id": "f1"} in first.sent)
    assert channel._uploading == 0
    second.inbox.put_nowait({"t": "file", "id": "f3", "name": "b.png", "size": 20_000_000})
    await until(lambda: channel._uploading == 20_000_000)
    for task in tasks:
        task.cancel()


async def test_pack_rate_limit_is_per_conversation_across_sockets(
    sqlite_engine: Engine,
) -> None:
    channel = channel_for(sqlite_engine, WebLimits())
    assert channel._pack_due("conversation-1")
    assert not channel._pack_due("conversation-1")  # a reconnect's new socket: still limited
    assert channel._pack_due("conversation-2")


async def test_packs_are_built_off_the_event_loop(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = channel_for(sqlite_engine, WebLimits())
    socket = Socket("198.51.100.5", ["new"])
    task = await serve(channel, socket)
    await until(lambda: "choices" in socket.kinds())
    threads: list[threading.Thread] = []
    real = bot.engine.build_pack

    def build(contents: Any) -> bytes:
        threads.append(threading.current_thread())
        return real(contents)

    monkeypatch.setattr(bot.engine, "build_pack", build)
    conversation_id = next(iter(channel._live))
    assert await sqlite_engine.export_pack(conversation_id) is not None
    assert threads and threads[0] is not threading.main_thread()
    task.cancel()


async def test_a_flood_of_sockets_from_one_address_is_refused_before_accepting(
    sqlite_engine: Engine,
) -> None:
    channel = channel_for(sqlite_engine, WebLimits(connections_per_minute=3))
    for _ in range(3):
        socket = Socket("198.51.100.9", [None])
        await (await serve(channel, socket))
        assert socket.kinds()[0] == "hello"
    refused = Socket("198.51.100.9", [None])
    await (await serve(channel, refused))
    assert refused.sent == [] and refused.closed == 1008  # a 403 to the handshake
    elsewhere = Socket("198.51.100.10", [None])
    await (await serve(channel, elsewhere))
    assert elsewhere.kinds()[0] == "hello"
