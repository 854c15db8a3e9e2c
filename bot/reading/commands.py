"""Commands that work in any state, from `content/<locale>/commands.yaml`."""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from bot.reading.text import normalise, words_pattern


class _AskPerson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verbs: list[str]
    joins: list[str]
    who: list[str]


class _CommandsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commands: dict[str, list[str]]
    ask_person: _AskPerson
    thanks: list[str]
    greetings: list[str]
    crisis_no: list[str]
    help_me: list[str]
    topic_words: list[str]
    feelings: list[str]


class Commands:
    def __init__(self, spec: _CommandsFile) -> None:
        self._of: dict[str, str] = {}
        for command, phrases in spec.commands.items():
            for phrase in phrases:
                key = phrase.casefold() if phrase.startswith(("/", "?")) else normalise(phrase)
                self._of[key] = command
        ask = spec.ask_person
        # Every "verb join [a|an|some] who" as literal phrases: a trie of literals, linear time.
        phrases = [
            f"{verb} {join} {article}{who}"
            for verb, join, article, who in itertools.product(
                ask.verbs, ask.joins, ("", "a ", "an ", "some "), ask.who
            )
        ]
        self.thanks = frozenset(normalise(phrase) for phrase in spec.thanks)
        self.greetings = frozenset(normalise(phrase) for phrase in spec.greetings)
        self.crisis_no = frozenset(normalise(phrase) for phrase in spec.crisis_no)
        self.help_me = frozenset(normalise(phrase) for phrase in spec.help_me)
        self.topic_words = frozenset(spec.topic_words)
        self.feelings = frozenset(normalise(phrase) for phrase in spec.feelings)
        self._ask_person = words_pattern(*phrases, *(w for w in ask.who if " " in w))

    @classmethod
    def load(cls, path: Path) -> Commands:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(_CommandsFile.model_validate(raw))

    def on_topic(self, folded: str) -> bool:
        """Whether a short message is about what happened to them (whole words only)."""
        return any(word.startswith(tuple(self.topic_words)) for word in folded[:500].split())

    def command_in(self, text: str, folded: str) -> str | None:
        """The command a whole message is (e.g. 'exit', '/help'), or an explicit ask for a person
        anywhere in it."""
        stripped = text.strip().casefold()
        if stripped.startswith("/"):
            return self._of.get(stripped.split()[0].split("@")[0])
        if stripped == "?":
            return "help"
        if folded in self._of:
            return self._of[folded]
        if len(folded) < 200 and self._ask_person.search(folded):
            return "human"
        return None
