"""Support lists: short, open now, fitting the person, no internal notes, no repeats.

Behaviour is pinned through service ids and text keys, not wording. Built from the content files
directly (no engine), so the ranking can be checked on its own.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import PROJECT_ROOT
from bot.directory import Directory, Service
from bot.model import Profile
from bot.presenter import SHORT_LIST, Presenter
from bot.texts import Renderer, Texts

UTC = dt.UTC
LOCALE = "en-GB"
# Wednesday 25 November 2026 (GMT, so UTC is London time).
THREE_AM = dt.datetime(2026, 11, 25, 3, tzinfo=UTC)
EIGHT_PM = dt.datetime(2026, 11, 25, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def presenter() -> Presenter:
    directory = Directory.load(PROJECT_ROOT / "content" / "directory.yaml")
    texts = Texts.load(PROJECT_ROOT / "content", LOCALE)
    return Presenter(Renderer(texts, directory))


def _text(presenter: Presenter, key: str) -> str:
    return presenter.renderer.text(LOCALE, key, Profile())


def _service(presenter: Presenter, service_id: str) -> Service:
    return presenter.directory.services[service_id]


def _name(presenter: Presenter, service_id: str) -> str:
    return _text(presenter, f"service.{service_id}.name")


def test_crisis_list_for_an_adult_in_england_at_3am(presenter: Presenter) -> None:
    adult = Profile(age_band="25_34", nation="england", crisis=True)
    listing = presenter.listing(("crisis",), LOCALE, adult, THREE_AM, open_only=True)
    assert 1 <= len(listing.lines) <= 3 and len(listing.shown) == len(listing.lines)
    local = presenter.directory.local(THREE_AM)
    for service_id in listing.shown:
        assert _service(presenter, service_id).open_at(local) is True, service_id
    assert "nspcc" not in listing.shown and "calm" not in listing.shown  # CALM: 5pm-midnight
    assert listing.shown[0] == "samaritans"  # a 24/7 line, verified, leads a crisis list
    everything = "\n".join(listing.lines)
    assert _name(presenter, "nspcc") not in everything
    # Internal notes never reach the person.
    for service in presenter.directory.services.values():
        if service.verify_note:
            assert service.verify_note not in everything
    assert "re-checked" not in everything
    assert "unconfirmed" not in everything


def test_a_15_year_old_in_wales_gets_young_and_welsh_services_first(
    presenter: Presenter,
) -> None:
    teen = Profile(age=15, nation="wales")
    listing = presenter.listing(("crisis", "support"), LOCALE, teen, EIGHT_PM)
    assert len(listing.shown) == SHORT_LIST
    assert {"childline", "meic"} <= set(listing.shown[:2])
    # In a crisis at night (Meic closed), Childline leads.
    night = presenter.listing(("crisis",), LOCALE, teen, THREE_AM, open_only=True)
    assert night.shown[0] == "childline"
    assert "meic" not in night.shown


def test_nspcc_is_never_offered_to_the_person_themselves(presenter: Presenter) -> None:
    assert _service(presenter, "nspcc").audience == "others"
    for band in ("18_24", "25_34", "35_plus"):
        for when in (THREE_AM, EIGHT_PM, dt.datetime(2026, 11, 25, 12, tzinfo=UTC)):
            adult = Profile(age_band=band, nation="england")
            every = presenter.listing(("crisis", "support"), LOCALE, adult, when, limit=None)
            assert "nspcc" not in every.shown


def test_limit_none_gives_the_full_list_and_left_out_counts_the_rest(
    presenter: Presenter,
) -> None:
    teen = Profile(age=15, nation="wales")
    short = presenter.listing(("crisis", "support"), LOCALE, teen, EIGHT_PM)
    full = presenter.listing(("crisis", "support"), LOCALE, teen, EIGHT_PM, limit=None)
    assert len(full.lines) > len(short.lines)
    assert short.left_out == len(full.shown) - len(short.shown) > 0
    assert full.left_out == 0
    assert full.shown[: len(short.shown)] == short.shown  # same order, more of it
    assert presenter.has_more(("crisis", "support"), teen, EIGHT_PM)
    assert not presenter.has_more(("crisis", "support"), teen, EIGHT_PM, limit=None)
    assert presenter.lines(("crisis", "support"), LOCALE, teen, EIGHT_PM) == short.lines
    assert _text(presenter, "dir.more")  # the engine's offer of the rest exists


def test_no_service_twice_in_one_reply(presenter: Presenter) -> None:
    adult = Profile(age_band="25_34", nation="england")
    first = presenter.listing(("crisis",), LOCALE, adult, EIGHT_PM)
    second = presenter.listing(("crisis", "support"), LOCALE, adult, EIGHT_PM, exclude=first.shown)
    assert second.shown and not set(first.shown) & set(second.shown)
    assert len(set(first.shown)) == len(first.shown)


def test_closed_lines_only_when_nothing_else_fits(presenter: Presenter) -> None:
    # Tuesday 24 Nov, 11:00: CALM (5pm-midnight) is closed, 24/7 lines are open.
    morning = dt.datetime(2026, 11, 24, 11, tzinfo=UTC)
    adult = Profile(age_band="35_plus", nation="england")
    short = presenter.listing(("crisis",), LOCALE, adult, morning)
    assert "calm" not in short.shown and short.left_out >= 1
    assert "calm" in presenter.listing(("crisis",), LOCALE, adult, morning, limit=None).shown
    # Only closed services fit (adult removal help at night): they are still offered.
    night_removal = presenter.listing(
        ("removal",), LOCALE, adult, THREE_AM, limit=None, exclude=("stopncii", "take_it_down")
    )
    assert night_removal.shown == ("revenge_porn_helpline",)


def test_unsure_hours_say_check_the_website_not_open_now(presenter: Presenter) -> None:
    teen = Profile(age=15, nation="wales")
    check = _text(presenter, "dir.hours_unknown")
    # The words around the hours, e.g. "open now (": the template with a marker for the hours.
    open_now = presenter.renderer.text(LOCALE, "dir.open_now", teen, hours="§").split("§")[0]
    papyrus = _service(presenter, "papyrus")  # sources disagree about its hours
    meic = _service(presenter, "meic")  # hours from a 2021 source
    childline = _service(presenter, "childline")  # verified 24 hours
    assert not papyrus.hours_known and not meic.hours_known and childline.hours_known
    for service in (papyrus, meic):
        line = presenter.line(service, True, LOCALE, teen)
        assert check in line and open_now not in line
    assert open_now in presenter.line(childline, True, LOCALE, teen)


def test_outside_the_uk_a_worldwide_directory_comes_first(presenter: Presenter) -> None:
    abroad = Profile(age_band="25_34", nation="outside_uk")
    listing = presenter.listing(("crisis", "support"), LOCALE, abroad, EIGHT_PM)
    assert listing.shown[0] == "findahelpline"
