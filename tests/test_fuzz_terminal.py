"""Property-based fuzzing of the terminal edge, `supportbot chat` (issue 11): any line (any
Unicode, lone surrogates, control characters, very long lines, multi-line pastes, bytes that are
not UTF-8, the input ending inside a block or mid-line) is answered kindly, never with a
traceback; what is printed is always printable (also to a terminal whose locale makes Python's
streams strict); and input with nothing to read in it (no letter, no digit) leaves the
conversation where it was.

Three levels: lines into `TerminalChat.line`; byte scripts through `TerminalChat.run` over strict
UTF-8 streams; byte scripts piped into `supportbot chat` itself (forks of a warm parent process,
tests/auxil/warm.py, so each example costs milliseconds, not a cold start). And lines pasted at
a terminal (`pasted`, over a pipe) lose nothing.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.terminal import TerminalChat, pasted
from bot.config import Settings
from bot.crypto import Keyring, load_or_create_secret
from bot.engine import Content, Engine
from bot.model import Profile
from bot.storage.memory import MemoryRepository
from bot.storage.sqlite import SqliteRepository
from tests.auxil.chat import MONDAY_AFTERNOON
from tests.auxil.warm import Warm

ASK_AGE = ("intake", "ask_age")
ODD = ["\ud800", "\udfff", "\x00", "\x1b[2J", "\x1b]0;title\x07", "\r", "\u202e", "\ufeff", "🏳️‍🌈"]
# Text with nothing to read in it: no letter, no digit (lone surrogates, controls, marks,
# punctuation, symbols, spaces), sometimes very long.
nothing_to_read = st.one_of(
    st.text(st.characters(blacklist_categories=("L", "N")), min_size=1, max_size=40),
    st.lists(st.sampled_from(ODD), min_size=1, max_size=5).map("".join),
    st.tuples(st.sampled_from(["!", "\x00", "\ud83d", "-", " \t"]), st.integers(1, 20_000)).map(
        lambda pair: pair[0] * pair[1]
    ),
)
any_line = st.one_of(
    nothing_to_read,
    st.text(st.characters(blacklist_categories=()), max_size=200),
    st.text(max_size=40).map(lambda words: words * 500),  # long
    st.lists(st.text(max_size=30), min_size=2, max_size=6).map("\n".join),  # a paste
)
# Bytes with nothing to read in them, whatever their chunks decode to: ASCII controls,
# punctuation and spaces (no newline), bytes that never start a character (0x80-0xBF
# continuation bytes alone, 0xF8-0xFF) and UTF-16 surrogates as UTF-8 (not valid UTF-8).
_NO_LETTERS = bytes(
    [
        *range(0x00, 0x0A),
        *range(0x0B, 0x30),
        *range(0x3A, 0x41),
        *range(0x5B, 0x61),
        *range(0x7B, 0xC0),
        *range(0xF8, 0x100),
    ]
)
garbage_line = st.one_of(
    st.binary(max_size=60).map(lambda data: bytes(_NO_LETTERS[b % len(_NO_LETTERS)] for b in data)),
    st.sampled_from([b"\xed\xa0\x80", b"\xef\xbf", b"\x1b[31m", b'"""', b"\r", b"\xff" * 300_000]),
)
garbage_script = st.tuples(
    st.lists(garbage_line, min_size=1, max_size=8), st.booleans(), st.booleans()
).map(
    # Lines, then maybe a block that the input ends inside, maybe no newline at the very end.
    lambda parts: (
        b"\n".join(parts[0])
        + (b'\n"""\n' + b"\xfe\x01\n" if parts[1] else b"")
        + (b"" if parts[2] else b"\n")
    )
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


def _engine(content: Content) -> Engine:
    return Engine(content, MemoryRepository(), Keyring(b"fuzz"), clock=lambda: MONDAY_AFTERNOON)


def _strict_terminal() -> tuple[io.TextIOWrapper, io.BytesIO]:
    """Output as a terminal under a strict UTF-8 locale: unencodable text raises."""
    raw = io.BytesIO()
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True), raw


def _kind_answers(engine: Engine) -> set[str]:
    """What the bot may say to input it cannot read, at the age question."""
    keys = [
        "sys.reask",
        "sys.reask_twice",
        "sys.empty",
        "sys.too_long",
        "sys.thanks_then",
        "sys.help",
    ]
    return {engine.renderer.text("en-GB", key, Profile()) for key in keys}


async def _state(engine: Engine) -> tuple[str, str] | None:
    conversation = await engine.repository.load(engine.keyring.conversation_id("terminal:local"))
    return (conversation.flow, conversation.state) if conversation else None


async def _at_ask_age(engine: Engine) -> tuple[TerminalChat, io.BytesIO]:
    out, raw = _strict_terminal()
    chat = TerminalChat(engine, pace=False, out=out)
    await chat.start()
    await chat.line("1")  # "OK, let's start"
    assert await _state(engine) == ASK_AGE
    raw.seek(0)
    raw.truncate()
    return chat, raw


def _said(printed: str) -> list[str]:
    """The bot's messages in printed output (a message runs on until an option or the next)."""
    messages: list[str] = []
    for line in printed.splitlines():
        if line.startswith(("bot> ", "bot! ")):
            messages.append(line[5:])
        elif messages and not line.startswith(("   ", "you> ")):
            messages[-1] += "\n" + line
    return messages


