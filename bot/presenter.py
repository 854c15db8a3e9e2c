"""Turning directory entries into short lines a frightened person can act on.

A support list is short: the few services that fit the person's age, nation and need and are
open now (`Directory.ranked`), at most `limit` (3 by default). The rest are offered on request
("more lines"): `Listing.left_out` says how many were held back so the engine can say `dir.more`.
Within one reply the engine passes the ids already shown as `exclude`, so no service is listed
twice.

What is never shown to the person: internal notes (`verify_note`), contacts stored as
`*_unconfirmed` (sources conflict), and hours we can't stand behind. Hours from an old or
third-party source, or marked `hours_sure: false`, read "check opening hours on their website"
(`dir.hours_unknown`) instead of "open now"; they still order the list as a best guess. Numbers
of `verify: true` entries are shown: each one was read on a named public page (graded V, V-old
or 3P in shared/reference/support-directory.md, with its source and date in the directory), and
holding back a published helpline number from a frightened person costs more than its small risk
of being out of date. A number the reference grades U (unverified) or that sources disagree on
is kept out of `contacts` (stored under an `*_unconfirmed` key), so it can't be shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_time, get_day_names

from bot import textkeys as tk
from bot.directory import DAYS, Directory, Service, Shift
from bot.model import Profile
from bot.texts import Renderer

MAX_MESSAGE = 400
SHORT_LIST = 3  # how many services a list shows unless the person asks for more


@dataclass(frozen=True, slots=True)
class Listing:
    """One support list, ready to send."""

    lines: list[str]  # one line per service, best first
    shown: tuple[str, ...]  # the services' ids, in the same order (pass on as `exclude`)
    left_out: int  # services that fit but were held back (limit, or closed); 0 = nothing more


@lru_cache(maxsize=16)
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_GB")


@lru_cache(maxsize=16)
def _day_names(locale: str) -> dict[str, str]:
    """Short day names in the person's language, from CLDR (babel), not hand-written."""
    names = get_day_names("abbreviated", locale=_babel_locale(locale))
    return {day: names[index] for index, day in enumerate(DAYS)}


@lru_cache(maxsize=256)
def _clock(hhmm: str, locale: str, midnight: str) -> str:
    if hhmm in ("00:00", "24:00"):
        return midnight
    hours, minutes = map(int, hhmm.split(":"))
    return format_time(dt.time(hours, minutes), "short", locale=_babel_locale(locale))


def _shift_text(shift: Shift, locale: str, every_day: str, midnight: str) -> str:
    names = _day_names(locale)
    days = "–".join(names[day] for day in shift.days.split("-"))
    if shift.days == "mon-sun":
        days = every_day
    return f"{days} {_clock(shift.open, locale, midnight)}–{_clock(shift.close, locale, midnight)}"


