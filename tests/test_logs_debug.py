"""The whole service at DEBUG: what people write (a canary in a widget message and in a Telegram
message), the widget's session token, the bot token and chat ids never reach the logs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from bench.web import Widget
from tests.auxil.botapi import TOKEN, BotApiStandIn
from tests.auxil.browser import ROOT, free_port

CANARY = "canary-7f3a9c-kestrel"
CHAT = 731_904_226


async def test_debug_logs_carry_no_words_tokens_or_chat_ids(
    tmp_path: Path, api: BotApiStandIn
) -> None:
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SUPPORTBOT_"))},
        "SUPPORTBOT_DATA_DIR": str(tmp_path / "data"),
        "SUPPORTBOT_LOG_LEVEL": "DEBUG",
        "SUPPORTBOT_PORT": str(port),
        "SUPPORTBOT_PACE_BASE": "0",
        "SUPPORTBOT_PACE_PER_CHAR": "0",
        "SUPPORTBOT_TELEGRAM_PACE": "false",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
    }
    with log_path.open("wb") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        async with asyncio.timeout(60):
            while True:
                assert child.returncode is None, log_path.read_text()
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
        # Telegram: a message with the canary, answered.
        api.text(CHAT, f"hello {CANARY} I'm 30 in England")
        await api.wait_for(CHAT, 1, timeout=60)
        # The widget: a session (its token comes back) and a message with the canary.
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        widget = Widget.make()
        url, origin = f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}"
        async with connect(url, origin=Origin(origin), compression=None, proxy=None) as ws:
            hello = json.loads(await ws.recv())
            await ws.send(
                json.dumps({"t": "new", "key": widget.public, "sig": widget.sign(hello["nonce"])})
            )
            token = ""
            while not token:
                frame = json.loads(await ws.recv())
                token = frame.get("token", "")
            await ws.send(json.dumps({"t": "text", "id": "m1", "text": f"{CANARY} help"}))
            async with asyncio.timeout(60):
                while json.loads(await ws.recv()) != {"t": "ack", "id": "m1"}:
                    continue  # skip replies until our message is acknowledged
    finally:
        child.terminate()
        await child.wait()
    logs = log_path.read_text(errors="replace")
    assert "DEBUG" in logs  # the level really was DEBUG
    assert CANARY not in logs
    assert token and token not in logs
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs
    assert str(CHAT) not in logs
