"""The slot lexicon: `content/<locale>/understanding.yaml` as a checked, immutable model.

Loaded once per path; a typo in the file (an unknown key, a bare `no` read by YAML as a
boolean) fails at start-up, not in the middle of someone's conversation.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, field_validator

NATION_IDS = ("england", "wales", "scotland", "northern_ireland")
PATTERN_IDS = (
    "webcam",
    "phishing",
    "fake_profile",
    "impersonation",
    "hacked",
    "shared",
    "paid",
    "other",
)

Words = list[StrictStr]


class Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agree: Words
    refuse: Words
    filler: Words
    done: Words
    prefer_not_say: Words
    number_words: dict[StrictStr, StrictInt]
    age_words: dict[StrictStr, StrictInt]
    age_lead: Words
    age_tail: Words
    not_age_tail: Words
    not_age_lead: Words
    other_person: Words
    age_correction: Words
    nations: dict[StrictStr, Words]
    outside_uk_phrases: Words
    countries: Words
    nation_adjectives: dict[StrictStr, Words]
    places: dict[StrictStr, dict[StrictStr, StrictStr]]
    not_places: Words
    place_lead: Words
    place_own_lead: Words
    place_other_lead: Words
    patterns: dict[StrictStr, dict[StrictStr, StrictInt]]
    negators: Words
    not_paid: Words
    platforms: dict[StrictStr, Words]
    platform_needs_lead: Words
    platform_lead: Words
    methods: dict[StrictStr, Words]
    deadlines: Words
    time_units: dict[StrictStr, StrictStr]
    send_more: Words
    fuzzy_targets: Words
    common_words: Words

    @field_validator("nations", "nation_adjectives", "places")
    @classmethod
    def _known_nations(cls, value: dict[str, object]) -> dict[str, object]:
        unknown = set(value) - set(NATION_IDS)
        if unknown:
            raise ValueError(f"unknown nations {sorted(unknown)}")
        return value

    @field_validator("patterns")
    @classmethod
    def _known_patterns(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        unknown = set(value) - set(PATTERN_IDS)
        if unknown:
            raise ValueError(f"unknown patterns {sorted(unknown)}")
        if value.get("other"):
            raise ValueError("'other' is chosen by the person, never guessed from keywords")
        return value


class _NoDuplicates(yaml.SafeLoader):
    """A phrase written twice with two weights would silently keep the last: refuse it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"repeated keys {repeated} at line {node.start_mark.line + 1}")
        return super().construct_mapping(node, deep=deep)


@lru_cache(maxsize=8)
def load_lexicon(path: Path) -> Lexicon:
    """The lexicon at `path`, parsed and validated once per process."""
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_NoDuplicates)  # a SafeLoader
    return Lexicon.model_validate(raw)
