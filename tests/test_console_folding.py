"""Many crisis cases from one source (issue 11, "duplicate crisis cases from one source folded"):
every case is kept and queued (several real people can share a connection), but moderators get
one urgent alert per source per window and a summary of the rest ("19 more urgent cases from the
same source"), and the queue shows one group that expands. The source is a keyed hash, never an
address. Cases come through the real engine and storage (a crisis message opens a case); the
channel's part is played as the widget does it: it tells the desk each conversation's source.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from bot.console.cases import Case
from bot.console.folding import source_id
from bot.model import EventKind, Inbound
from tests.auxil.console import ApiModerator, sign_in_api, sign_in_browser
from tests.auxil.inprocess import Running, served
from tests.auxil.waiting import until

CRISIS = "I want to kill myself tonight"
SCHOOL = "203.0.113.7"  # one address many people share (and a flood would use)
HOME = "2001:db8:1:2::/64"
WINDOW = 2.0  # seconds, for the tests (300 in service)


class Alerts:
    """What the moderators' Telegram chat would be told (the desk's hooks)."""

    def __init__(self) -> None:
        self.urgent: list[int] = []
        self.more: list[tuple[int, int]] = []

    async def on_urgent(self, case: Case) -> None:
        self.urgent.append(case.id)

    async def on_more(self, case: Case, more: int) -> None:
        self.more.append((case.id, more))


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    data = tmp_path / "data"
    data.mkdir()
    with served(data, {"alex@example.org": "admin", "sam@example.org": "moderator"}) as app:
        app.console.desk.folds.seconds = WINDOW
        yield app


@pytest.fixture
async def alerts(running: Running) -> Alerts:
    heard = Alerts()

    async def hook() -> None:
        running.console.desk.on_urgent = heard.on_urgent
        running.console.desk.on_urgent_more = heard.on_more

    await running.run(hook())
    return heard


@pytest.fixture
async def sam(running: Running) -> AsyncIterator[ApiModerator]:
    moderator = await sign_in_api(running.server, "sam@example.org")
    yield moderator
    await moderator.client.aclose()


async def in_crisis(running: Running, session: str, client_key: str | None) -> str:
    """A person on the widget whose first words are a crisis; the widget channel has told the
    desk where they connect from. Returns the conversation id."""
    engine, desk = running.engine, running.console.desk
    event = Inbound("web", session, f"{session}:1", EventKind.TEXT, CRISIS)
    conversation_id = engine.conversation_id(event)

    async def arrive() -> None:
        if client_key is not None:
            desk.note_source(conversation_id, source_id(engine.keyring, client_key))
        await engine.handle(event)

    await running.run(arrive())
    return conversation_id


async def queue(moderator: ApiModerator, query: str = "") -> dict[str, Any]:
    response = await moderator.client.get(f"/console/api/queue{query}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def waiting(moderator: ApiModerator, n: int) -> bool:
    return int((await queue(moderator))["counts"]["waiting"]) >= n


async def entries_are(moderator: ApiModerator, n: int) -> bool:
    return len((await queue(moderator))["cases"]) == n


class Stream:
    """A moderator's live stream: the events it carries."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self.connected = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async with self.client.stream("GET", "/console/api/stream", timeout=60) as stream:
            async for line in stream.aiter_lines():
                if line == ": connected":
                    self.connected.set()
                elif line.startswith("data: "):
                    self.events.append(json.loads(line[6:]))

    def urgent(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("urgent")]


async def test_one_source_s_crisis_cases_are_all_kept_with_one_alert_and_a_summary(
    running: Running, alerts: Alerts, sam: ApiModerator
) -> None:
    stream = Stream(sam.client)
    await asyncio.wait_for(stream.connected.wait(), 10)
    # Twenty crises from one address, two from another, one from a chat with no source.
    school = [await in_crisis(running, f"school-{i}", SCHOOL) for i in range(20)]
    home = [await in_crisis(running, f"home-{i}", HOME) for i in range(2)]
    alone = await in_crisis(running, "telegram-like", None)
    await until(lambda: waiting(sam, 23))
    await until(lambda: entries_are(sam, 3))

    # Every case is kept, queued and urgent: nothing hidden, nothing dropped.
    data = await queue(sam)
    assert data["counts"] == {"waiting": 23, "urgent": 23, "claimed": 0}
    # One alert per source at once (and one for the case with no source).
    await until(lambda: len(alerts.urgent) == 3)
    assert len(stream.urgent()) == 3
    await asyncio.sleep(0.3)
    assert len(alerts.urgent) == 3 and alerts.more == []
    # When the window ends, one summary per source for the rest.
    await until(lambda: len(alerts.more) == 2, timeout=WINDOW + 5)
    assert sorted(more for _, more in alerts.more) == [1, 19]
    await until(lambda: sum(bool(e.get("more")) for e in stream.events) == 2)
    assert sorted(e["more"] for e in stream.urgent() if e.get("more")) == [1, 19]
    assert len(alerts.urgent) == 3  # the summary is not an alert per case

    # The queue: one entry per source, each a group that names how many it holds.
    entries = data["cases"]
    assert len(entries) == 3
    groups = {e["group"]["cases"]: e["group"] for e in entries if "group" in e}
    assert sorted(groups) == [2, 20]
    assert groups[20]["urgent"] == 20
    assert all(e["priority"] == "crisis" for e in entries)
    # Each group's page lists every one of its cases; with the case of its own, that is all.
    shown = {e["id"] for e in entries}
    for group in groups.values():
        members = await queue(sam, f"?group={group['id']}&limit=100")
        assert len(members["cases"]) == group["cases"] and members["more"] is False
        shown |= {c["id"] for c in members["cases"]}
    with sqlite3.connect(running.data_dir / "supportbot.db") as db:
        stored = {row[0] for row in db.execute("SELECT id FROM cases WHERE status = 'queued'")}
        sources = dict(db.execute("SELECT conversation_id, source FROM cases").fetchall())
        everything = "\n".join(line for line in db.iterdump())
    assert shown == stored and len(stored) == 23

    # The source is a keyed hash on the case, the same for one address, never the address.
    assert len({sources[c] for c in school}) == 1 and len({sources[c] for c in home}) == 1
    assert sources[school[0]] != sources[home[0]] and sources[alone] is None
    assert sources[school[0]] == groups[20]["id"] and len(groups[20]["id"]) == 32
    for text in (everything, json.dumps(data), json.dumps(stream.events)):
        assert SCHOOL not in text and "2001:db8" not in text
    stream.task.cancel()


