"""The widget's page language starts the conversation in it (issue 12), and the console learns
where each widget conversation connects from as a keyed hash, never the address (issue 11's
folding of urgent cases by source)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.channels.web.limits import WebLimits
from bot.console.folding import source_id
from bot.engine import Engine
from bot.model import Profile
from tests.test_abuse_widget import Socket, channel_for, serve


class _Desk:
    """What the channel tells the console's desk about sources."""

    def __init__(self) -> None:
        self.sources: dict[str, str | None] = {}

    def note_source(self, conversation_id: str, source: str | None) -> None:
        self.sources[conversation_id] = source


def _welsh_new(socket: Socket) -> dict[str, Any]:
    return {**socket.new_frame(), "locale": "cy"}


async def test_a_welsh_page_starts_the_conversation_in_welsh(sqlite_engine: Engine) -> None:
    channel = channel_for(sqlite_engine, WebLimits())
    socket = Socket("198.51.100.9")
    task = await serve(channel, socket)
    while not socket.sent:  # the server's hello carries the nonce to sign
        await asyncio.sleep(0.01)
    socket.inbox.put_nowait(_welsh_new(socket))
    socket.inbox.put_nowait(None)  # then the page closes
    await task
    welcome = sqlite_engine.renderer.text("cy", "intake.welcome", Profile())
    assert welcome in socket.says()


async def test_the_console_hears_a_hash_of_the_source_never_the_address(
    sqlite_engine: Engine,
) -> None:
    channel = channel_for(sqlite_engine, WebLimits())
    desk = _Desk()
    channel.desk = desk  # type: ignore[assignment]
    for _ in range(2):
        await (await serve(channel, Socket("203.0.113.50", ["new"], hang=False)))
    await (await serve(channel, Socket("203.0.113.51", ["new"], hang=False)))
    values = list(desk.sources.values())
    assert len(values) == 3
    assert values[0] == values[1] == source_id(sqlite_engine.keyring, "203.0.113.50")
    assert values[2] != values[0]
    assert all(v and "203.0.113" not in v for v in values)
