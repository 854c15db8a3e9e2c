"""Real processes for browser tests: `supportbot run`, a host page on another origin, Chromium.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright with `executable_path`; the
flags keep it from reaching for Google's hosts on a closed network.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Frame, Locator, Page

from tests.auxil.chat import toward_goodbye

CHROMIUM = os.environ.get("SUPPORTBOT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass
class Server:
    """`supportbot run` as a real process (killable, restartable on the same data)."""

    data_dir: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        env = {
            **inherited,
            "SUPPORTBOT_DATA_DIR": str(self.data_dir),
            "SUPPORTBOT_PORT": str(self.port),
            # Short pacing: the widget's typing pauses are real but the tests stay quick.
            "SUPPORTBOT_PACE_BASE": "0.05",
            "SUPPORTBOT_PACE_PER_CHAR": "0",
            "SUPPORTBOT_PACE_MAX": "0.1",
            **self.env,
        }
        self.log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        _wait_http(f"{self.url}/healthz")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None
            self.log.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self.log.close()


@dataclass
class StaticSite:
    """Plain files on another origin: a host page that embeds the widget, a neutral page."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1"],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_http(f"{self.url}/neutral.html")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait()
            self.process = None


class Widget:
    """The widget on a page: the loader's iframe, and the chat inside it (served from the bot's
    own origin). Playwright drives the frame; the host page's scripts cannot."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.element = page.locator("iframe[data-supportbot]")
        self.root = page.frame_locator("iframe[data-supportbot]")

    def part(self, selector: str) -> Locator:
        return self.root.locator(selector)

    async def frame(self) -> Frame:
        handle = await self.element.element_handle()
        frame = await handle.content_frame()
        assert frame is not None
        return frame

    async def open(self) -> None:
        await self.part(".launcher").click()
        await self.wait_for("Hi. I'm a support bot")

    async def bot_texts(self) -> list[str]:
        return [t.strip() for t in await self.part(".msg.bot").all_inner_texts()]

    async def wait_for(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            texts = await self.bot_texts()
            if sum(text in t for t in texts) >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not shown; last: {texts[-3:]}")
            await asyncio.sleep(0.05)

    async def labels(self) -> list[str]:
        return [t.strip() for t in await self.part(".choice").all_inner_texts()]

    async def wait_choices(self, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while not (labels := await self.labels()):
            if time.monotonic() > deadline:
                raise AssertionError("no options shown")
            await asyncio.sleep(0.05)
        return labels

    async def tap(self, label: str) -> None:
        labels = await self.wait_choices()
        matches = [x for x in labels if label.lower() in x.lower()]
        assert len(matches) == 1, f"{label!r} in {labels}"
        await self.part(".choice").filter(has_text=matches[0]).click()

    async def say(self, text: str) -> None:
        await self.part("textarea").fill(text)
        await self.part(".send").click()

    async def session_storage(self) -> dict[str, str]:
        """The frame origin's sessionStorage (read with Playwright's privileges)."""
        result: dict[str, str] = await (await self.frame()).evaluate(
            "() => Object.fromEntries(Object.entries(sessionStorage))"
        )
        return result


async def walk_to_goodbye(widget: Widget, pattern: str) -> list[str]:
    """An adult in England through one pattern, to the bot's goodbye (like the Telegram test)."""
    await widget.tap("start")
    await widget.say("I'm 30")
    await widget.tap("England")
    await widget.tap(pattern)
    for _ in range(40):
        await asyncio.sleep(0.05)
        choice = toward_goodbye(await widget.wait_choices())
        before = len(await widget.bot_texts())
        await widget.tap(choice)
        deadline = time.monotonic() + 10
        while len(await widget.bot_texts()) <= before or not await widget.labels():
            if time.monotonic() > deadline:
                raise AssertionError("no reply")
            await asyncio.sleep(0.05)
        if any("Thank you for reaching out" in t for t in await widget.bot_texts()):
            return await widget.bot_texts()
    raise AssertionError("never reached the goodbye")


async def to_evidence_step(widget: Widget) -> None:
    """An adult in England who was recorded on a video call, up to the bot asking for files."""
    await widget.tap("start")
    await widget.say("I'm 30")
    await widget.tap("England")
    await widget.tap("recorded me")
    for _ in range(20):
        labels = await widget.wait_choices()
        if "Yes, keep evidence" in labels:
            break
        await widget.tap("Go on" if "Go on" in labels else labels[0])
        await asyncio.sleep(0.2)
    await widget.tap("Yes, keep evidence")
    await widget.part(".attach").wait_for()
