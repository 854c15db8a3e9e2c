"""The console names every pattern the flows can set (issue 10: fake-profile and impersonation
cases showed "Not said yet"). Names come from the loaded flows and texts, never a list in the
console. Over real HTTP against `supportbot run`, with a person on the stand-in Telegram API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.console.routing import pattern_names
from bot.directory import Directory
from bot.flowmachine import FlowBook
from bot.model import Profile
from bot.texts import Renderer, Texts, pick_variant
from tests.auxil.botapi import TOKEN, BotApiStandIn
from tests.auxil.browser import Server, free_port
from tests.auxil.console import add_moderator, sign_in_api

LOCALE = "en-GB"
PATTERNS = ("fake_profile", "impersonation")


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts.load(PROJECT_ROOT / "content", LOCALE)


def _say(texts: Texts, key: str) -> str:
    return pick_variant(texts.entry(LOCALE, key), Profile())


def test_every_pattern_the_flows_set_has_a_name(texts: Texts) -> None:
    flows = FlowBook.load(PROJECT_ROOT / "flows")
    directory = Directory.load(PROJECT_ROOT / "content" / "directory.yaml")
    names = pattern_names(flows, Renderer(texts, directory), LOCALE)
    set_by_flows = {
        choice.set["pattern"]
        for flow in flows.flows.values()
        for state in flow.spec.states.values()
        for choice in state.choices
        if "pattern" in choice.set
    }
    assert set(PATTERNS) <= set_by_flows <= set(names)
    for pattern in PATTERNS:
        assert names[pattern] == _say(texts, f"pattern.{pattern}")


@pytest.fixture
async def server(tmp_path: Path, api: BotApiStandIn) -> AsyncIterator[Server]:
    data = tmp_path / "data"
    data.mkdir()
    running = Server(
        data,
        free_port(),
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": api.base_url},
    )
    await asyncio.to_thread(running.start)
    await asyncio.to_thread(add_moderator, running, "mod@example.org")
    yield running
    await asyncio.to_thread(running.stop)


async def _tap_when_offered(api: BotApiStandIn, chat: int, label: str) -> None:
    """Tap the button with this label as soon as the bot offers it."""
    deadline = time.monotonic() + 20
    while not any(
        label.lower() in shown.lower() for sent in api.chat(chat) for shown, _ in sent.keyboard
    ):
        assert time.monotonic() < deadline, f"never offered {label!r}"
        await asyncio.sleep(0.05)
    api.tap_label(chat, label)


async def test_fake_profile_and_impersonation_cases_show_their_names(
    server: Server, api: BotApiStandIn, texts: Texts
) -> None:
    for chat, pattern in enumerate(PATTERNS, start=5101):
        api.text(chat, "/start")
        for key in ("intake.opt_begin", "intake.age_25_34", "intake.nation_england"):
            await _tap_when_offered(api, chat, _say(texts, key))
        await _tap_when_offered(api, chat, _say(texts, f"pattern.{pattern}"))
        await asyncio.sleep(0.3)
        api.text(chat, "person")

    moderator = await sign_in_api(server, "mod@example.org")
    deadline = time.monotonic() + 20
    while True:
        cases = (await moderator.client.get("/console/api/queue")).json()["cases"]
        if len(cases) >= len(PATTERNS) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    by_pattern = {case["pattern"]: case for case in cases}
    assert set(PATTERNS) <= set(by_pattern), cases
    for pattern in PATTERNS:
        summary = by_pattern[pattern]["summary"]
        assert _say(texts, f"pattern.{pattern}") in summary
        assert "Not said yet" not in summary
    # The case view (after claiming) names it too.
    claimed = await moderator.post(f"/console/api/cases/{by_pattern['fake_profile']['id']}/claim")
    assert claimed.status_code == 200, claimed.text
    case = claimed.json()["case"]
    assert _say(texts, "pattern.fake_profile") in case["summary"]
    await moderator.client.aclose()


async def test_a_case_shows_the_language_the_person_talks_in(
    server: Server, api: BotApiStandIn
) -> None:
    """Issue 12: a Welsh Telegram user's case says "Cymraeg", so the reply can be in Welsh."""
    welsh, english = 5201, 5202
    api.language_codes[welsh] = "cy"
    for chat in (welsh, english):
        api.text(chat, "/start")
        await asyncio.sleep(0.3)
        api.text(chat, "person")
    moderator = await sign_in_api(server, "mod@example.org")
    deadline = time.monotonic() + 20
    while True:
        cases = (await moderator.client.get("/console/api/queue")).json()["cases"]
        if len(cases) >= 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert sorted(case["language"] for case in cases) == ["Cymraeg", "English"]
    await moderator.client.aclose()