async def test_a_claimed_case_leaves_its_group_and_closing_forgets_the_source(
    running: Running, alerts: Alerts, sam: ApiModerator
) -> None:
    school = [await in_crisis(running, f"school-{i}", SCHOOL) for i in range(4)]
    await until(lambda: entries_are(sam, 1))  # the desk notes the source just after the case opens
    (entry,) = (await queue(sam))["cases"]
    assert entry["group"]["cases"] == 4
    claimed = await sam.post(f"/console/api/cases/{entry['id']}/claim")
    assert claimed.status_code == 200
    entries = (await queue(sam))["cases"]
    assert len(entries) == 2  # the group of three still waiting, and sam's own case
    by_status = {e["status"]: e for e in entries}
    assert by_status["queued"]["group"]["cases"] == 3
    assert by_status["claimed"]["id"] == entry["id"] and "group" not in by_status["claimed"]
    closed = await sam.post(f"/console/api/cases/{entry['id']}/close", {"outcome": "other"})
    assert closed.status_code == 200
    with sqlite3.connect(running.data_dir / "supportbot.db") as db:
        (source,) = db.execute("SELECT source FROM cases WHERE id = ?", (entry["id"],)).fetchone()
        left = db.execute(
            "SELECT count(*) FROM cases WHERE source IS NOT NULL AND status = 'queued'"
        ).fetchone()
    assert source is None and left == (3,)
    assert len(school) == 4


async def test_after_the_window_the_next_crisis_from_the_source_alerts_at_once(
    running: Running, alerts: Alerts, sam: ApiModerator
) -> None:
    await in_crisis(running, "first", SCHOOL)
    await in_crisis(running, "second", SCHOOL)
    await until(lambda: len(alerts.more) == 1, timeout=WINDOW + 5)
    assert len(alerts.urgent) == 1
    await in_crisis(running, "third", SCHOOL)
    await until(lambda: len(alerts.urgent) == 2)  # a new window: alerted straight away


async def test_the_queue_screen_shows_one_group_that_expands_and_says_how_many_more(
    running: Running, alerts: Alerts, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await sign_in_browser(context, running.server, "sam@example.org")
    await page.evaluate(
        "() => { window.__notes = []; window.Notification = class { "
        "static permission = 'granted'; "
        "constructor(title, options) { window.__notes.push(title); } } }"
    )
    for i in range(6):
        await in_crisis(running, f"school-{i}", SCHOOL)
    await in_crisis(running, "elsewhere", HOME)
    rows = page.locator("#queue-body tr[data-case]")
    await until(lambda: _text_is(page, "#queue-counts", "7 waiting, 7 urgent"))
    await until(lambda: _count_is(page, "#queue-body tr[data-case]", 2))
    lead = page.locator("#queue-body tr[data-group]").first
    assert "6 cases from one source, 6 urgent" in await lead.inner_text()
    toggle = lead.locator("button.group-toggle")
    assert await toggle.get_attribute("aria-expanded") == "false"
    await toggle.click()
    await until(lambda: _count_is(page, "#queue-body tr[data-case]", 7))
    assert await page.locator("#queue-body tr.member").count() == 5
    toggle = page.locator("#queue-body tr[data-group]:not(.member) button.group-toggle")
    assert await toggle.get_attribute("aria-expanded") == "true"
    assert await toggle.evaluate("b => b === document.activeElement")  # focus kept on it
    await _no_accessibility_violations(page, "#view-queue")
    # One browser alert per source at once; then the summary of the other five.
    await until(lambda: _notes(page, 3), timeout=WINDOW + 5)
    notes = await page.evaluate("() => window.__notes")
    assert notes.count("Urgent case waiting") == 2
    assert "5 more urgent cases from the same source" in notes
    status = await page.locator("#status").inner_text()
    assert "5 more urgent cases from the same source" in status
    await toggle.click()
    await until(lambda: _count_is(page, "#queue-body tr[data-case]", 2))
    assert await rows.count() == 2


async def _text_is(page: Page, selector: str, text: str) -> bool:
    return (await page.locator(selector).inner_text()).strip() == text


async def _count_is(page: Page, selector: str, n: int) -> bool:
    return await page.locator(selector).count() == n


async def _notes(page: Page, n: int) -> bool:
    return len(await page.evaluate("() => window.__notes")) >= n


async def _no_accessibility_violations(page: Page, selector: str) -> None:
    from axe_playwright_python.async_playwright import Axe

    result = await Axe().run(page, context={"include": [[selector]]})
    violations = result.response["violations"]
    assert violations == [], json.dumps(
        [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations], indent=1
    )
