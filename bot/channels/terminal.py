"""`supportbot chat`: the whole bot in a terminal, scriptable with piped input.

Choices are numbered; a person can answer with the number, the label, or their own words.

Multi-line messages (someone pasting the blackmail message they were sent) arrive as ONE message:
- At a terminal, lines that arrive together are one message: after a line, anything more that
  comes within PASTE_WINDOW seconds (a paste arrives all at once; nobody types that fast) is
  joined to it with newlines.
- Piped input has every line available at once, so there one line is one message (scripts send
  one answer per line). To send several lines as one message, put them between two lines that
  are just three double quotes:

      \"\"\"
      I have your pictures.
      Pay 500 or I send them to everyone.
      \"\"\"

  The same block works when typing at a terminal. An unclosed block ends at the end of input.

If saving or deciding fails (a full disk, a locked database), the crisis answer is still shown if
what was sent needs it (`Engine.crisis_fallback`, no storage), with a note to send it again; the
chat carries on instead of ending with a traceback. There is nothing to retry automatically here:
the terminal keeps nothing of its own, and the person is right there to send it again.

Whatever comes in is read, never a reason to stop (tests/test_fuzz_terminal.py): input is read as
bytes and decoded here, so bytes that are not UTF-8 become U+FFFD whatever the locale (Python's
own stdin, under a strict locale, ended the chat with a UnicodeDecodeError); lone surrogates are
replaced too; a line longer than MAX_LINE_BYTES is cut there (the rest of it is dropped, never
made into further messages). What is printed is made printable: lone surrogates and control
characters (other than newline and tab) from echoed or read-back words become U+FFFD, so they can
neither stop the output nor drive the terminal.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import sys
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from pathlib import Path
from typing import BinaryIO, TextIO

from bot.engine import Engine
from bot.evidence.sniff import MAX_FILE_BYTES
from bot.model import (
    Attachment,
    Choices,
    DeliverPack,
    Effect,
    End,
    EventKind,
    Handoff,
    Inbound,
    Option,
    Pause,
    RequestUpload,
    Say,
)

CHANNEL = "terminal"
PASTE_WINDOW = 0.05  # seconds: lines arriving this close together were pasted together
BLOCK = '"""'  # a line of just this opens or closes a multi-line message
MAX_LINE_BYTES = 1024 * 1024  # a piped line is cut here (the engine reads far less anyway)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def valid(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (usually a no-op)."""
    return _SURROGATE.sub("\ufffd", text)


def printable(text: str) -> str:
    """`text` safe to print: no lone surrogate, no control character but newline and tab."""
    return _UNPRINTABLE.sub("\ufffd", text)


class TerminalChat:
    def __init__(
        self,
        engine: Engine,
        *,
        user: str = "local",
        pace: bool = True,
        out: TextIO = sys.stdout,
        echo: bool = False,
        locale: str = "",
    ) -> None:
        self.engine = engine
        self.user = user
        self.locale = locale  # the language asked for with --locale (a hint, like Telegram's)
        self.pace = pace
        self.out = out
        self.echo = echo  # print what was read, so piped transcripts read like a conversation
        self.options: tuple[Option, ...] = ()
        self.closed = False

    def _event(self, kind: EventKind, text: str = "") -> Inbound:
        return Inbound(CHANNEL, self.user, uuid.uuid4().hex, kind, valid(text), locale=self.locale)

    def to_event(self, line: str) -> Inbound:
        """A typed line: a number picks the numbered option; anything else is text."""
        stripped = line.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self.options):
            return self._event(EventKind.CHOICE, self.options[int(stripped) - 1].id)
        return self._event(EventKind.TEXT, line)

    async def start(self) -> None:
        await self.send(self._event(EventKind.START))

    async def send(self, event: Inbound) -> None:
        try:
            outcome = await self.engine.handle(event)
        except Exception as exc:
            # Nothing was saved. The crisis answer, if needed, must still reach them, at once.
            try:
                fallback = self.engine.crisis_fallback(event)
            except Exception:
                fallback = ()
            await self.show(e for e in fallback if not isinstance(e, Pause))
            self._print(
                f"   [that could not be saved ({type(exc).__name__}); please send it again]"
            )
            self.out.flush()
            return
        await self.show(outcome.effects)

    async def show(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Pause):
                if self.pace:
                    await asyncio.sleep(effect.seconds)
            elif isinstance(effect, Say):
                marker = "bot!" if effect.kind == "crisis" else "bot>"
                self._print(f"{marker} {effect.text}")
            elif isinstance(effect, Choices):
                self.options = effect.options
                for number, option in enumerate(effect.options, start=1):
                    self._print(f"   {number}) {option.label}")
            elif isinstance(effect, Handoff):
                self._print(
                    "   [a person has been asked to join; no moderator is connected to "
                    "this terminal demo]"
                )
            elif isinstance(effect, RequestUpload):
                self._print(f"bot> {effect.prompt} (type /upload PATH)")
            elif isinstance(effect, DeliverPack):
                self._print("   [type /export PATH to save your evidence pack to a file]")
            elif isinstance(effect, End):
                self.closed = True
        self.out.flush()

    def _print(self, text: str) -> None:
        print(printable(text), file=self.out)

    async def run(self, lines: TextIO) -> None:
        await self.start()
        interactive = lines.isatty()
        chunks = pasted(lines.fileno()) if interactive else piped(lines)
        messages = blocks(chunks)
        try:
            while not self.closed:
                if interactive:
                    self.out.write("you> ")
                    self.out.flush()
                message = await anext(messages, None)
                if message is None:  # end of input
                    break
                if self.echo and not interactive:
                    self._print(f"you> {message.rstrip()}")
                await self.line(message)
        finally:
            await messages.aclose()

    async def line(self, text: str) -> None:
        """One typed line: `/upload PATH` and `/export PATH` are this channel's own commands."""
        command, _, argument = text.strip().partition(" ")
        if command == "/upload" and argument:
            await self.upload(Path(argument.strip()).expanduser())
        elif command == "/export" and argument:
            await self.export(Path(argument.strip()).expanduser())
        else:
            await self.send(self.to_event(text))

    async def upload(self, path: Path) -> None:
        try:
            with path.open("rb") as handle:
                # One byte more than the limit is enough to know it is too big.
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError:
            self._print(f"   [cannot read {path}]")
            return
        attachment = Attachment(valid(path.name), data)
        event = Inbound(
            CHANNEL, self.user, uuid.uuid4().hex, EventKind.UPLOAD, "", "", attachment, self.locale
        )
        await self.send(event)

    async def export(self, path: Path) -> None:
        pack = await self.engine.export_pack(
            self.engine.keyring.conversation_id(f"{CHANNEL}:{self.user}")
        )
        if pack is None:
            self._print("   [nothing to export yet]")
            return
        path.write_bytes(pack)
        os.chmod(path, 0o600)
        self._print(
            f"   [your evidence pack is in {path}; check it with: "
            f"supportbot evidence verify {path}]"
        )


