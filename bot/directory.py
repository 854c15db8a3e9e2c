"""The support directory: who each service is for, when it is open, and how to show it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

NATIONS = ("england", "wales", "scotland", "northern_ireland", "outside_uk")
UK = NATIONS[:4]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Kind = Literal["emergency", "police", "report", "crisis", "support", "removal", "info"]


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
    ) -> list[tuple[Service, bool | None]]:
        """Services of these kinds that fit the person, each with whether it is open now."""
        local = self.local(now)
        chosen = []
        for service in self.services.values():
            if service.kind not in kinds or not service.fits(age, age_band, nation):
                continue
            is_open = service.open_at(local)
            if open_only and is_open is False:
                continue
            chosen.append((service, is_open))
        # Keep the data file's order within each kind, kinds in the order asked for.
        return sorted(chosen, key=lambda pair: kinds.index(pair[0].kind))
