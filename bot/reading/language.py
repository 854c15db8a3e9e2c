"""Which language a person wants: asked for by name ("Cymraeg", "English"), hinted by their
channel (Telegram's language_code, the widget's data-locale, `chat --locale`), or noticed when
they simply write in it.

Noticing is a count of everyday words from content/languages.yaml, not a statistical model:
lingua's full English+Welsh models cost ~86 MB (more than half the service's memory budget) and
its 7 MB low-accuracy mode misreads short mixed messages ("I'm 15 from Abertawe" as Welsh, 0.97).
A word list is tiny, is data a locale brings with it, and is measured on the evaluation sets
(bench/understanding.py). Words two languages share ("a", "i", "hi") count for neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, StrictStr

from bot.reading.text import normalise

# Fewer words than this is too little to tell a language by ("ok", "hi 15", "Abertawe").
MIN_WORDS = 3
# Of the words either list knows, at least this share must be the language's.
MIN_SHARE = 0.7
WINDOW_CHARS = 400  # the start of a message says which language it is in


class _LanguageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr  # in the language itself: what its button says
    hints: list[StrictStr]  # language tags a channel may send ("cy", "en")
    switch: list[StrictStr]  # a whole message asking for it
    words: list[StrictStr]


class _LanguagesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    languages: dict[StrictStr, _LanguageSpec]


@dataclass(frozen=True)
class Languages:
    """The languages this deployment offers (listed in languages.yaml and with texts)."""

    names: dict[str, str]
    _hints: dict[str, str]
    _switch: dict[str, str]
    _words: dict[str, frozenset[str]]

    @classmethod
    def load(cls, path: Path, offered: Iterable[str]) -> Languages:
        offered = set(offered)
        if not path.exists():
            return cls({}, {}, {}, {})
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        specs = {
            locale: spec
            for locale, spec in _LanguagesFile.model_validate(raw).languages.items()
            if locale in offered
        }
        words = {locale: {normalise(w) for w in spec.words} for locale, spec in specs.items()}
        shared = {w for a in words for b in words if a != b for w in words[a] & words[b]}
        return cls(
            names={locale: spec.name for locale, spec in specs.items()},
            _hints={
                hint.casefold(): locale
                for locale, spec in specs.items()
                for hint in (locale, *spec.hints)
            },
            _switch={normalise(s): locale for locale, spec in specs.items() for s in spec.switch},
            _words={locale: frozenset(w - shared) for locale, w in words.items()},
        )

    @property
    def offered(self) -> tuple[str, ...]:
        return tuple(self.names)

    def code_of(self, locale: str) -> str | None:
        """The two-letter language code a platform knows this locale by ("cy", "en")."""
        codes = [hint for hint, loc in self._hints.items() if loc == locale and len(hint) == 2]
        return codes[0] if codes else None

    def from_hint(self, hint: str) -> str | None:
        """The offered locale a channel's language tag means ("cy", "cy-GB", "en-US"), if any."""
        tag = hint.strip().casefold().replace("_", "-")[:35]
        if not tag:
            return None
        return self._hints.get(tag) or self._hints.get(tag.split("-")[0])

    def asked_for(self, folded: str) -> str | None:
        """The locale a whole message asks for by name ("Cymraeg", "in English please")."""
        if len(folded) > 40:
            return None
        return self._switch.get(folded)

    def written_in(self, folded: str) -> str | None:
        """The offered locale a message is clearly written in, or None when unsure."""
        if len(self._words) < 2:
            return None
        tokens = folded[:WINDOW_CHARS].split()
        if len(tokens) < MIN_WORDS:
            return None
        counts = {locale: sum(t in words for t in tokens) for locale, words in self._words.items()}
        best = max(counts, key=lambda locale: counts[locale])
        known = sum(counts.values())
        if counts[best] < 2 or counts[best] < MIN_SHARE * known:
            return None
        return best
