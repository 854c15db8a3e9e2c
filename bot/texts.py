"""Texts per locale from `content/<locale>/texts.yaml` and `content/<locale>/texts/*.yaml`.

The main file holds the flows' words; the folder holds one file per area (answers the engine
gives outside the flows, support lists, ...) so areas can be edited apart. A key may be defined
once per locale: a second definition is an error, never a silent override.

A text is a string, or a mapping from predicate names (see bot.predicates) to strings with a
`default`, so one step can speak differently to a young person or someone outside the UK.
Phone numbers and addresses are never typed into texts: `{samaritans.phone}` is filled in from
the support directory, which carries each fact's source and check date.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from bot.directory import Directory
from bot.model import Profile
from bot.predicates import holds

Entry = str | dict[str, str]


class Texts:
    def __init__(self, catalogues: dict[str, dict[str, Entry]], default_locale: str) -> None:
        self.catalogues = catalogues
        self.default_locale = default_locale

    @classmethod
    def load(cls, content_dir: Path, default_locale: str) -> Texts:
        catalogues: dict[str, dict[str, Entry]] = {}
        for path in sorted(content_dir.glob("*/texts.yaml")):
            catalogue: dict[str, Entry] = {}
            for part in [path, *sorted((path.parent / "texts").glob("*.yaml"))]:
                loaded = yaml.safe_load(part.read_text(encoding="utf-8")) or {}
                twice = sorted(set(loaded) & set(catalogue))
                if twice:
                    raise ValueError(f"{part}: keys defined twice in {path.parent.name}: {twice}")
                catalogue.update(loaded)
            catalogues[path.parent.name] = catalogue
        if default_locale not in catalogues:
            raise ValueError(f"no texts for the default locale {default_locale}")
        return cls(catalogues, default_locale)

    @property
    def locales(self) -> list[str]:
        return list(self.catalogues)

    def entry(self, locale: str, key: str) -> Entry:
        catalogue = self.catalogues.get(locale, {})
        if key in catalogue:
            return catalogue[key]
        # A locale that lacks a key falls back rather than showing a raw key (validate flags it).
        return self.catalogues[self.default_locale][key]

    def has(self, key: str) -> bool:
        return key in self.catalogues[self.default_locale]


def pick_variant(entry: Entry, profile: Profile) -> str:
    if isinstance(entry, str):
        return entry
    for condition, text in entry.items():
        if condition != "default" and holds(condition, profile):
            return text
    return entry["default"]


class _Contacts(SimpleNamespace):
    pass


class _Values(dict[str, Any]):
    """Per-call values first, then directory facts (without copying the facts every call)."""

    def __init__(self, values: dict[str, Any], facts: dict[str, _Contacts]) -> None:
        super().__init__(values)
        self.facts = facts

    def __missing__(self, key: str) -> _Contacts:
        return self.facts[key]


class Renderer:
    """Turns text keys into finished sentences for one locale and one person."""

    def __init__(self, texts: Texts, directory: Directory) -> None:
        self.texts = texts
        self.directory = directory
        self._facts = {
            service_id: _Contacts(**service.contacts)
            for service_id, service in directory.services.items()
        }

    def text(self, locale: str, key: str, profile: Profile, **values: Any) -> str:
        template = pick_variant(self.texts.entry(locale, key), profile)
        if "{" not in template:
            return template
        return template.format_map(_Values(values, self._facts))
