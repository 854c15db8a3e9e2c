"""The per-address session limit, through the real server: behind a configured trusted proxy
the address is the one the proxy reports (X-Forwarded-For); without one, that header is
ignored, so a client cannot dodge the limit by making addresses up."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Origin

from bench.web import Widget
from tests.auxil.browser import ROOT, free_port


async def new_session(port: int, forwarded_for: str) -> str:
    """Start a widget session claiming to come from `forwarded_for`; the server's answer."""
    widget = Widget.make()
    async with connect(
        f"ws://127.0.0.1:{port}/ws",
        origin=Origin(f"http://127.0.0.1:{port}"),
        additional_headers={"X-Forwarded-For": forwarded_for},
        compression=None,
        proxy=None,
    ) as ws:
        hello = json.loads(await ws.recv())
        await ws.send(
            json.dumps({"t": "new", "key": widget.public, "sig": widget.sign(hello["nonce"])})
        )
        answer = json.loads(await ws.recv())
        return str(answer["t"])


async def serve(tmp_path: Path, **settings: str) -> AsyncIterator[int]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SUPPORTBOT_"))},
        "SUPPORTBOT_DATA_DIR": str(tmp_path / "data"),
        "SUPPORTBOT_PORT": str(port),
        "SUPPORTBOT_WEB_SESSIONS_PER_ADDRESS": "1",
        **settings,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(60):
            while True:
                assert child.returncode is None
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
        yield port
    finally:
        child.terminate()
        await child.wait()


@pytest.fixture
async def behind_proxy(tmp_path: Path) -> AsyncIterator[int]:
    async for port in serve(tmp_path, SUPPORTBOT_TRUSTED_PROXIES="127.0.0.1"):
        yield port


@pytest.fixture
async def no_proxy(tmp_path: Path) -> AsyncIterator[int]:
    async for port in serve(tmp_path):
        yield port


async def test_behind_a_trusted_proxy_each_person_has_their_own_limit(behind_proxy: int) -> None:
    assert await new_session(behind_proxy, "203.0.113.1") == "session"
    assert await new_session(behind_proxy, "203.0.113.2") == "session"
    assert await new_session(behind_proxy, "203.0.113.1") == "limited"


async def test_without_a_trusted_proxy_forwarded_addresses_are_ignored(no_proxy: int) -> None:
    assert await new_session(no_proxy, "203.0.113.1") == "session"
    assert await new_session(no_proxy, "203.0.113.2") == "limited"
