"""Named conditions on what the bot knows about a person; flows and texts use them by name."""

from __future__ import annotations

from collections.abc import Callable

from bot.model import Profile

# Under-18s and people who would rather not say get the young person's path. Before the age
# question is answered we also assume "young", so nothing adult-only (such as uploads) leaks out.
YOUNG_BANDS = frozenset({"under_13", "13_17", "unknown", None})


def young(profile: Profile) -> bool:
    if profile.age is not None:
        return profile.age < 18
    return profile.age_band in YOUNG_BANDS


def adult(profile: Profile) -> bool:
    return not young(profile)


def _nation(*names: str) -> Callable[[Profile], bool]:
    def check(profile: Profile) -> bool:
        return profile.nation in names

    check.__name__ = "_".join(names)
    return check


PREDICATES: dict[str, Callable[[Profile], bool]] = {
    "young": young,
    "adult": adult,
    "england": _nation("england"),
    "wales": _nation("wales"),
    "scotland": _nation("scotland"),
    "northern_ireland": _nation("northern_ireland"),
    "outside_uk": _nation("outside_uk"),
    "uk": _nation("england", "wales", "scotland", "northern_ireland"),
}


def holds(name: str, profile: Profile) -> bool:
    """A predicate by name; `a+b` means both hold."""
    return all(PREDICATES[part](profile) for part in name.split("+"))
