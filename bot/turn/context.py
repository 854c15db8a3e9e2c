"""What a turn may use: a narrow view of the engine (no storage, no channels, no clock)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.flowmachine import FlowBook
from bot.presenter import Presenter
from bot.reading.reader import Readers
from bot.texts import Renderer


@dataclass(frozen=True)
class TurnContext:
    flows: FlowBook
    renderer: Renderer
    presenter: Presenter
    readers: Readers
    staffed: Callable[[], bool]  # is a person from the team online now (the console says)
    pace: Callable[[str], float]  # seconds of "typing…" before a message of this length
    max_text_chars: int
    default_locale: str
    welcome_locales: tuple[str, ...] = ()  # a bilingual welcome, first one leading
