"""429 storms (issue 11): the Bot API stand-in answers "429 Too Many Requests" (with
`retry_after`) to a large share of calls for a sustained period while many people write at once,
one of them in crisis. Through the real PTB HTTP stack and SQLite storage, with Telegram's own
limits in the sender (about 30 messages/s overall, 1/s per chat):

- every reply arrives exactly once and in order in each chat (the chats read exactly as the
  same messages read without a storm);
- the crisis answer is not held behind everyone else's backlog;
- nothing fails, and retries honour `retry_after` (no request for a chat comes back before the
  wait it was given; the process does not spin);
- the same for a storm on getUpdates: nothing is lost or taken in twice, and polling waits as
  told.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.factory import make_bot
from bot.channels.telegram.sender import Sender
from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.model import Profile
from bot.storage.sqlite import SqliteRepository
from tests.auxil.botapi import TOKEN, BotApiStandIn, Storm
from tests.auxil.chat import MONDAY_AFTERNOON

LINES = ["/start", "hi"]
PEOPLE = [7000 + n for n in range(120)]  # four times what Telegram lets a bot send in a second
IN_CRISIS = 6999
CRISIS_WORDS = "I want to kill myself"
# Slack for timers and the loopback round trip when checking that a retry waited long enough.
SLACK = 0.05


@dataclass
class Run:
    api: BotApiStandIn
    channel: TelegramChannel
    repository: SqliteRepository
    engine: Engine

    async def stop(self) -> None:
        await self.channel.stop()
        await self.repository.close()
        await self.api.stop()


async def _start(content: Content, path: Path, sender: Sender, storm: Storm | None) -> Run:
    api = BotApiStandIn()
    await api.start()
    keyring = Keyring(b"storm tests")
    repository = SqliteRepository(path, keyring)
    await repository.open()
    engine = Engine(content, repository, keyring, clock=lambda: MONDAY_AFTERNOON)
    channel = TelegramChannel(
        engine, repository, make_bot(TOKEN, api.base_url), pace=False, sender=sender
    )
    await channel.start(poll=True, poll_timeout=1)
    api.storm = storm
    if storm is not None:
        storm.started = time.monotonic()
    return Run(api, channel, repository, engine)


async def until(condition: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


async def _quiet(api: BotApiStandIn, seconds: float = 1.5, limit: float = 120.0) -> None:
    """Until nothing was sent for `seconds`."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() - since < seconds:
        assert time.monotonic() < deadline, "the bot never went quiet"
        if len(api.sent) != last:
            last, since = len(api.sent), time.monotonic()
        await asyncio.sleep(0.05)


async def _calm_chats(
    content: Content, path: Path, people: list[int], lines: list[str]
) -> dict[int, list[str]]:
    """Every chat as it reads without a storm (and with no rate limits to wait for); the last
    person says only CRISIS_WORDS."""
    fast = Sender(global_rate=10_000, chat_rate=10_000, chat_burst=10_000)
    run = await _start(content, path, fast, None)
    try:
        for person in people[:-1]:
            for line in lines:
                run.api.text(person, line)
        run.api.text(people[-1], CRISIS_WORDS)
        await until(lambda: all(run.api.chat(p) for p in people), 60)
        await _quiet(run.api)
        return {chat: run.api.texts(chat) for chat in people}
    finally:
        await run.stop()


def _crisis_intro(engine: Engine) -> str:
    return engine.renderer.text("en-GB", "sys.crisis_intro", Profile())


def _early_retries(api: BotApiStandIn, method: str) -> list[str]:
    """Calls that came back before the wait their chat (or the poller) was given had passed."""
    problems = []
    times = [
        (name, params, at) for (name, params), at in zip(api.calls, api.called_at, strict=True)
    ]
    for refusal in api.refused:
        if refusal.method != method:
            continue
        chat = refusal.params.get("chat_id")
        later = [
            at
            for name, params, at in times
            if name == method and params.get("chat_id") == chat and at > refusal.at
        ]
        if later and later[0] < refusal.at + refusal.retry_after - SLACK:
            problems.append(f"{method} {chat}: back after {later[0] - refusal.at:.2f} s")
    return problems


