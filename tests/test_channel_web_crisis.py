"""The widget's channel answers a crisis even when storage fails: the crisis lines go to the
socket at once (unnumbered), the resend after reconnecting does not repeat them, and once the
decision is stored its lines are logged (for a reload) without being shown live again."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from bot.channels.web.channel import CHANNEL, WebChannel, _Link, service_numbers
from bot.channels.web.store import WebSession, WebStore
from bot.engine import Engine
from bot.model import EventKind, Inbound
from bot.storage.sqlite import SqliteRepository

KILL = "I want to kill myself"


class FakeSocket:
    """What the channel needs of a Starlette WebSocket: send text frames while connected."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.frames.append(json.loads(text))

    async def close(self, code: int = 1000) -> None:
        self.application_state = WebSocketState.DISCONNECTED


def said(frames: list[dict[str, Any]], number: str) -> int:
    return sum(f.get("t") == "say" and number in f.get("text", "") for f in frames)


async def failing(*args: object, **kwargs: object) -> Any:
    raise sqlite3.OperationalError("disk I/O error")


async def test_crisis_answer_when_deciding_fails_then_not_repeated(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sqlite_engine
    repository = engine.repository
    assert isinstance(repository, SqliteRepository)
    channel = WebChannel(engine, WebStore(repository), origins=[])
    cid = engine.keyring.conversation_id(f"{CHANNEL}:s1")
    socket = FakeSocket()
    link = _Link(socket, WebSession("s1", cid, b"key", "http://x"))  # type: ignore[arg-type]
    number = engine.renderer.directory.services["samaritans"].contacts["phone"]
    event = Inbound(CHANNEL, "s1", "s1:m1", EventKind.TEXT, KILL)
    you = {"t": "you", "id": "m1", "text": KILL}

    monkeypatch.setattr(repository, "process", failing)
    with pytest.raises(sqlite3.OperationalError):
        await channel._handle(link, event, "m1", you)
    assert said(socket.frames, number) == 1
    assert all(f["seq"] == 0 and f.get("pause", 0) == 0 for f in socket.frames)
    assert not any(f.get("t") == "ack" for f in socket.frames)  # the widget will resend it
    with pytest.raises(sqlite3.OperationalError):  # the resend, storage still failing
        await channel._handle(link, event, "m1", you)
    assert said(socket.frames, number) == 1

    monkeypatch.undo()
    await channel._handle(link, event, "m1", you)  # the resend, storage back
    assert said(socket.frames, number) == 1  # not shown twice live...
    assert {"t": "ack", "id": "m1"} in socket.frames
    logged = [frame for _, frame in await channel.store.after(cid, 0)]
    assert said(logged, number) == 1  # ...but in the log, so a reloaded page shows it


async def test_the_widget_is_told_the_directory_numbers(sqlite_engine: Engine) -> None:
    numbers = service_numbers(sqlite_engine)
    services = sqlite_engine.renderer.directory.services
    assert services["samaritans"].contacts["phone"] in numbers["tel"]
    assert services["shout"].contacts["sms"] in numbers["sms"]
    assert all(n.replace(" ", "").replace("-", "").lstrip("+").isdigit() for n in numbers["tel"])
