"""One reader: any message (text, caption, edited text, /start words) -> everything it says.

Each part reads the same folded text once; nothing here decides what to do with it (bot.turn
does). Readers are loaded once per locale from `content/<locale>/`; a locale without its own
lexicon uses the default locale's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from bot.reading.commands import Commands
from bot.reading.crisis import CrisisReader, CrisisSignal
from bot.reading.language import Languages
from bot.reading.questions import QuestionBook
from bot.reading.slots import AgeReading, Facts, PatternReading, PlaceReading, SlotReader
from bot.reading.text import MAX_READ, MAX_WHOLE, clean, normalise

_OVERLAP = 200
QUESTION_WINDOW = 300  # characters of a long message the question ranker reads
QUESTION_WORDS = 30  # a message longer than this is a story: its question is read on its own
_LEVEL = {"none": 0, "possible": 1, "clear": 2}
# A message shorter than this that only answers the question is not kept as their story.
STORY_WORDS = 8


@dataclass(frozen=True, slots=True)
class Understanding:
    text: str = field(repr=False)  # cleaned, never in a log or repr
    folded: str = field(repr=False)
    crisis: CrisisSignal
    command: str | None = None
    agreement: bool | None = None
    done: bool = False
    age: AgeReading | None = None
    place: PlaceReading | None = None
    pattern: PatternReading | None = None
    facts: Facts = field(default_factory=Facts)
    asks: bool = False  # it reads as a question of their own
    question: str | None = None  # the knowledge-base question it matches

    @property
    def words(self) -> int:
        return self.folded.count(" ") + 1 if self.folded else 0

    @property
    def story(self) -> bool:
        """Long enough to be part of their story, worth keeping in their own words."""
        return self.words >= STORY_WORDS and not self.asks


class Reader:
    def __init__(
        self, commands: Commands, crisis: CrisisReader, slots: SlotReader, book: QuestionBook
    ) -> None:
        self.commands = commands
        self.crisis = crisis
        self.slots = slots
        self.book = book

    @classmethod
    def load(cls, folder: Path, fallback: Path | None = None) -> Reader:
        def pick(name: str) -> Path:
            path = folder / name
            return path if path.exists() or fallback is None else fallback / name

        return cls(
            Commands.load(pick("commands.yaml")),
            CrisisReader.load(pick("crisis.yaml")),
            SlotReader.load(pick("understanding.yaml")),
            QuestionBook.load(pick("questions.yaml")),
        )

    def crisis_over(self, text: str) -> CrisisSignal:
        """Crisis is read over the whole message, however long (in overlapping windows, up to
        a bound), so words at the end of a long paste are never missed."""
        if len(text) <= MAX_READ:
            return self.crisis.assess(normalise(text))
        signals = [
            self.crisis.assess(normalise(text[start : start + MAX_READ]))
            for start in range(0, min(len(text), MAX_WHOLE), MAX_READ - _OVERLAP)
        ]
        return max(signals, key=lambda signal: _LEVEL[signal.level])

    def read(self, text: str) -> Understanding:
        whole = clean(text[:MAX_WHOLE])
        text = whole[:MAX_READ]
        folded = normalise(text)
        crisis = self.crisis.assess(folded) if whole == text else self.crisis_over(whole)
        command = self.commands.command_in(text, folded)
        if command is not None or not folded:
            return Understanding(text, folded, crisis, command)
        asks = self.book.looks_like_question(folded, text)
        short = folded.count(" ") < 40
        return Understanding(
            text,
            folded,
            crisis,
            agreement=self.slots.agreement(folded) if short else None,
            done=self.slots.done(folded) if short else False,
            age=self.slots.age(folded),
            place=self.slots.place(folded),
            pattern=self.slots.pattern(folded),
            facts=self.slots.facts(folded),
            asks=asks,
            question=self.book.match(_question_part(text, folded)) if asks or short else None,
        )


def _question_part(text: str, folded: str) -> str:
    """In a long message, the sentence that asks: people tell the story first and ask last
    ("... and now he wants £200. should I pay?")."""
    if folded.count(" ") < QUESTION_WORDS:
        return folded
    mark = text.rfind("?")
    if mark < 0:
        return normalise(text[-QUESTION_WINDOW:])
    start = max(text.rfind(stop, 0, mark) for stop in ".!?\n") + 1
    return normalise(text[max(start, mark - QUESTION_WINDOW) : mark + 1])


class Readers:
    """One Reader per locale that has a lexicon; others fall back to the default locale's."""

    def __init__(self, content_dir: Path, default_locale: str) -> None:
        base = content_dir / default_locale
        self.default = Reader.load(base)
        self._by_locale = {default_locale: self.default}
        for folder in sorted(content_dir.iterdir()):
            own = any((folder / n).exists() for n in ("crisis.yaml", "understanding.yaml"))
            if folder.is_dir() and folder.name != default_locale and own:
                self._by_locale[folder.name] = Reader.load(folder, fallback=base)
        with_texts = [f.name for f in content_dir.iterdir() if (f / "texts.yaml").exists()]
        self.languages = Languages.load(content_dir / "languages.yaml", with_texts)

    def __getitem__(self, locale: str) -> Reader:
        return self._by_locale.get(locale, self.default)

    def read(self, locale: str, text: str) -> Understanding:
        """Everything a message says, read with its conversation's lexicons; crisis with every
        locale's (a person may write "dw i eisiau marw" in an English conversation). Another
        lexicon costs little on ordinary text: it stops once no word of the text is one it
        starts from."""
        own = self[locale]
        understanding = own.read(text)
        others = [reader for reader in self._by_locale.values() if reader is not own]
        if not others or understanding.crisis.level == "clear":
            return understanding
        whole = clean(text[:MAX_WHOLE])
        signals = [understanding.crisis, *(reader.crisis_over(whole) for reader in others)]
        strongest = max(signals, key=lambda signal: _LEVEL[signal.level])
        if strongest is understanding.crisis:
            return understanding
        return dataclasses.replace(understanding, crisis=strongest)

    def crisis_in(self, text: str) -> CrisisSignal:
        """The strongest signal any locale's lexicon reads: a person may write in either
        language whatever the conversation's language is."""
        whole = clean(text[:MAX_WHOLE])
        signals = [reader.crisis_over(whole) for reader in self._by_locale.values()]
        return max(signals, key=lambda signal: _LEVEL[signal.level])
