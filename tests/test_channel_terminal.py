"""The terminal channel: a pasted multi-line message is one message (at a terminal: lines that
arrive together; piped: a \"\"\" block), and the crisis answer shows even when saving fails."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels.terminal import TerminalChat, blocks, pasted
from bot.engine import Engine
from tests.auxil.cli import chat


async def _listed(chunks: list[str]) -> AsyncIterator[str]:
    for chunk in chunks:
        yield chunk


async def test_a_block_between_triple_quotes_is_one_message() -> None:
    lines = ["1", '"""', "I have your pictures.", "", "Pay or else.", '"""', "yes", '"""', "cut"]
    got = [message async for message in blocks(_listed(lines))]
    assert got == ["1", "I have your pictures.\n\nPay or else.", "yes", "cut"]


async def test_lines_arriving_together_at_a_terminal_are_one_message() -> None:
    read, write = os.pipe()
    messages = pasted(read, window=0.05)
    try:
        os.write(write, "They said:\nsend £500\nor else 😟\n".encode())
        assert await asyncio.wait_for(anext(messages), 5) == "They said:\nsend £500\nor else 😟"
        os.write(write, b"two")  # typed, then Enter a moment later: still one line
        await asyncio.sleep(0.1)
        os.write(write, b"\n")
        assert await asyncio.wait_for(anext(messages), 5) == "two"
        os.write(write, b"three\n")
        assert await asyncio.wait_for(anext(messages), 5) == "three"
        await asyncio.sleep(0.15)  # typed a while later: a message of its own
        os.write(write, b"four\n")
        assert await asyncio.wait_for(anext(messages), 5) == "four"
        os.write(write, b"last, no newline")
        os.close(write)
        write = -1
        assert await asyncio.wait_for(anext(messages), 5) == "last, no newline"
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(messages), 5)
    finally:
        await messages.aclose()
        os.close(read)
        if write >= 0:
            os.close(write)


def test_piped_lines_stay_one_answer_each_and_a_block_is_one(tmp_path: Path) -> None:
    script = '1\n"""\nI\'m 27\nand I am scared\n"""\nEngland\n'
    out = chat(tmp_path / "data", script, "--echo")
    assert "you> I'm 27\nand I am scared\n" in out  # echoed once, as one message
    assert "you> England" in out
    assert '"""' not in out


async def test_crisis_answer_shows_when_saving_fails(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    terminal = TerminalChat(engine, pace=False, out=out)

    async def failing(*args: object, **kwargs: object) -> object:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(engine.repository, "process", failing)
    await terminal.line("I want to kill myself")
    shown = out.getvalue()
    number = engine.renderer.directory.services["samaritans"].contacts["phone"]
    assert number in shown and "bot!" in shown
    assert "could not be saved" in shown and "disk I/O error" not in shown
    out.truncate(0)
    await terminal.line("hello")  # no crisis: only the note to send it again
    assert "could not be saved" in out.getvalue() and number not in out.getvalue()


def test_a_paste_at_a_real_terminal_is_one_message(tmp_path: Path) -> None:
    """`supportbot chat` on a pseudo-terminal: three pasted lines get one answer (one prompt)."""
    import pty
    import select
    import subprocess
    import sys
    import time

    master, slave = pty.openpty()
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--no-delay"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    assert process.stdout is not None and process.stderr is not None

    def until_prompt(seconds: float = 20.0) -> str:
        """Output up to and including the next "you> " prompt."""
        out = b""
        deadline = time.monotonic() + seconds
        while not out.endswith(b"you> ") and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:
                data = os.read(process.stdout.fileno(), 65536)
                if not data:
                    break
                out += data
        return out.decode()

    try:
        assert "you> " in until_prompt()
        os.write(master, b"1\n")
        assert "how old" in until_prompt().lower()
        os.write(master, b"They sent me this:\nPay 500 or I share it\nwith everyone you know\n")
        answer = until_prompt()
        time.sleep(0.5)  # were the lines separate messages, more prompts would follow now
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        later = os.read(process.stdout.fileno(), 65536).decode() if ready else ""
        assert answer.count("you> ") == 1 and "you> " not in later
        os.write(master, b"exit\n")
        assert process.wait(20) == 0
        assert "Traceback" not in process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
        process.stdout.close()
        process.stderr.close()
