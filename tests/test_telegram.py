"""The Telegram channel: the real PTB HTTP stack against a stand-in Bot API server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.factory import make_bot
from bot.channels.telegram.sender import Sender
from bot.crypto import Keyring
from bot.engine import Content, Engine, Pacing
from bot.model import Profile
from bot.storage.sqlite import SqliteRepository
from bot.texts import Renderer
from tests.auxil.botapi import TOKEN, BotApiStandIn
from tests.auxil.chat import MONDAY_AFTERNOON, toward_goodbye
from tests.auxil.files import png

ALICE, BOB = 1001, 2002


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


class Harness:
    def __init__(self, api: BotApiStandIn, content: Content, path: Path) -> None:
        self.api, self.content, self.path = api, content, path
        self.keyring = Keyring(b"telegram tests")
        self.channel: TelegramChannel | None = None
        self.repository: SqliteRepository | None = None

    async def start(
        self,
        *,
        pace: bool = False,
        pacing: Pacing | None = None,
        sender: Sender | None = None,
        poll: bool = True,
    ) -> TelegramChannel:
        self.repository = SqliteRepository(self.path, self.keyring)
        await self.repository.open()
        engine = Engine(
            self.content,
            self.repository,
            self.keyring,
            pacing=pacing or Pacing(),
            clock=lambda: MONDAY_AFTERNOON,
        )
        bot = make_bot(TOKEN, self.api.base_url)
        self.channel = TelegramChannel(
            engine,
            self.repository,
            bot,
            pace=pace,
            sender=sender or Sender(global_rate=1000, chat_rate=1000, chat_burst=1000),
        )
        await self.channel.start(poll=poll, poll_timeout=1)
        return self.channel

    async def stop(self) -> None:
        if self.channel is not None:
            await self.channel.stop()
        if self.repository is not None:
            await self.repository.close()

    async def reply(self, chat_id: int, count: int = 1) -> list[str]:
        """Wait for `count` new messages to chat_id; returns all texts so far."""
        target = len(self.api.chat(chat_id)) + count
        await until(lambda: len(self.api.chat(chat_id)) >= target)
        return self.api.texts(chat_id)


@pytest.fixture
async def harness(api: BotApiStandIn, content: Content, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(api, content, tmp_path / "bot.db")
    yield h
    await h.stop()


async def tap_when(api: BotApiStandIn, chat: int, label: str) -> None:
    """Wait until the latest keyboard offers `label` (nothing newer is still arriving), tap it."""

    def offered() -> bool:
        chat_messages = api.chat(chat)
        return bool(chat_messages) and any(
            label.lower() in text.lower() for text, _ in chat_messages[-1].keyboard
        )

    await until(offered)
    api.tap_label(chat, label)


async def settle(h: Harness) -> None:
    await asyncio.sleep(0.05)
    assert h.channel is not None
    await until(lambda: not h.api.updates or True)
    await h.channel.idle()


async def test_start_registers_commands_and_greets(harness: Harness, api: BotApiStandIn) -> None:
    await harness.start()
    assert [c["command"] for c in api.commands] == [
        "start",
        "help",
        "human",
        "exit",
        "delete",
        "language",
    ]
    api.text(ALICE, "/start from-website")
    texts = await harness.reply(ALICE, 2)
    assert "I'm a support bot" in texts[0]
    keyboard = api.last(ALICE).keyboard
    assert keyboard == [("OK, let's start", "begin"), ("Leave quickly", "sys_exit")]


async def _walk_to_goodbye(h: Harness, api: BotApiStandIn, chat: int, pattern: str) -> list[str]:
    api.text(chat, "/start")
    await h.reply(chat, 2)
    api.tap_label(chat, "start")
    await h.reply(chat)
    api.text(chat, "I'm 30")
    await h.reply(chat)
    api.tap_label(chat, "England")
    await h.reply(chat)
    api.tap_label(chat, pattern)
    for _ in range(40):
        choice = toward_goodbye([label for label, _ in api.last(chat).keyboard])
        before = len(api.chat(chat))
        api.tap_label(chat, choice)
        await until(
            lambda seen=before: len(api.chat(chat)) > seen and bool(api.last(chat).keyboard)
        )
        if "Thank you for reaching out" in api.last(chat).text:
            return api.texts(chat)
    raise AssertionError("never reached the goodbye")


@pytest.mark.parametrize(
    "pattern",
    [
        "recorded me",
        "hacked me",
        "met online",
        "pretended",
        "account was hacked",
        "shared",
        "already paid",
        "Something else",
    ],
)
async def test_full_conversation_for_each_pattern(
    harness: Harness, api: BotApiStandIn, pattern: str
) -> None:
    await harness.start()
    texts = await _walk_to_goodbye(harness, api, ALICE, pattern)
    said = "\n".join(texts)
    assert "don't pay" in said.lower() and "police on 101" in said
    assert all(len(t) <= 400 for t in texts)
    # Every button press was acknowledged, so no spinner is left turning.
    assert len(api.method_calls("answerCallbackQuery")) >= 10


async def test_things_the_bot_cannot_use(harness: Harness, api: BotApiStandIn) -> None:
    await harness.start()
    api.text(ALICE, "/start")
    await harness.reply(ALICE, 2)
    for send in (api.sticker, api.location):
        send(ALICE)
        texts = await harness.reply(ALICE)
        assert "I can only read text and button taps" in texts[-1]
    api.voice(ALICE)  # no caption: nothing to read
    texts = await harness.reply(ALICE)
    assert "I can only read text and button taps" in texts[-1]
    api.tap(ALICE, "paid")  # forged: not an option on this step
    texts = await harness.reply(ALICE)
    assert "earlier step" in texts[-1]
    api.tap_label(ALICE, "start")
    texts = await harness.reply(ALICE)
    assert "how old are you" in texts[-1]
    before = len(api.chat(ALICE))
    api.edited_location(ALICE)  # an edit with no words is ignored, not answered
    # An edit with words is read like any message (not "I can only read text...").
    api.edited(ALICE, "I meant 16")
    await harness.reply(ALICE)
    await harness.channel.idle()  # type: ignore[union-attr]
    answers = api.texts(ALICE)[before:]
    assert answers and not any("I can only read text and button taps" in t for t in answers)


async def test_a_redelivered_update_has_one_effect(harness: Harness, api: BotApiStandIn) -> None:
    channel = await harness.start(poll=False)
    update = api.text(ALICE, "/start")
    import json

    raw = json.dumps(update).encode()
    await channel.accept(update["update_id"], raw)
    await until(lambda: len(api.chat(ALICE)) == 2)
    await channel.accept(update["update_id"], raw)  # Telegram retries a webhook delivery
    await asyncio.sleep(0.3)
    await channel.idle()
    assert len(api.chat(ALICE)) == 2


async def test_a_429_burst_drops_nothing_and_keeps_order(
    harness: Harness, api: BotApiStandIn
) -> None:
    await harness.start()
    api.text(ALICE, "/start")
    await harness.reply(ALICE, 2)
    api.tap_label(ALICE, "start")
    await harness.reply(ALICE)
    api.fail["sendMessage"] = [1, 1, 1]  # three 429s with retry_after=1 in a row
    api.text(ALICE, "I want to die")
    await until(
        lambda: any("carry on from where we were" in t for t in api.texts(ALICE)), timeout=15
    )
    texts = api.texts(ALICE)
    crisis = texts[texts.index(next(t for t in texts if "Your life matters" in t)) :]
    assert "Your life matters" in crisis[0] and "116 123" in crisis[1]
    assert "carry on from where we were" in crisis[-1]
    assert harness.channel is not None and harness.channel.sender.retried_429 == 3


async def test_album_of_three_screenshots_and_an_oversized_file(
    harness: Harness, api: BotApiStandIn
) -> None:
    await harness.start()
    api.text(ALICE, "/start")
    await tap_when(api, ALICE, "start")
    await until(lambda: "how old" in api.last(ALICE).text)
    api.text(ALICE, "30")
    await tap_when(api, ALICE, "England")
    await tap_when(api, ALICE, "recorded me")
    for _ in range(5):
        await tap_when(api, ALICE, "Go on")
    await tap_when(api, ALICE, "Yes, keep evidence")
    await until(lambda: any(label == "I'm finished" for label, _ in api.last(ALICE).keyboard))
    for n in range(3):
        api.photo(ALICE, png(f"shot {n}".encode()), media_group="album-1")
    await until(lambda: sum("Saved and locked" in t for t in api.texts(ALICE)) == 3)
    api.document(ALICE, "video.mp4", b"\x00" * 10, size=30 * 1024 * 1024)
    texts = await harness.reply(ALICE)
    assert "too big" in texts[-1]
    api.document(ALICE, "notes.svg", b"<svg><script>x</script></svg>")
    texts = await harness.reply(ALICE)
    assert "can't keep that kind of file" in texts[-1]
    assert harness.repository is not None and harness.channel is not None
    cid = harness.channel.engine.keyring.conversation_id(f"telegram:{ALICE}")
    items = await harness.repository.evidence_items(cid)
    assert [i.media_type for i in items] == ["image/png"] * 3
    downloads = api.method_calls("getFile")
    assert len(downloads) == 4  # the oversized file was never downloaded


async def test_quick_exit_deletes_the_chat(harness: Harness, api: BotApiStandIn) -> None:
    await harness.start()
    api.text(ALICE, "/start")
    await harness.reply(ALICE, 2)
    api.tap_label(ALICE, "start")
    await harness.reply(ALICE)
    api.text(ALICE, "I'm 17")
    await harness.reply(ALICE)
    bot_ids = {m.message_id for m in api.chat(ALICE)}
    person_ids = {u["message"]["message_id"] for u in api.updates if "message" in u} or set()
    api.tap_label(ALICE, "Leave quickly")
    await until(lambda: api.texts(ALICE)[-1] == "Chat closed.")
    deleted = {mid for chat, mid in api.deleted if chat == ALICE}
    assert bot_ids <= deleted
    assert person_ids <= deleted
    assert harness.repository is not None
    cid = harness.channel.engine.keyring.conversation_id(f"telegram:{ALICE}")  # type: ignore[union-attr]
    assert await harness.repository.load(cid) is None
    assert await harness.repository.messages_take(cid) == []
    api.text(ALICE, "/exit")  # typed, on a fresh chat: still just the neutral line
    await until(lambda: api.texts(ALICE).count("Chat closed.") == 2)


async def test_pacing_one_person_never_delays_another(harness: Harness, api: BotApiStandIn) -> None:
    await harness.start(pace=True, pacing=Pacing(base=1.0, per_char=0.0, most=1.0))
    api.text(ALICE, "/start")  # two messages with a 1-second paced gap
    await until(lambda: len(api.chat(ALICE)) == 1)
    started = time.monotonic()
    api.text(BOB, "/start")
    await until(lambda: len(api.chat(BOB)) >= 1)
    bob_first = time.monotonic() - started
    await until(lambda: len(api.chat(ALICE)) == 2)
    alice = api.chat(ALICE)
    assert alice[1].at - alice[0].at >= 0.9  # Alice's steps were paced...
    assert bob_first < 0.5  # ...and Bob did not wait for them
    assert api.method_calls("sendChatAction")  # a typing indicator during the pause


async def test_kill_and_restart_mid_reply_neither_loses_nor_repeats(
    api: BotApiStandIn, content: Content, tmp_path: Path
) -> None:
    first = Harness(api, content, tmp_path / "bot.db")
    await first.start()
    api.text(ALICE, "/start")
    await tap_when(api, ALICE, "start")
    await until(lambda: "how old" in api.last(ALICE).text)
    api.hang_after = len(api.sent) + 1  # the crisis answer's first message gets through only
    api.text(ALICE, "I want to die")
    await until(lambda: len(api.method_calls("sendMessage")) > api.hang_after)  # type: ignore[operator]
    assert first.repository is not None
    pending = await first.repository.outbox("telegram")
    assert len(pending) == 1 and pending[0].delivered == 1
    await first.stop()  # the process dies mid-reply

    api.hang_after = None
    second = Harness(api, content, tmp_path / "bot.db")
    await second.start()
    await until(lambda: "carry on from where we were" in api.last(ALICE).text)
    texts = api.texts(ALICE)
    for part in ("Your life matters", "116 123", "carry on from where we were"):
        assert sum(part in t for t in texts) == 1, part  # each exactly once
    assert second.repository is not None and second.channel is not None
    await second.channel.idle()  # the kept update re-runs: the engine knows it, no new effects
    assert await second.repository.outbox("telegram") == []
    assert await second.repository.inbox_pending("telegram") == []
    # The conversation carries on where it was.
    api.tap_label(ALICE, "25 to 34")
    await until(lambda: "Where do you live" in api.last(ALICE).text)
    await second.stop()


async def test_no_words_names_or_updates_in_logs_even_at_debug(
    harness: Harness, api: BotApiStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from bot.logsetup import configure

    configure("DEBUG")  # as production configures it, at the most verbose level
    caplog.set_level(logging.DEBUG)
    await harness.start()
    api.text(ALICE, "/start")
    await tap_when(api, ALICE, "start")
    api.text(ALICE, "my secret is zebra-crossing-9931, snap @sam.private")
    await until(lambda: "how old" in api.last(ALICE).text or "Sorry" in api.last(ALICE).text)
    await harness.channel.idle()  # type: ignore[union-attr]
    logged = caplog.text
    for needle in (
        "zebra-crossing-9931",
        "sam.private",
        '"first_name"',
        '"update_id"',
        "I'm a support bot",
        TOKEN,
    ):
        assert needle not in logged, needle


async def test_a_welsh_telegram_gets_welsh_words_menu_and_leave_button(
    harness: Harness, api: BotApiStandIn
) -> None:
    await harness.start()
    renderer = Renderer(harness.content.texts, harness.content.directory)
    welsh = {c["command"]: c["description"] for c in api.menus["cy"]}
    english = {c["command"]: c["description"] for c in api.menus[""]}
    for name in ("start", "help", "exit"):
        assert welsh[name] == renderer.text("cy", f"sys.command_{name}", Profile())
        assert english[name] == renderer.text("en-GB", f"sys.command_{name}", Profile())
    api.language_codes[ALICE] = "cy"
    api.text(ALICE, "/start")
    await harness.reply(ALICE, 2)
    assert renderer.text("cy", "intake.welcome", Profile()) in api.texts(ALICE)
    leave = renderer.text("cy", "sys.leave_quickly", Profile())
    keyboard = next(m.keyboard for m in reversed(api.chat(ALICE)) if m.keyboard)
    assert leave in [label for label, _ in keyboard]
