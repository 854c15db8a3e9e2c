"""The widget crash drill (issue 11): `supportbot run` as a child process, killed with SIGKILL
at seeded random points while several people follow a scripted conversation over real
WebSockets, and restarted each time on the same port and data. The people's widgets reconnect
and resume their sessions as the widget's own script does. Nothing may be lost or repeated:
every person's screen is exactly what the same script shows without crashes.

`DRILL_POINTS` (default 30) sets how many kills; `DRILL_SEED` picks them. For the long drill:

    DRILL_POINTS=200 .venv/bin/pytest -q -p no:cacheprovider tests/test_drill_widget.py -s

(`DRILL_DUMP=1` prints every difference as a diff.) Besides what each person saw live, each
one's whole log is read back at the end as a reloaded page would, and must match it.

Restarts are forks of a warm parent that loaded the content once (tests/auxil/warm.py), so a
restart takes milliseconds instead of seconds; everything else starts fresh in each child.
Each run has its own ports and data directories, so it runs in parallel under xdist.
"""

from __future__ import annotations

import asyncio
import base64
import difflib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

import bot.channels.web.channel as web_channel
from bot.channels.web.channel import WebChannel, token_hash
from bot.channels.web.limits import WebLimits
from bot.channels.web.store import WebStore
from bot.engine import Engine
from bot.model import EventKind, Inbound
from tests.auxil.browser import free_port
from tests.auxil.warm import Warm
from tests.auxil.widget import (
    SCRIPT,
    Progress,
    WidgetPerson,
    WidgetServer,
    converse,
    keep_running,
    kill_points,
    reload,
)
from tests.test_abuse_widget import Socket, channel_for, serve, until

