"""Crash drills: `supportbot run` as a child process against the stand-in Bot API, SIGKILLed at
seeded random points and restarted each time (issue 11)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.auxil.botapi import TOKEN, BotApiStandIn
from tests.auxil.browser import free_port
from tests.auxil.warm import Warm, WarmChild

# What each person says, in order (typed words only, so the script never depends on a keyboard).
SCRIPT = [
    "/start",
    "hi",
    "I'm 19 and I live in Leeds",
    "a girl on insta recorded our video call and wants £200",
    "ok",
    "should I just pay?",
    "go on",
    "I want to kill myself",
    "ok",
    "evidence",
    "his snapchat is ryan_x_99",
    "that's all",
]


@dataclass
class Drill:
    """Restarts are forks of a warm parent that loaded the content once (tests/auxil/warm.py):
    milliseconds instead of the 3-7 s a cold start takes on a loaded two-core machine."""

    api: BotApiStandIn
    data_dir: Path
    kills: list[int] = field(default_factory=list)  # kill as the n-th message is about to go out
    process: WarmChild | None = None
    restarts: int = 0
    killed: int = 0
    log: Path | None = None
    warm: Warm | None = None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SUPPORTBOT_DATA_DIR": str(self.data_dir),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": self.api.base_url,
            "SUPPORTBOT_TELEGRAM_PACE": "false",
            "SUPPORTBOT_TELEGRAM_GLOBAL_RATE": "10000",
            "SUPPORTBOT_TELEGRAM_CHAT_RATE": "10000",
            "SUPPORTBOT_TELEGRAM_CHAT_BURST": "10000",
            "SUPPORTBOT_LOG_LEVEL": "WARNING",
        }

    def spawn(self) -> None:
        self.log = self.data_dir.parent / "drill.log"
        if self.warm is None:
            self.warm = Warm()
        if self.process is not None:
            self.process.wait(10)  # really gone (a SIGKILLed child is reaped by the parent)
        self.process = self.warm.spawn(["run", "--port", str(free_port())], self.env(), self.log)

    def _before_send(self, params: dict[str, Any]) -> bool:
        if self.kills and len(self.api.sent) >= self.kills[0] and self.process is not None:
            self.kills.pop(0)
            self.process.send_signal(signal.SIGKILL)
            self.killed += 1
            return True
        return False

    async def keep_running(self, done: Any) -> None:
        """Run the bot until `done()`; restart it each time it was killed."""
        self.api.before_send = self._before_send
        self.spawn()
        while not done():
            assert self.process is not None
            if self.process.poll() is not None:
                self.restarts += 1
                self.spawn()
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.warm is not None:
            self.warm.close()
            self.warm = None


async def converse(
    api: BotApiStandIn, people: list[int], expected: dict[int, int] | None, timeout: float
) -> None:
    """Every person's script; with `expected` (messages each gets, from a run without crashes)
    one person at a time, so only one chat is ever sending when the bot is killed (a message
    whose answer came back but was not yet recorded is the one thing a crash may resend)."""
    deadline = time.monotonic() + timeout
    if expected is None:
        for person in people:
            for words in SCRIPT:
                api.text(person, words)
        while not all(api.chat(person) for person in people):
            assert time.monotonic() < deadline, "the run without crashes did not start"
            await asyncio.sleep(0.05)
        await _quiet(api, deadline)
        return
    for person in people:
        for words in SCRIPT:
            api.text(person, words)
        while len(api.chat(person)) < expected[person]:
            assert time.monotonic() < deadline, "the drill ran out of time"
            await asyncio.sleep(0.05)


async def _quiet(api: BotApiStandIn, deadline: float, quiet: float = 3.0) -> None:
    """Until nothing was sent for `quiet` seconds (the run without crashes only)."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the run without crashes did not finish"
        if len(api.sent) != last:
            last, since = len(api.sent), time.monotonic()
        await asyncio.sleep(0.1)


def kill_points(seed: int, total: int, count: int) -> list[int]:
    rng = random.Random(seed)
    return sorted(rng.sample(range(1, total), min(count, total - 1)))
