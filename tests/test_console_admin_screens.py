"""The admins' screens and two-factor set-up in the console, in headless Chromium against a real
`supportbot run` (issue 11, "Moderator safety" from the UI, not curl): each moderator turns on
two-factor sign-in from the header's link; an admin requires it for everyone on the Accounts
screen (a moderator without it is sent to set it up); an admin gives a case to another
moderator, forces it back to the queue, and disables and enables an account. What each screen
shows is checked, and what is stored and audited behind it. People on the stand-in Telegram Bot
API ask for a person, so the cases are real.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.async_api import Browser, Dialog, Page

from tests.auxil.botapi import TOKEN, BotApiStandIn
from tests.auxil.browser import Server, free_port
from tests.auxil.console import PASSWORD, ApiModerator, add_moderator, sign_in_api, sign_in_browser
from tests.auxil.waiting import until

LEFT = "has left the chat"
JOINED = "has joined this chat"


@pytest.fixture
async def server(tmp_path: Path, api: BotApiStandIn) -> AsyncIterator[Server]:
    data = tmp_path / "data"
    data.mkdir()
    running = Server(
        data, free_port(), {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": api.base_url}
    )
    await asyncio.to_thread(running.start)
    for email, role in (
        ("alex@example.org", "admin"),
        ("sam@example.org", "moderator"),
        ("lee@example.org", "moderator"),
    ):
        await asyncio.to_thread(add_moderator, running, email, role)
    yield running
    await asyncio.to_thread(running.stop)


def stored(server: Server, sql: str, *params: Any) -> list[Any]:
    with sqlite3.connect(server.data_dir / "supportbot.db") as db:
        return db.execute(sql, params).fetchall()


def audited(server: Server) -> list[tuple[str | None, str, str, str]]:
    """(who, action, subject, detail) for every audit entry."""
    rows = stored(
        server,
        "SELECT m.email, a.action, a.subject, a.detail FROM audit a "
        "LEFT JOIN moderators m ON m.id = a.moderator_id ORDER BY a.id",
    )
    return [tuple(row) for row in rows]


async def status_says(page: Page, part: str) -> bool:
    return part in await page.locator("#status").inner_text()


async def account_row(page: Page, email: str) -> list[str]:
    row = page.locator(f'#accounts-body tr[data-email="{email}"] td')
    return [t.strip() for t in await row.all_inner_texts()]


async def set_up_two_factor(page: Page) -> list[str]:
    """On /console/2fa: set up with the key shown, confirm with a code; the recovery codes."""
    await page.click("#twofa-setup")
    secret = (await page.locator("#twofa-secret").inner_text()).replace(" ", "")
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("#twofa-confirm")
    return await page.locator("#twofa-recovery li").all_inner_texts()


async def test_two_factor_set_up_by_each_and_required_by_an_admin_from_the_screens(
    browser: Browser, server: Server
) -> None:
    alex = await sign_in_browser(await browser.new_context(), server, "alex@example.org")
    # Each moderator turns it on from the console's header (readable on its dark background).
    await _no_accessibility_violations(alex, "header")
    await alex.click("#twofa-link")
    await alex.wait_for_url(f"{server.url}/console/2fa")
    assert len(await set_up_two_factor(alex)) == 10
    await alex.click("text=Go to the console")
    await alex.wait_for_url(f"{server.url}/console")

    # The Accounts screen (admins only): every account, its two-factor state.
    await alex.click("#nav-admin")
    await until(lambda: _count(alex, "#accounts-body tr", 3))
    assert await account_row(alex, "alex@example.org") == [
        "alex@example.org", "admin", "Active", "On", "0", "This is you"
    ]  # fmt: skip
    assert (await account_row(alex, "sam@example.org"))[2:4] == ["Active", "Off"]
    assert not await alex.locator("#require-2fa").is_checked()
    await _no_accessibility_violations(alex, "#view-admin")

    # Required for everyone, with the checkbox; said in the live region; stored; audited.
    await alex.check("#require-2fa")
    await alex.click("#require-save")
    await until(lambda: status_says(alex, "now required for every account"))
    assert stored(server, "SELECT value FROM console_settings WHERE key = 'require_2fa'") == [
        ("on",)
    ]
    assert ("alex@example.org", "two_factor_required", "", "on") in audited(server)

    # Sam, without it, is sent to set it up, does so in the browser, then reaches the queue.
    sam = await (await browser.new_context()).new_page()
    await sam.goto(f"{server.url}/console")
    await sam.fill("#email", "sam@example.org")
    await sam.fill("#password", PASSWORD)
    await sam.click("#signin")
    await sam.wait_for_url(f"{server.url}/console/2fa")
    assert "requires two-factor" in await sam.locator("#twofa-status").inner_text()
    codes = await set_up_two_factor(sam)
    assert len(codes) == 10
    await sam.click("text=Go to the console")
    await sam.wait_for_url(f"{server.url}/console")
    await sam.locator("#queue-counts").wait_for()
    assert await sam.locator("#nav-admin").is_hidden()  # not an admin
    assert ("sam@example.org", "two_factor_on", "sam@example.org", "") in audited(server)

    # Back on the Accounts screen, sam's second factor shows; then the requirement goes off.
    await alex.click("#nav-queue")
    await alex.click("#nav-admin")
    await until(lambda: _cell_is(alex, "sam@example.org", 3, "On"))
    assert await alex.locator("#require-2fa").is_checked()
    await alex.uncheck("#require-2fa")
    await alex.click("#require-save")
    await until(lambda: status_says(alex, "no longer required"))
    assert stored(server, "SELECT value FROM console_settings WHERE key = 'require_2fa'") == [
        ("off",)
    ]
    assert ("alex@example.org", "two_factor_required", "", "off") in audited(server)
    assert not any(code in json.dumps(audited(server)) for code in codes)


async def test_an_admin_reassigns_force_releases_and_disables_from_the_screens(
    browser: Browser, server: Server, api: BotApiStandIn
) -> None:
    sam = await sign_in_api(server, "sam@example.org")
    lee = await sign_in_api(server, "lee@example.org")
    alex = await sign_in_browser(await browser.new_context(), server, "alex@example.org")
    chat = 6101
    case = await asks_for_a_person(api, chat, sam)
    assert (await sam.post(f"/console/api/cases/{case}/claim")).status_code == 200
    await until(lambda: said(api, chat, JOINED))

    # The admin sees sam's case in the queue and may open it, though it isn't theirs.
    row = alex.locator(f'#queue-body tr[data-case="{case}"]')
    await until(lambda: _text_in(row, "sam@example.org"))
    await row.locator("button.open").click()
    await alex.locator("#view-case").wait_for()
    assert await alex.locator("#assign-form").is_visible()
    await _no_accessibility_violations(alex, "#view-case")

    # Give it to lee: the screen says so, lee owns it now; the person isn't told of a new join.
    await alex.select_option("#assign-to", "lee@example.org")
    await alex.click("#assign")
    await until(lambda: status_says(alex, "now belongs to lee@example.org"))
    assert await owner_of(lee, case) == ("claimed", "lee@example.org")
    assert (await sam.client.get(f"/console/api/cases/{case}")).status_code == 403
    assert ("alex@example.org", "reassign", f"case {case}", "lee@example.org") in audited(server)
    await asyncio.sleep(0.5)
    assert times_said(api, chat, JOINED) == 1

    # Force it back to the queue: the person is told the bot is with them again.
    await alex.click("#release")
    await until(lambda: status_says(alex, "back in the queue"))
    assert await alex.locator("#view-queue").is_visible()
    assert await owner_of(lee, case) == ("queued", None)
    await until(lambda: said(api, chat, LEFT))
    assert ("alex@example.org", "release", f"case {case}", "forced by an admin") in audited(server)

    # Lee takes it again; the admin disables lee's account on the Accounts screen.
    assert (await lee.post(f"/console/api/cases/{case}/claim")).status_code == 200
    await until(lambda: times_said(api, chat, JOINED) == 2)
    await alex.click("#nav-admin")
    await until(lambda: _cell_is(alex, "lee@example.org", 4, "1"))  # lee owns one case
    asked: list[str] = []

    def confirm(dialog: Dialog) -> None:
        asked.append(dialog.message)
        asyncio.get_running_loop().create_task(dialog.accept())

    alex.once("dialog", confirm)
    await alex.locator('#accounts-body tr[data-email="lee@example.org"] button.disable').click()
    await until(lambda: status_says(alex, "lee@example.org is disabled. 1 of their cases"))
    assert asked and "Disable lee@example.org?" in asked[0]
    await until(lambda: _cell_is(alex, "lee@example.org", 2, "Disabled"))
    focused = await alex.evaluate("document.activeElement.closest('tr')?.dataset.email")
    assert focused == "lee@example.org"  # the keyboard stays on that account's row
    assert (await lee.client.get("/console/api/queue")).status_code == 401
    assert await owner_of(sam, case) == ("queued", None)
    await until(lambda: times_said(api, chat, LEFT) == 2)
    log = audited(server)
    assert ("alex@example.org", "moderator_disable", "lee@example.org", "") in log
    assert ("alex@example.org", "release", f"case {case}", "account disabled") in log
    # Lee is no longer offered for cases; enabling lets lee sign in again.
    assert "lee@example.org" not in await alex.locator("#assign-to").inner_text()
    await alex.locator('#accounts-body tr[data-email="lee@example.org"] button.enable').click()
    await until(lambda: status_says(alex, "lee@example.org can sign in again"))
    await until(lambda: _cell_is(alex, "lee@example.org", 2, "Active"))
    assert ("alex@example.org", "moderator_enable", "lee@example.org", "") in audited(server)
    again = await sign_in_api(server, "lee@example.org")
    assert (await again.client.get("/console/api/queue")).status_code == 200
    # An admin can't disable their own account from the screen (no button), nor by the API.
    assert (
        await alex.locator('#accounts-body tr[data-email="alex@example.org"] button').count() == 0
    )
    alex_api = await sign_in_api(server, "alex@example.org")
    refused = await alex_api.post("/console/api/moderators/disable", {"email": "alex@example.org"})
    assert refused.status_code == 409
    for moderator in (sam, lee, again, alex_api):
        await moderator.client.aclose()


# --- helpers ---------------------------------------------------------------------------------


def said(api: BotApiStandIn, chat: int, part: str) -> bool:
    return any(part in text for text in api.texts(chat))


def times_said(api: BotApiStandIn, chat: int, part: str) -> int:
    return sum(part in text for text in api.texts(chat))


async def asks_for_a_person(api: BotApiStandIn, chat: int, moderator: ApiModerator) -> int:
    """A person on Telegram asks for a human; the id of the case that opens."""
    api.text(chat, "/start")
    await until(lambda: said(api, chat, "not your fault"))
    api.text(chat, "person")
    await until(lambda: said(api, chat, "asked for a person"))
    cases = (await moderator.client.get("/console/api/queue")).json()["cases"]
    (case,) = [c["id"] for c in cases]
    return int(case)


async def owner_of(moderator: ApiModerator, case: int) -> tuple[str, str | None]:
    """(status, owner) as the queue shows the case."""
    cases = (await moderator.client.get("/console/api/queue")).json()["cases"]
    (found,) = [c for c in cases if c["id"] == case]
    return found["status"], found["owner"]


async def _count(page: Page, selector: str, n: int) -> bool:
    return await page.locator(selector).count() == n


async def _text_in(locator: Any, part: str) -> bool:
    return await locator.count() > 0 and part in await locator.first.inner_text()


async def _cell_is(page: Page, email: str, column: int, text: str) -> bool:
    cells = await account_row(page, email)
    return len(cells) > column and cells[column] == text


async def _no_accessibility_violations(page: Page, selector: str) -> None:
    from axe_playwright_python.async_playwright import Axe

    result = await Axe().run(page, context={"include": [[selector]]})
    violations = result.response["violations"]
    assert violations == [], json.dumps(
        [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations], indent=1
    )