# --- reading messages --------------------------------------------------------------------------


async def piped(lines: TextIO) -> AsyncIterator[str]:
    """One line at a time (without its newline), for piped input: a line is a message. Read as
    bytes when the stream has them (a real stdin), so decoding is ours (see the module doc)."""
    loop = asyncio.get_running_loop()
    raw = getattr(lines, "buffer", None)
    while True:
        if raw is not None:
            line = await loop.run_in_executor(None, _read_line, raw)
        else:
            line = valid(await loop.run_in_executor(None, lines.readline, MAX_LINE_BYTES))
        if not line:
            return
        yield line.rstrip("\n")


def _read_line(raw: BinaryIO) -> str:
    """One line of bytes, decoded (invalid UTF-8 replaced), cut at MAX_LINE_BYTES; "" at the
    end of input."""
    data = raw.readline(MAX_LINE_BYTES)
    if data and not data.endswith(b"\n"):
        # Too long (or the last line, without its newline): what is left of it is dropped.
        while (rest := raw.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
    return data.decode("utf-8", errors="replace")


async def pasted(fd: int, window: float = PASTE_WINDOW) -> AsyncIterator[str]:
    """Lines read from `fd` (a terminal), those arriving within `window` seconds of each other
    joined into one message. Read with the event loop's reader, not a thread: a thread blocked
    on stdin would outlive an `exit` and can trip the interpreter's shutdown."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
        chunks.put_nowait(data)

    loop.add_reader(fd, readable)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffered = ""
    ended = False
    try:
        while not ended:
            # Wait for a whole line, then for whatever else arrives within the window.
            while "\n" not in buffered and not ended:
                data = await chunks.get()
                ended = not data
                buffered += decoder.decode(data, final=ended)
            while not ended:
                try:
                    data = await asyncio.wait_for(chunks.get(), window)
                except TimeoutError:
                    break
                ended = not data
                buffered += decoder.decode(data, final=ended)
            if ended:
                message, buffered = buffered, ""
            else:
                message, _, buffered = buffered.rpartition("\n")
            if message or not ended:
                yield message.removesuffix("\n")
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(fd)


async def blocks(chunks: AsyncIterator[str]) -> AsyncGenerator[str, None]:
    """Messages from chunks: a chunk that is just \"\"\" opens a block, and everything up to
    the next such chunk is one message, joined with newlines."""
    block: list[str] | None = None
    async for chunk in chunks:
        if chunk.strip() == BLOCK:
            if block is None:
                block = []
            else:
                yield "\n".join(block)
                block = None
        elif block is not None:
            block.append(chunk)
        else:
            yield chunk
    if block:  # the input ended inside a block: what was there is still a message
        yield "\n".join(block)