def _answered_each(printed: str) -> bool:
    """Echoed input ("you> ...") is always followed by something the bot said."""
    blocks = printed.split("\nyou> ")[1:]
    return all(("\nbot> " in block or "\nbot! " in block) for block in blocks)


@FUZZ
@given(line=any_line)
def test_any_message_is_answered_and_printed_safely(content: Content, line: str) -> None:
    """Typed as one message (a \"\"\" block), echoed back: answered, and printed without a
    lone surrogate or a control character even to a strict terminal."""

    async def run() -> None:
        engine = _engine(content)
        script = f'1\n"""\n{line}\n"""\n'
        out, raw = _strict_terminal()
        await TerminalChat(engine, pace=False, out=out, echo=True).run(io.StringIO(script))
        printed = raw.getvalue().decode("utf-8")  # strict: it was printable
        assert _answered_each(printed), printed
        assert not _CONTROLS.search(printed)
        assert "Traceback" not in printed

    asyncio.run(run())


@FUZZ
@given(line=nothing_to_read)
def test_a_line_with_nothing_to_read_leaves_the_conversation_where_it_was(
    content: Content, line: str
) -> None:
    async def run() -> None:
        engine = _engine(content)
        chat, raw = await _at_ask_age(engine)
        await chat.line(line)
        assert await _state(engine) == ASK_AGE
        cid = engine.keyring.conversation_id("terminal:local")
        assert await engine.repository.evidence_items(cid) == []  # nothing kept from it
        said = _said(raw.getvalue().decode("utf-8"))
        assert said and said[0] in _kind_answers(engine)

    asyncio.run(run())


@FUZZ
@given(script=garbage_script)
def test_piped_bytes_of_any_kind_are_read_under_a_strict_locale(
    content: Content, script: bytes
) -> None:
    """Piped input read through strict UTF-8 streams (as Python sets them up under a strict
    locale): bytes that are not UTF-8 are replaced, the chat never stops with a traceback."""

    async def run() -> None:
        engine = _engine(content)
        stdin = io.TextIOWrapper(io.BytesIO(b"1\n" + script), encoding="utf-8", errors="strict")
        out, raw = _strict_terminal()
        await TerminalChat(engine, pace=False, out=out, echo=True).run(stdin)
        printed = raw.getvalue().decode("utf-8")
        assert _answered_each(printed), printed
        assert await _state(engine) == ASK_AGE

    asyncio.run(run())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_a_paste_at_a_terminal_loses_nothing(data: bytes, cuts: list[int]) -> None:
    """Bytes arriving at a terminal in any chunks (split inside characters too) come out as
    messages holding every character (bytes that are not UTF-8 as U+FFFD), then the input ends."""

    async def run() -> list[str]:
        read, write = os.pipe()
        messages: list[str] = []
        try:
            stream = pasted(read, window=0.01)
            start = 0
            for cut in [*sorted(cuts), len(data)]:
                os.write(write, data[start:cut] if cut > start else b"")
                start = max(start, cut)
            os.close(write)
            write = -1
            async with asyncio.timeout(20):
                messages = [message async for message in stream]
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)
        return messages

    messages = asyncio.run(run())
    decoded = data.decode("utf-8", errors="replace")
    assert "".join(messages).replace("\n", "") == decoded.replace("\n", "")


# --- `supportbot chat` itself --------------------------------------------------------------------


@pytest.fixture(scope="module")
def warm() -> Iterator[Warm]:
    parent = Warm()
    yield parent
    parent.close()


def _chat(warm: Warm, folder: Path, script: bytes) -> tuple[int, str, str]:
    """`supportbot chat --no-delay --echo` with `script` piped in: status, stdout, stderr."""
    stdin, out, err, status = (folder / name for name in ("in", "out", "err", "status"))
    stdin.write_bytes(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORTBOT_", "TELEGRAM_"))}
    env["SUPPORTBOT_DATA_DIR"] = str(folder / "data")
    child = warm.spawn(
        ["chat", "--no-delay", "--echo"], env, out, stdin=stdin, err=err, status=status
    )
    child.wait(60)
    printed = out.read_bytes().decode("utf-8", errors="backslashreplace")
    return int(status.read_text()), printed, err.read_text(errors="backslashreplace")


async def _stored_state(data: Path) -> tuple[str, str] | None:
    keyring = Keyring(load_or_create_secret("", data))
    repository = SqliteRepository(Settings(data_dir=data).database_path(), keyring)
    await repository.open()
    try:
        conversation = await repository.load(keyring.conversation_id("terminal:local"))
    finally:
        await repository.close()
    return (conversation.flow, conversation.state) if conversation else None


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(script=garbage_script)
def test_supportbot_chat_answers_any_bytes_and_keeps_its_place(
    content: Content, warm: Warm, script: bytes
) -> None:
    welcome = _engine(content).renderer.text("en-GB", "intake.welcome", Profile())
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        status, printed, errors = _chat(warm, folder, b"1\n" + script)
        assert (status, errors) == (0, ""), errors
        assert "Traceback" not in printed
        assert printed.startswith(f"bot> {welcome}")
        assert _answered_each(printed), printed
        assert asyncio.run(_stored_state(folder / "data")) == ASK_AGE
