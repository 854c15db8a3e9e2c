"""`supportbot chat`: the whole bot in a terminal, scriptable with piped input.

Choices are numbered; a person can answer with the number, the label, or their own words.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

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


class TerminalChat:
    def __init__(
        self,
        engine: Engine,
        *,
        user: str = "local",
        pace: bool = True,
        out: TextIO = sys.stdout,
        echo: bool = False,
    ) -> None:
        self.engine = engine
        self.user = user
        self.pace = pace
        self.out = out
        self.echo = echo  # print what was read, so piped transcripts read like a conversation
        self.options: tuple[Option, ...] = ()
        self.closed = False

    def _event(self, kind: EventKind, text: str = "") -> Inbound:
        return Inbound(CHANNEL, self.user, uuid.uuid4().hex, kind, text)

    def to_event(self, line: str) -> Inbound:
        """A typed line: a number picks the numbered option; anything else is text."""
        stripped = line.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self.options):
            return self._event(EventKind.CHOICE, self.options[int(stripped) - 1].id)
        return self._event(EventKind.TEXT, line)

    async def start(self) -> None:
        await self.send(self._event(EventKind.START))

    async def send(self, event: Inbound) -> None:
        outcome = await self.engine.handle(event)
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
        print(text, file=self.out)

    async def run(self, lines: TextIO) -> None:
        await self.start()
        interactive = lines.isatty()
        loop = asyncio.get_running_loop()
        while not self.closed:
            if interactive:
                self.out.write("you> ")
                self.out.flush()
            line = await loop.run_in_executor(None, lines.readline)
            if not line:  # end of input
                break
            if self.echo and not interactive:
                self._print(f"you> {line.rstrip()}")
            await self.line(line.rstrip("\n"))

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
        attachment = Attachment(path.name, data)
        event = Inbound(CHANNEL, self.user, uuid.uuid4().hex, EventKind.UPLOAD, "", "", attachment)
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
