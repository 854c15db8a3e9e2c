"""Property-based fuzzing of the widget's inbound edge: any malformed frame (broken JSON, other
JSON values, wrong field types, bad ids, stray binary data, lone surrogates) is answered with an
error frame; nothing escapes, the socket stays open, and the conversation is unchanged."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.web.frames import client_id
from bot.channels.web.limits import WebLimits
from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.storage.sqlite import SqliteRepository
from tests.auxil.chat import MONDAY_AFTERNOON
from tests.test_abuse_widget import Socket, channel_for, until

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
bad_ids = st.one_of(
    st.none(), st.integers(), st.just(""), st.text(min_size=65, max_size=70), st.just("a b")
)
valid_ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,16}\Z")


@st.composite
def bad_frame(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["raw", "json", "bytes", "typed", "badid"]))
    if kind == "raw":
        return ("raw", draw(st.text(max_size=200)))
    if kind == "json":
        value = draw(json_values)
        if isinstance(value, dict) and client_id(value) is not None:
            value["id"] = 5
        return ("raw", json.dumps(value))
    if kind == "bytes":
        return draw(st.binary(max_size=3000))
    t = draw(st.sampled_from(["text", "choice", "file", "exit", "resume", "new", "zz", 7, None]))
    if kind == "badid":
        frame: dict[str, Any] = {"t": t, "id": draw(bad_ids), "text": draw(st.text(max_size=50))}
        frame["option"] = draw(st.text(max_size=10))
        return frame
    # A good id with fields of the wrong type (a file of no valid size or name).
    frame = {"t": t, "id": draw(valid_ids)}
    if t in ("text", "choice"):
        frame["text" if t == "text" else "option"] = draw(json_values.filter(_not_str))
    elif t == "file":
        frame["size"] = draw(st.one_of(st.integers(max_value=-1), st.text(max_size=5), st.none()))
        frame["name"] = draw(st.one_of(st.text(max_size=20), st.integers()))
    elif t == "exit":
        frame["t"] = "exit "  # not the exit frame
    return frame


def _not_str(value: Any) -> bool:
    return not isinstance(value, str)


async def _scenario(content: Content, frames: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        keyring = Keyring(b"fuzz tests")
        repository = SqliteRepository(Path(folder) / "bot.db", keyring)
        await repository.open()
        try:
            engine = Engine(content, repository, keyring, clock=lambda: MONDAY_AFTERNOON)
            channel = channel_for(engine, WebLimits())
            socket = Socket("192.0.2.1", ["new"])
            task = asyncio.create_task(channel.serve(socket))  # type: ignore[arg-type]
            await until(lambda: "choices" in socket.kinds())
            conversation_id = next(iter(channel._live))
            before = await repository.load(conversation_id)
            logged = len(await channel.store.after(conversation_id, 0))
            for frame in frames:
                if isinstance(frame, tuple):
                    socket.inbox.put_nowait(_Raw(frame[1]))
                else:
                    socket.inbox.put_nowait(frame)
            socket.inbox.put_nowait({"t": "ping"})
            await until(lambda: "pong" in socket.kinds() or task.done())
            assert not task.done(), socket.sent
            assert socket.closed is None
            assert await repository.load(conversation_id) == before
            assert len(await channel.store.after(conversation_id, 0)) == logged
            answers = [f for f in socket.sent if f.get("t") == "error"]
            assert len(answers) == len(frames)
            task.cancel()
        finally:
            await repository.close()


class _Raw(str):
    """Text sent as it is (not JSON-encoded again)."""


async def _receive_raw(self: Socket) -> dict[str, Any]:
    item = await self.inbox.get()
    if isinstance(item, _Raw):
        return {"type": "websocket.receive", "text": str(item)}
    if item == "new":
        item = self.new_frame()
    if isinstance(item, bytes):
        return {"type": "websocket.receive", "bytes": item}
    return {"type": "websocket.receive", "text": json.dumps(item)}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(bad_frame(), min_size=1, max_size=8))
def test_bad_frames_change_nothing(content: Content, frames: list[Any]) -> None:
    original = Socket.receive
    Socket.receive = _receive_raw  # type: ignore[method-assign]
    try:
        asyncio.run(_scenario(content, frames))
    finally:
        Socket.receive = original  # type: ignore[method-assign]
