"""Set-up problems are told in one clear line with exit code 3, as a port in use is: never a
traceback, never the bot token. Each runs the real command as a process."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.cli import describe_setup_error
from bot.config import Settings
from tests.auxil.botapi import BotApiStandIn
from tests.auxil.browser import ROOT, free_port

WRONG_TOKEN = "987654:Wrong-token_that-must-never-be-printed"


async def supportbot(data: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SUPPORTBOT_"))}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env={**base, "SUPPORTBOT_DATA_DIR": str(data), **(env or {})},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(child.communicate(), 90)
    return int(child.returncode or 0), out.decode(errors="replace")


def errors(out: str) -> list[str]:
    return [line for line in out.splitlines() if "ERROR" in line or "supportbot:" in line]


async def test_a_rejected_bot_token_is_one_line_without_the_token(
    tmp_path: Path, api: BotApiStandIn
) -> None:
    env = {"TELEGRAM_BOT_TOKEN": WRONG_TOKEN, "TELEGRAM_API_BASE_URL": api.base_url}
    code, out = await supportbot(tmp_path / "data", "run", "--port", str(free_port()), env=env)
    assert code == 3, out
    assert "Traceback" not in out
    assert WRONG_TOKEN not in out and "Wrong-token" not in out
    assert any("Telegram rejected TELEGRAM_BOT_TOKEN" in line for line in errors(out)), out


async def test_no_network_is_one_line(tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": WRONG_TOKEN, "TELEGRAM_API_BASE_URL": "http://nowhere.invalid"}
    code, out = await supportbot(tmp_path / "data", "run", "--port", str(free_port()), env=env)
    assert code == 3, out
    assert "Traceback" not in out and "Wrong-token" not in out
    assert any("cannot reach the Telegram Bot API" in line for line in errors(out)), out


@pytest.mark.parametrize("command", [["run"], ["chat", "--no-delay"], ["moderators", "list"]])
async def test_an_unusable_data_directory_is_one_line(tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    data = blocker / "data"  # (tests run as root, where permissions stop nothing)
    if command == ["run"]:
        command = ["run", "--port", str(free_port())]
    code, out = await supportbot(data, *command)
    assert code == 3, out
    assert "Traceback" not in out
    assert any(f"cannot use the data directory {data}" in line for line in errors(out)), out


def test_a_permission_error_names_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    problem = PermissionError(13, "Permission denied", str(tmp_path / "data" / "secret.key"))
    line = describe_setup_error(problem, settings)
    assert line is not None and "cannot use the data directory" in line


async def test_a_short_secret_key_is_refused_in_one_line(tmp_path: Path) -> None:
    secret = "short-secret-value"
    env = {"SUPPORTBOT_SECRET_KEY": secret}
    code, out = await supportbot(tmp_path / "data", "chat", "--no-delay", env=env)
    assert code == 3, out
    assert out.strip().splitlines() == [
        "supportbot: SUPPORTBOT_SECRET_KEY: Value error, must be at least 32 characters"
    ]
    assert secret not in out
    good = "x" * 32
    code, out = await supportbot(
        tmp_path / "data", "chat", "--no-delay", env={"SUPPORTBOT_SECRET_KEY": good}
    )
    assert code == 0, out


async def test_slow_request_headers_are_cut_off(tmp_path: Path) -> None:
    """Slowloris: a client that never finishes its headers is closed after the deadline."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SUPPORTBOT_"))},
        "SUPPORTBOT_DATA_DIR": str(tmp_path / "data"),
        "SUPPORTBOT_HTTP_HEADER_SECONDS": "1",
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(60):
            while True:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
            await writer.drain()
            assert await reader.read() == b""  # closed by the server, no answer
            writer.close()
            # A whole request still works.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert (await reader.readline()).split()[1] == b"200"
            writer.close()
    finally:
        child.terminate()
        await child.wait()
