"""The support directory: fit by age and nation, open now in Europe/London time."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.engine import Content

UTC = dt.UTC


def _ids(
    content: Content,
    *,
    age: int | None = None,
    band: str | None = None,
    nation: str | None = "england",
    when: dt.datetime,
    kinds=("crisis", "support"),
    open_only: bool = False,
) -> set[str]:
    chosen = content.directory.select(
        kinds, age=age, age_band=band, nation=nation, now=when, open_only=open_only
    )
    return {service.id for service, _ in chosen}


def test_every_entry_has_sources_and_a_check_date(content: Content) -> None:
    for service in content.directory.services.values():
        assert service.sources and service.checked
        if service.confidence != "V":
            assert service.verify and service.verify_note


def test_fit_by_age_and_nation(content: Content) -> None:
    noon = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
    teen_wales = _ids(content, age=15, nation="wales", when=noon)
    assert {"childline", "meic", "samaritans", "shout", "papyrus"} <= teen_wales
    assert "nspcc" not in teen_wales and "breathing_space" not in teen_wales
    adult_scotland = _ids(content, band="25_34", nation="scotland", when=noon)
    assert "breathing_space" in adult_scotland and "childline" not in adult_scotland
    assert "papyrus" in adult_scotland  # under 35
    assert "papyrus" not in _ids(content, band="35_plus", when=noon)
    removal = _ids(content, age=16, when=noon, kinds=("removal",))
    assert removal == {"report_remove", "take_it_down"}
    adult_removal = _ids(content, age=30, when=noon, kinds=("removal",))
    assert {"stopncii", "revenge_porn_helpline"} <= adult_removal
    abroad = _ids(content, band="18_24", nation="outside_uk", when=noon)
    assert "findahelpline" in abroad and "samaritans" not in abroad


def test_open_now_in_london_time(content: Content) -> None:
    calm = content.directory.services["calm"]
    london = content.directory.local
    assert calm.open_at(london(dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC))) is True
    assert calm.open_at(london(dt.datetime(2026, 11, 24, 0, 30, tzinfo=UTC))) is False
    # British Summer Time: 16:30 UTC is 17:30 in London.
    assert calm.open_at(london(dt.datetime(2026, 7, 1, 16, 30, tzinfo=UTC))) is True
    assert calm.open_at(london(dt.datetime(2026, 12, 1, 16, 30, tzinfo=UTC))) is False


def test_overnight_and_weekend_hours(content: Content) -> None:
    space = content.directory.services["breathing_space"]
    london = content.directory.local
    tuesday_1am = dt.datetime(2026, 11, 24, 1, tzinfo=UTC)  # Mon 18:00 - Tue 02:00
    tuesday_3am = dt.datetime(2026, 11, 24, 3, tzinfo=UTC)
    saturday_noon = dt.datetime(2026, 11, 28, 12, tzinfo=UTC)  # Fri 18:00 - Mon 06:00
    monday_5am = dt.datetime(2026, 11, 30, 5, tzinfo=UTC)
    monday_7am = dt.datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert space.open_at(london(tuesday_1am)) is True
    assert space.open_at(london(tuesday_3am)) is False
    assert space.open_at(london(saturday_noon)) is True
    assert space.open_at(london(monday_5am)) is True
    assert space.open_at(london(monday_7am)) is False


def test_closed_services_are_left_out_in_a_crisis(content: Content) -> None:
    morning = dt.datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert "calm" not in _ids(content, band="25_34", when=morning, open_only=True)
    assert "calm" in _ids(content, band="25_34", when=morning)


def test_services_for_people_worried_about_someone_else_are_kept_apart(content: Content) -> None:
    noon = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
    directory = content.directory
    adult = {"age": None, "age_band": "35_plus", "nation": "england", "now": noon}
    for_them = {s.id for s, _ in directory.select(("crisis", "support"), **adult)}
    assert "nspcc" not in for_them  # adults worried about a child, not the person themselves
    others = directory.select(("crisis", "support"), audience="others", **adult)
    assert "nspcc" in {s.id for s, _ in others}


def test_unsure_hours_must_be_flagged_for_re_checking() -> None:
    import pydantic

    from bot.directory import Service

    entry = {
        "id": "x",
        "kind": "crisis",
        "contacts": {"phone": "0"},
        "nations": ["uk"],
        "hours": "always",
        "sources": ["https://example.org/"],
        "checked": "2026-11-23",
        "confidence": "V",
        "hours_sure": False,
    }
    with pytest.raises(pydantic.ValidationError):
        Service.model_validate(entry)
    assert not Service.model_validate(
        {**entry, "verify": True, "verify_note": "hours conflict"}
    ).hours_known


def test_the_welsh_line_leads_for_someone_talking_in_welsh(content: Content) -> None:
    evening = dt.datetime(2026, 11, 25, 20, 30, tzinfo=UTC)  # the Welsh line runs 7pm-11pm

    def first_three(locale: str) -> list[str]:
        ranked = content.directory.ranked(
            ("crisis",), age=30, age_band="25_34", nation="wales", now=evening,
            locale=locale, urgent=True,
        )  # fmt: skip
        return [service.id for service, _ in ranked[:3]]

    assert "samaritans_welsh" in first_three("cy")
    assert "samaritans_welsh" not in first_three("en-GB")
