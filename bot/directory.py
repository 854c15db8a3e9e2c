"""The support directory: who each service is for, when it is open, and how to show it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NATIONS = ("england", "wales", "scotland", "northern_ireland", "outside_uk")
UK = NATIONS[:4]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Kind = Literal["emergency", "police", "report", "crisis", "support", "removal", "info"]
# Who a service is for: the person being blackmailed ("victim"), or people worried about someone
# else ("others", e.g. the NSPCC helpline for adults worried about a child). The bot talks to the
# person themselves, so "others" services are never put in front of them.
Audience = Literal["victim", "others"]


def _expand_days(spec: str) -> tuple[int, ...]:
    if "-" in spec:
        first, last = (DAYS.index(part) for part in spec.split("-"))
        return tuple(range(first, last + 1))
    return (DAYS.index(spec),)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class Shift(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    days: str
    open: str
    close: str

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: str) -> str:
        _expand_days(value)  # raises ValueError on a bad day name
        return value

    def covers(self, weekday: int, minute: int) -> bool:
        start, end = _minutes(self.open), _minutes(self.close)
        days = _expand_days(self.days)
        if end > start:
            return weekday in days and start <= minute < end
        # The shift runs past midnight: the evening on its own day, the small hours on the next.
        return (weekday in days and minute >= start) or ((weekday - 1) % 7 in days and minute < end)


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    kind: Kind
    contacts: dict[str, str]
    nations: tuple[str, ...]
    hours: Literal["always", "online", "unknown"] | tuple[Shift, ...]
    sources: tuple[str, ...] = Field(min_length=1)
    checked: dt.date
    confidence: Literal["V", "V-old", "3P", "U"]
    min_age: int | None = None
    max_age: int | None = None
    closed_bank_holidays: bool = False
    audience: Audience = "victim"
    # Set for a line that serves one language only (e.g. "cy"): not ranked as tailored to someone
    # using the bot in another language.
    language: str | None = None
    # Set for a service of one country outside the UK (e.g. "US"): we never ask which country,
    # so it is listed after the services that work anywhere.
    country: str | None = None
    # False where the reference marks the hours unverified or sources conflict about them.
    hours_sure: bool = True
    verify: bool = False
    verify_note: str = ""

    @field_validator("nations", mode="before")
    @classmethod
    def _expand_uk(cls, value: list[str]) -> tuple[str, ...]:
        expanded: list[str] = []
        for nation in value:
            expanded.extend(UK if nation == "uk" else (nation,))
        unknown = set(expanded) - set(NATIONS)
        if unknown:
            raise ValueError(f"unknown nations {sorted(unknown)}")
        return tuple(expanded)

    def fits(self, age: int | None, age_band: str | None, nation: str | None) -> bool:
        if nation is None:
            # Not asked yet: only services that every part of the UK can use.
            if not set(UK) <= set(self.nations):
                return False
        elif nation not in self.nations:
            return False
        low, high = _age_range(age, age_band)
        # Show a service only if everyone the person could be (by what we know) may use it.
        if self.min_age is not None and low < self.min_age:
            return False
        return not (self.max_age is not None and high > self.max_age)

    @model_validator(mode="after")
    def _unsure_is_flagged(self) -> Service:
        # Whoever re-checks the data before deploying works from `verify: true` entries.
        if not self.hours_sure and not (self.verify and self.verify_note):
            raise ValueError(f"{self.id}: hours_sure: false needs verify: true and a verify_note")
        return self

    @property
    def hours_known(self) -> bool:
        """Whether the hours may be shown as fact. Hours from an old (V-old) or third-party (3P)
        source, or marked unsure, are only a best guess: they order the list, but the person is
        told to check the opening hours rather than read "open now" from us."""
        return self.hours_sure and self.confidence == "V"

    def tailored(self, nation: str | None, locale: str) -> int:
        """How closely the service is made for this person's group (0 = for everyone): one point
        for an age limit, one for serving only their nation of the UK, two for speaking their
        language (the Welsh line, for someone talking to the bot in Welsh). Called only for
        services that `fits` the person, so any limit is one the person meets."""
        if self.language is not None and not locale.lower().startswith(self.language):
            return -1  # e.g. the Welsh-language line for someone using the bot in English
        if self.country is not None:
            return -1  # e.g. a US line for someone who said only "outside the UK"
        points = 2 if self.language is not None else 0
        points += int(self.min_age is not None or self.max_age is not None)
        # Made for one part of the UK (Meic, Breathing Space), not just "not everywhere".
        if nation in UK and len(set(UK) & set(self.nations)) == 1:
            points += 1
        return points

    def open_at(self, when: dt.datetime) -> bool | None:
        """True/False for services with set hours; None where "open" means nothing or is unknown."""
        if self.hours == "always":
            return True
        if self.hours in ("online", "unknown"):
            return None
        assert not isinstance(self.hours, str)
        minute = when.hour * 60 + when.minute
        return any(shift.covers(when.weekday(), minute) for shift in self.hours)


# Age bands as the bot offers them; "unknown" (prefer not to say) is treated as possibly young.
AGE_BANDS: dict[str, tuple[int, int]] = {
    "under_13": (10, 12),
    "13_17": (13, 17),
    "18_24": (18, 24),
    "25_34": (25, 34),
    "35_plus": (35, 120),
    "unknown": (13, 17),
}


def band_for_age(age: int) -> str:
    for band, (low, high) in AGE_BANDS.items():
        if band != "unknown" and low <= age <= high:
            return band
    return "under_13" if age < 13 else "35_plus"


def _age_range(age: int | None, age_band: str | None) -> tuple[int, int]:
    if age is not None:
        return age, age
    return AGE_BANDS.get(age_band or "unknown", AGE_BANDS["unknown"])


class Directory:
    def __init__(self, services: list[Service], timezone: str = "Europe/London") -> None:
        self.services = {service.id: service for service in services}
        self.zone = ZoneInfo(timezone)

    @classmethod
    def load(cls, path: Path, timezone: str = "Europe/London") -> Directory:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls([Service.model_validate(item) for item in raw["services"]], timezone)

    def local(self, now: dt.datetime) -> dt.datetime:
        return now.astimezone(self.zone)

    def select(
        self,
        kinds: tuple[str, ...],
        *,
        age: int | None,
        age_band: str | None,
        nation: str | None,
        now: dt.datetime,
        open_only: bool = False,
        audience: Audience = "victim",
    ) -> list[tuple[Service, bool | None]]:
        """Services of these kinds that fit the person, each with whether it is open now."""
        local = self.local(now)
        chosen = []
        for service in self.services.values():
            if service.kind not in kinds or service.audience != audience:
                continue
            if not service.fits(age, age_band, nation):
                continue
            is_open = service.open_at(local)
            if open_only and is_open is False:
                continue
            chosen.append((service, is_open))
        # Keep the data file's order within each kind, kinds in the order asked for.
        return sorted(chosen, key=lambda pair: kinds.index(pair[0].kind))

    def ranked(
        self,
        kinds: tuple[str, ...],
        *,
        age: int | None,
        age_band: str | None,
        nation: str | None,
        now: dt.datetime,
        locale: str,
        urgent: bool,
        open_only: bool = False,
    ) -> list[tuple[Service, bool | None]]:
        """`select`, best first for this person at this hour.

        1. What they can use now: open now or a website (always usable) first; hours unknown next;
           closed (by the hours we hold, even a best guess) last.
        2. Fit: a line made for their age or their part of the UK (Childline for under-19s,
           PAPYRUS for under-35s, Meic in Wales, Breathing Space in Scotland) scores 2 for each
           (`Service.tailored`); a line open 24/7 by a verified source scores 1, or 2 when
           `urgent` (risk of harm), so verified 24/7 crisis lines lead a crisis list, level with
           tailored lines.
        3. Ties: hours we hold as fact before a best guess, a guess from an old source before
           hours that are unverified or disputed (PAPYRUS), then the data file's order
           (content/directory.yaml lists the usual first choice first). So a crisis list at
           night is Samaritans and Shout (by text) plus the line made for them, if open.
        """
        chosen = self.select(
            kinds,
            age=age,
            age_band=age_band,
            nation=nation,
            now=now,
            open_only=open_only,
        )
        order = {service_id: index for index, service_id in enumerate(self.services)}

        def key(pair: tuple[Service, bool | None]) -> tuple[int, int, bool, bool, int]:
            service, is_open = pair
            usable = 2 if is_open is False else 1 if service.hours == "unknown" else 0
            always = service.hours == "always" and service.hours_known
            score = 2 * service.tailored(nation, locale) + (2 if urgent else 1) * always
            sure = service.hours == "online" or service.hours_known
            return usable, -score, not sure, not service.hours_sure, order[service.id]

        return sorted(chosen, key=key)
