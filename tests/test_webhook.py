"""Webhook mode through `supportbot run`'s app, over real HTTP, against the stand-in Bot API."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.config import Settings
from bot.web.app import create_app
from tests.auxil.botapi import TOKEN, BotApiStandIn
from tests.test_telegram import until


@pytest.fixture
async def served(api: BotApiStandIn, tmp_path: Path) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=api.base_url,
        webhook_url="https://bot.example.org/telegram/hook",
        telegram_pace=False,
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_webhook_delivery_and_secret(served: str, api: BotApiStandIn) -> None:
    assert api.webhook["url"] == "https://bot.example.org/telegram/hook"
    secret = api.webhook["secret_token"]
    assert 1 <= len(secret) <= 256 and secret.replace("_", "").replace("-", "").isalnum()
    update = api.text(4242, "/start")
    body = json.dumps(update)
    async with httpx.AsyncClient(base_url=served) as client:
        for headers in (
            {},
            {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            {"X-Telegram-Bot-Api-Secret-Token": secret[:-1]},
        ):
            refused = await client.post("/telegram/hook", content=body, headers=headers)
            assert refused.status_code == 403
        ok = await client.post(
            "/telegram/hook", content=body, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
        )
        assert ok.status_code == 200
        await until(lambda: len(api.chat(4242)) == 2)
        assert "I'm a support bot" in api.texts(4242)[0]
        # Telegram retries a delivery it thinks failed: still one reply.
        again = await client.post(
            "/telegram/hook", content=body, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
        )
        assert again.status_code == 200
        await asyncio.sleep(0.3)
        assert len(api.chat(4242)) == 2
        assert (await client.get("/healthz")).text == "ok\n"


def test_run_serves_with_no_configuration(tmp_path: Path) -> None:
    """`supportbot run` as a new user starts it: no token, SQLite in the data dir."""
    import os
    import subprocess
    import sys
    import time

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(tmp_path / "data")}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.text == "ok\n"
        assert (tmp_path / "data" / "supportbot.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)