POINTS = int(os.environ.get("DRILL_POINTS", "30"))
SEED = int(os.environ.get("DRILL_SEED", "11"))
# Enough people that there is something to kill at for every point.
PEOPLE = max(4, POINTS // 25 + 1)


@pytest.fixture(scope="module")
def warm() -> Iterator[Warm]:
    parent = Warm()
    yield parent
    parent.close()


async def _run(
    warm: Warm, tmp_path: Path, name: str, kills: list[int]
) -> tuple[list[WidgetPerson], Progress, int, list[str]]:
    data = tmp_path / name / "data"
    data.mkdir(parents=True)
    server = WidgetServer(warm, data, free_port())
    progress = Progress(server, list(kills))
    finished = False
    runner = asyncio.create_task(keep_running(server, progress, lambda: finished))
    people = [WidgetPerson(f"person {n}") for n in range(PEOPLE)]
    try:
        await server.healthy()
        timeout = 60 + 3 * len(kills)
        await asyncio.gather(
            *(converse(person, server, SCRIPT, progress, timeout) for person in people)
        )
        async with asyncio.timeout(60):
            while not progress.done:  # kills still owed at the end happen on their own
                await asyncio.sleep(0.05)
        await server.healthy()
        # A reloaded page shows the whole log: it must be what the person saw live.
        differ = [p.name for p in people if await reload(p, server) != p.shown()]
    finally:
        finished = True
        restarts = await runner
        server.stop()
    return people, progress, restarts, differ


async def test_kill_at_random_points_loses_and_repeats_nothing(warm: Warm, tmp_path: Path) -> None:
    started = time.monotonic()
    calm, counted, _, _ = await _run(warm, tmp_path, "calm", [])
    expected = {person.name: person.shown() for person in calm}
    assert all(len(shown) > len(SCRIPT) for shown in expected.values())
    kills = kill_points(SEED, counted.count, POINTS)
    crashed, progress, restarts, reloaded_differ = await _run(warm, tmp_path, "crashed", kills)
    got = {person.name: person.shown() for person in crashed}
    differ = [name for name in expected if got[name] != expected[name]]
    lost = sum(max(0, len(expected[n]) - len(got[n])) for n in expected)
    repeated = sum(max(0, len(got[n]) - len(expected[n])) for n in expected)
    frames = sum(len(shown) for shown in expected.values())
    print(
        f"\nwidget drill: {PEOPLE} people, {PEOPLE * len(SCRIPT)} messages in, {frames} shown, "
        f"{progress.killed} kills, {restarts} restarts, "
        f"{sum(p.connections for p in crashed)} connections, {lost} lost, {repeated} repeated, "
        f"{len(differ)} conversations differ, {len(reloaded_differ)} differ when reloaded, "
        f"{time.monotonic() - started:.0f} s"
    )
    if os.environ.get("DRILL_DUMP"):  # every difference, not just the first
        for name in differ:
            print("\n".join(difflib.unified_diff(expected[name], got[name], lineterm="")))
    for name in differ[:1]:
        pairs = list(zip(expected[name], got[name], strict=False))
        index = next((i for i, (a, b) in enumerate(pairs) if a != b), len(pairs))
        want = expected[name][index] if index < len(expected[name]) else None
        seen = got[name][index] if index < len(got[name]) else None
        print(f"first difference, frame {index}:\n  calm:    {want!r}\n  crashed: {seen!r}")
    assert progress.killed == len(kills) == POINTS
    assert (lost, repeated, differ, reloaded_differ) == (0, 0, [], [])


# --- the crash windows the drill found, pinned down one by one ----------------------------


class _Widget(Socket):
    """A scripted widget socket that can also resume a session (with the key that started it)."""

    def __init__(self, script: list[Any], key: ec.EllipticCurvePrivateKey | None = None) -> None:
        super().__init__("192.0.2.7", script)
        if key is not None:
            self.key = key

    async def receive(self) -> dict[str, Any]:
        item = self.inbox._queue[0] if not self.inbox.empty() else None  # type: ignore[attr-defined]
        if isinstance(item, dict) and item.get("t") == "resume" and "sig" not in item:
            self.inbox.get_nowait()
            der = self.key.sign(
                f"supportbot:connect:{self.sent[0]['nonce']}".encode(), ec.ECDSA(hashes.SHA256())
            )
            r, s = utils.decode_dss_signature(der)
            signature = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
            return {"type": "websocket.receive", "text": json.dumps({**item, "sig": signature})}
        return await super().receive()


async def _started(engine: Engine) -> tuple[WebChannel, _Widget, str, str]:
    """A widget session at its welcome: the channel, the socket, its token and conversation."""
    channel = channel_for(engine, WebLimits())
    widget = _Widget(["new"])
    await serve(channel, widget)
    await until(lambda: "choices" in widget.kinds())
    token = next(f["token"] for f in widget.sent if f.get("t") == "session")
    return channel, widget, token, next(iter(channel._live))


async def _crash_after_deciding(engine: Engine, token: str, words: str) -> None:
    """What a crash between deciding and logging leaves: the decision and its outbox entry."""
    session = await WebStore(engine.repository).find(token_hash(token))  # type: ignore[arg-type]
    assert session is not None
    event_id = f"{session.session_id}:m1"
    await engine.handle(
        Inbound("web", session.session_id, event_id, EventKind.TEXT, words), durable=True
    )


async def test_a_reply_decided_before_a_crash_is_shown_after_what_they_sent(
    sqlite_engine: Engine,
) -> None:
    engine = sqlite_engine
    _, first, token, conversation = await _started(engine)
    last = max(f["seq"] for f in first.sent if f.get("seq"))
    await _crash_after_deciding(engine, token, "hi")
    restarted = channel_for(engine, WebLimits())
    await restarted.recover()
    # The widget resumes and sends again what was not acknowledged.
    again = _Widget(
        [{"t": "resume", "token": token, "after": last}, {"t": "text", "id": "m1", "text": "hi"}],
        first.key,
    )
    await serve(restarted, again)
    await until(lambda: {"t": "ack", "id": "m1"} in again.sent)
    shown = [f for f in again.sent if f.get("seq")]
    assert shown[0] == {"t": "you", "id": "m1", "text": "hi", "seq": last + 1}
    assert [f["t"] for f in shown[1:]] and all(f["t"] != "you" for f in shown[1:])
    logged = await WebStore(engine.repository).after(conversation, last)  # type: ignore[arg-type]
    assert [frame for _, frame in logged] == [
        {k: v for k, v in f.items() if k != "seq"} for f in shown
    ]  # a reloaded page shows the same, in the same order


async def test_a_reply_decided_before_a_crash_still_reaches_a_reloaded_page(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reloaded page has nothing to resend: the reply comes anyway, a moment later."""
    monkeypatch.setattr(web_channel, "RESEND_GRACE_SECONDS", 0.2)
    engine = sqlite_engine
    _, first, token, _ = await _started(engine)
    last = max(f["seq"] for f in first.sent if f.get("seq"))
    await _crash_after_deciding(engine, token, "hi")
    restarted = channel_for(engine, WebLimits())
    await restarted.recover()
    reloaded = _Widget([{"t": "resume", "token": token, "after": last}], first.key)
    await serve(restarted, reloaded)
    await until(lambda: any(f.get("seq", 0) > last for f in reloaded.sent))
    assert next(f["t"] for f in reloaded.sent if f.get("seq", 0) > last) == "say"
    assert await engine.repository.outbox("web") == []  # delivered, released


async def test_no_session_is_kept_or_given_out_before_its_welcome_is(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A welcome that could not be decided (here: storage failing; in the drill: a crash) leaves
    no session behind and no token with the widget, so it simply starts again."""
    engine = sqlite_engine
    channel = channel_for(engine, WebLimits())

    async def failing(*args: object, **kwargs: object) -> object:
        raise OSError("disk I/O error")

    monkeypatch.setattr(engine, "handle", failing)
    widget = _Widget(["new"], None)
    await (await serve(channel, widget))
    assert "session" not in widget.kinds() and widget.closed == 1011
    rows = await engine.repository.fetch("SELECT COUNT(*) FROM web_sessions")  # type: ignore[attr-defined]
    assert rows == [(0,)]