class Presenter:
    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.directory: Directory = renderer.directory

    def _t(self, locale: str, key: str, profile: Profile, **values: str) -> str:
        return self.renderer.text(locale, key, profile, **values)

    def how_to_reach(self, service: Service, locale: str, profile: Profile) -> str:
        ways = []
        contacts = service.contacts
        if "phone" in contacts:
            ways.append(self._t(locale, tk.DIR_CALL, profile, value=contacts["phone"]))
        if "sms" in contacts:
            key = tk.DIR_TEXT_KEYWORD if "sms_keyword" in contacts else tk.DIR_TEXT
            ways.append(
                self._t(
                    locale,
                    key,
                    profile,
                    value=contacts["sms"],
                    keyword=contacts.get("sms_keyword", ""),
                )
            )
        for kind in ("web", "chat", "email"):
            if kind in contacts and len(ways) < 2:
                ways.append(self._t(locale, tk.contact_way(kind), profile, value=contacts[kind]))
        return self._t(locale, tk.DIR_OR, profile).join(ways[:2])

    def hours(self, service: Service, locale: str, profile: Profile) -> str:
        if service.hours != "online" and not service.hours_known:
            return self._t(locale, tk.DIR_HOURS_UNKNOWN, profile)
        if isinstance(service.hours, str):
            return self._t(locale, tk.hours_kind(service.hours), profile)
        every_day = self._t(locale, tk.DAY_EVERY_DAY, profile)
        midnight = self._t(locale, tk.DIR_MIDNIGHT, profile)
        return ", ".join(_shift_text(shift, locale, every_day, midnight) for shift in service.hours)

    def line(self, service: Service, is_open: bool | None, locale: str, profile: Profile) -> str:
        parts = [
            self._t(locale, f"service.{service.id}.name", profile),
            self.how_to_reach(service, locale, profile),
            self._t(locale, f"service.{service.id}.about", profile),
        ]
        status = self.hours(service, locale, profile)
        # "open now"/"closed now" only where we hold the hours as fact (see the module's notes).
        if service.hours_known and is_open is True:
            status = self._t(locale, tk.DIR_OPEN_NOW, profile, hours=status)
        elif service.hours_known and is_open is False:
            status = self._t(locale, tk.DIR_CLOSED_NOW, profile, hours=status)
        if status:
            parts.append(status)
        return "• " + " — ".join(part for part in parts if part)

    def ranked(
        self,
        kinds: tuple[str, ...],
        profile: Profile,
        now: dt.datetime,
        *,
        locale: str = "",
        open_only: bool = False,
        exclude: Collection[str] = (),
    ) -> list[tuple[Service, bool | None]]:
        """Every service of these kinds that fits the person, best first (see Directory.ranked),
        leaving out those in `exclude` (already shown in this reply)."""
        chosen = self.directory.ranked(
            kinds,
            age=profile.age,
            age_band=profile.age_band,
            nation=profile.nation,
            now=now,
            locale=locale or self.renderer.texts.default_locale,
            # Risk of harm: the 24/7 lines lead, whatever else was asked for.
            urgent=profile.crisis or kinds == ("crisis",),
            open_only=open_only,
        )
        return [pair for pair in chosen if pair[0].id not in exclude]

    def _short(
        self, ranked: list[tuple[Service, bool | None]], limit: int | None
    ) -> list[tuple[Service, bool | None]]:
        if limit is None:
            return ranked
        # A closed line is offered only when nothing else fits at all.
        usable = [pair for pair in ranked if pair[1] is not False]
        return (usable or ranked)[:limit]

    def listing(
        self,
        kinds: tuple[str, ...],
        locale: str,
        profile: Profile,
        now: dt.datetime,
        *,
        open_only: bool = False,
        limit: int | None = SHORT_LIST,
        exclude: Collection[str] = (),
    ) -> Listing:
        """The short list (or, with `limit=None`, every fitting service) as ready lines."""
        ranked = self.ranked(
            kinds, profile, now, locale=locale, open_only=open_only, exclude=exclude
        )
        chosen = self._short(ranked, limit)
        return Listing(
            lines=[self.line(service, is_open, locale, profile) for service, is_open in chosen],
            shown=tuple(service.id for service, _ in chosen),
            left_out=len(ranked) - len(chosen),
        )

    def lines(
        self,
        kinds: tuple[str, ...],
        locale: str,
        profile: Profile,
        now: dt.datetime,
        *,
        open_only: bool = False,
        limit: int | None = SHORT_LIST,
    ) -> list[str]:
        """The lines alone; use `listing` to leave out services already shown in this reply
        and to learn whether to offer `dir.more`."""
        return self.listing(kinds, locale, profile, now, open_only=open_only, limit=limit).lines

    def has_more(
        self,
        kinds: tuple[str, ...],
        profile: Profile,
        now: dt.datetime,
        *,
        open_only: bool = False,
        limit: int | None = SHORT_LIST,
        exclude: Collection[str] = (),
    ) -> bool:
        """Whether `lines(...)` with the same arguments held services back (say `dir.more`)."""
        ranked = self.ranked(kinds, profile, now, open_only=open_only, exclude=exclude)
        return len(self._short(ranked, limit)) < len(ranked)


def pack(header: str, lines: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Group a header and lines into as few messages of at most `limit` characters as possible."""
    messages: list[str] = []
    current = header
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            if current:
                messages.append(current)
            current = line[:limit]
    if current:
        messages.append(current)
    return messages