async def test_a_sendmessage_storm_loses_repeats_and_reorders_nothing_and_crisis_goes_first(
    content: Content, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = await _calm_chats(content, tmp_path / "calm.db", [*PEOPLE, IN_CRISIS], LINES)
    storm = Storm(share=0.5, seconds=8.0, retry_after=1, seed=11)
    # Telegram's own limits: ~30 messages/s overall, 1/s per chat with short bursts.
    run = await _start(content, tmp_path / "storm.db", Sender(), storm)
    caplog.set_level(logging.WARNING)
    cpu, wall = time.process_time(), time.monotonic()
    try:
        for person in PEOPLE:
            for line in LINES:
                run.api.text(person, line)
        # Everyone's replies are queued in the sender, behind the storm...
        await until(lambda: len(run.api.sent) >= len(PEOPLE), 30)
        # ...when one more person writes that they want to die.
        written = time.monotonic()
        run.api.text(IN_CRISIS, CRISIS_WORDS)
        intro = _crisis_intro(run.engine)
        await until(lambda: intro in run.api.texts(IN_CRISIS), 30)
        arrived = run.api.chat(IN_CRISIS)[run.api.texts(IN_CRISIS).index(intro)].at
        crisis_after = arrived - written
        # The waits the crisis answer was itself told to make (a 429 on its own sendMessage).
        told = sum(
            r.retry_after
            for r in run.api.refused
            if r.params.get("chat_id") == IN_CRISIS and r.at < arrived
        )
        backlog = sum(len(expected[p]) for p in PEOPLE) - sum(len(run.api.chat(p)) for p in PEOPLE)
        await until(lambda: all(len(run.api.chat(c)) >= len(expected[c]) for c in expected), 120)
        await _quiet(run.api)
        drained = max(m.at for p in PEOPLE for m in run.api.chat(p)) - written
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    finally:
        await run.stop()
    refused = [r for r in run.api.refused if r.method == "sendMessage"]
    print(
        f"\nstorm: {len(refused)} of {len(run.api.method_calls('sendMessage'))} sendMessage calls "
        f"answered 429; crisis answer after {crisis_after:.2f} s (told to wait {told} s) with "
        f"{backlog} messages of "
        f"others still queued (drained after {drained:.1f} s); CPU {cpu:.1f} s in {wall:.1f} s"
    )
    got = {chat: run.api.texts(chat) for chat in expected}
    assert [c for c in expected if got[c] != expected[c]] == []  # once each, in order
    assert len(refused) > 50  # it really stormed
    assert _early_retries(run.api, "sendMessage") == []
    assert backlog > 40  # the crisis answer really had a queue to overtake...
    assert crisis_after < told + 1.0  # ...and did: it waited for its own 429s, not the queue
    assert crisis_after < drained / 2
    assert cpu < 0.6 * wall  # waiting, not spinning
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == []


async def test_a_getupdates_storm_takes_everything_in_once_and_waits_as_told(
    content: Content, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fast = Sender(global_rate=10_000, chat_rate=10_000, chat_burst=10_000)
    storm = Storm(share=0.8, seconds=6.0, retry_after=2, methods=("getUpdates",), seed=5)
    run = await _start(content, tmp_path / "poll.db", fast, storm)
    caplog.set_level(logging.WARNING)
    people = PEOPLE[:5]
    lines = [*LINES, "I'm 19 and I live in Leeds", "someone recorded me on a video call"]
    try:
        for line in lines:
            for person in people:
                run.api.text(person, line)
            await asyncio.sleep(1.0)  # words keep coming in during the storm
        await until(lambda: all(len(run.api.chat(p)) >= len(lines) for p in people), 60)
        await _quiet(run.api)
    finally:
        await run.stop()
    expected = await _calm_chats(content, tmp_path / "calm.db", [*people, IN_CRISIS], lines)
    refused = [r for r in run.api.refused if r.method == "getUpdates"]
    print(f"\ngetUpdates storm: {len(refused)} of {len(run.api.method_calls('getUpdates'))} 429")
    assert len(refused) >= 2
    assert {p: run.api.texts(p) for p in people} == {p: expected[p] for p in people}
    assert _early_retries(run.api, "getUpdates") == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_storm_on_button_answers_does_not_hold_the_reply(
    content: Content, tmp_path: Path
) -> None:
    """Answering a tap only stops the button's spinner: a 429 on it must not hold the reply."""
    fast = Sender(global_rate=10_000, chat_rate=10_000, chat_burst=10_000)
    run = await _start(content, tmp_path / "taps.db", fast, None)
    try:
        run.api.text(IN_CRISIS, "/start")
        await until(lambda: any(m.keyboard for m in run.api.chat(IN_CRISIS)), 30)
        before = len(run.api.chat(IN_CRISIS))
        run.api.storm = Storm(
            share=1.0, seconds=4.0, retry_after=3, methods=("answerCallbackQuery",)
        )
        tapped = time.monotonic()
        run.api.tap_label(IN_CRISIS, "start")
        await until(lambda: len(run.api.chat(IN_CRISIS)) > before, 30)
        replied = run.api.chat(IN_CRISIS)[before].at - tapped
        await until(lambda: len(run.api.method_calls("answerCallbackQuery")) >= 2, 30)
    finally:
        await run.stop()
    refusal = run.api.refused[0]
    print(f"\nbutton answers refused; the reply came after {replied:.2f} s")
    assert refusal.method == "answerCallbackQuery"
    assert replied < 1.0  # not after the 3 s the spinner's answer was told to wait
    assert _early_retries(run.api, "answerCallbackQuery") == []


async def test_a_storm_at_start_up_is_waited_out(content: Content, tmp_path: Path) -> None:
    """getMe (the first call a starting bot makes) refused for a while: the bot waits as told
    and starts, instead of failing to start."""
    fast = Sender(global_rate=10_000, chat_rate=10_000, chat_burst=10_000)
    api = BotApiStandIn()
    await api.start()
    api.storm = Storm(share=1.0, seconds=2.5, retry_after=1, methods=("getMe",))
    keyring = Keyring(b"storm tests")
    repository = SqliteRepository(tmp_path / "start.db", keyring)
    await repository.open()
    engine = Engine(content, repository, keyring, clock=lambda: MONDAY_AFTERNOON)
    channel = TelegramChannel(
        engine, repository, make_bot(TOKEN, api.base_url), pace=False, sender=fast
    )
    run = Run(api, channel, repository, engine)
    try:
        await asyncio.wait_for(channel.start(poll=True, poll_timeout=1), 30)
        api.text(IN_CRISIS, CRISIS_WORDS)
        await until(lambda: _crisis_intro(engine) in api.texts(IN_CRISIS), 30)
    finally:
        await run.stop()
    assert len(api.method_calls("getMe")) >= 3  # refused at least twice, then answered
    assert _early_retries(api, "getMe") == []
