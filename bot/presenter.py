"""Turning directory entries into short lines a frightened person can act on."""

from __future__ import annotations

import datetime as dt

from bot.directory import DAYS, Directory, Service, Shift
from bot.model import Profile
from bot.texts import Renderer

MAX_MESSAGE = 400


def _clock(hhmm: str) -> str:
    return "midnight" if hhmm in ("00:00", "24:00") else hhmm


def _shift_text(shift: Shift, day_names: dict[str, str]) -> str:
    days = "–".join(day_names[day] for day in shift.days.split("-"))
    if shift.days == "mon-sun":
        days = day_names["every_day"]
    return f"{days} {_clock(shift.open)}–{_clock(shift.close)}"


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
            ways.append(self._t(locale, "dir.call", profile, value=contacts["phone"]))
        if "sms" in contacts:
            key = "dir.text_keyword" if "sms_keyword" in contacts else "dir.text"
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
                ways.append(self._t(locale, f"dir.{kind}", profile, value=contacts[kind]))
        return self._t(locale, "dir.or", profile).join(ways[:2])

    def hours(self, service: Service, locale: str, profile: Profile) -> str:
        if isinstance(service.hours, str):
            return self._t(locale, f"dir.hours_{service.hours}", profile)
        names = {day: self._t(locale, f"day.{day}", profile) for day in (*DAYS, "every_day")}
        return ", ".join(_shift_text(shift, names) for shift in service.hours)

    def line(self, service: Service, is_open: bool | None, locale: str, profile: Profile) -> str:
        parts = [
            self._t(locale, f"service.{service.id}.name", profile),
            self.how_to_reach(service, locale, profile),
            self._t(locale, f"service.{service.id}.about", profile),
        ]
        status = self.hours(service, locale, profile)
        if is_open is True:
            status = self._t(locale, "dir.open_now", profile, hours=status)
        elif is_open is False:
            status = self._t(locale, "dir.closed_now", profile, hours=status)
        if status:
            parts.append(status)
        if service.verify:
            parts.append(self._t(locale, "dir.unconfirmed", profile))
        return "• " + " — ".join(part for part in parts if part)

    def lines(
        self,
        kinds: tuple[str, ...],
        locale: str,
        profile: Profile,
        now: dt.datetime,
        *,
        open_only: bool = False,
    ) -> list[str]:
        chosen = self.directory.select(
            kinds,
            age=profile.age,
            age_band=profile.age_band,
            nation=profile.nation,
            now=now,
            open_only=open_only,
        )
        return [self.line(service, is_open, locale, profile) for service, is_open in chosen]


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
