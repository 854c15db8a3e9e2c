"""The queue a page at a time (issue 11, "a paged queue"): the endpoint never returns thousands of
cases at once; pages come crisis first, then under-18s, then longest waiting, and walking them
shows every open case exactly once; the counts say how many wait and how many are urgent; the
screen shows a page, the counts and "more". Over real HTTP against the whole app (uvicorn in a
thread of this process, so cases can be stored through the app's own writer), and in Chromium.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiosqlite
import pytest
from playwright.async_api import Browser, Locator

from tests.auxil.console import sign_in_api, sign_in_browser
from tests.auxil.inprocess import Running, served

T0 = 1_800_000_000.0


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    data = tmp_path / "data"
    data.mkdir()
    with served(data, {"alex@example.org": "admin", "sam@example.org": "moderator"}) as app:
        yield app


async def store_cases(running: Running, cases: list[tuple[int, str, float]]) -> None:
    """Open cases as storage does when people ask for a person: (rank, status, queued_at)."""

    async def work(db: aiosqlite.Connection) -> None:
        await db.executemany(
            "INSERT INTO cases (conversation_id, channel, rank, reason, status, owner, "
            "opened_at, queued_at) VALUES (?, 'web', ?, ?, ?, ?, ?, ?)",
            [
                (
                    f"conv-{i}",
                    rank,
                    "crisis" if rank == 0 else "asked",
                    status,
                    1 if status != "queued" else None,
                    at,
                    at,
                )
                for i, (rank, status, at) in enumerate(cases)
            ],
        )

    await running.run(running.console.repository.submit(work))


def expected_order(cases: list[tuple[int, str, float]]) -> list[int]:
    """Case ids (1-based, in storing order) in the queue's order: waiting before claimed; crisis,
    then under-18s, then the rest; longest waiting first. Closed cases are not in the queue."""
    open_cases = [(i + 1, c) for i, c in enumerate(cases) if c[1] != "closed"]
    open_cases.sort(key=lambda item: (item[1][1] == "claimed", item[1][0], item[1][2], item[0]))
    return [case_id for case_id, _ in open_cases]


def mixed(n: int) -> list[tuple[int, str, float]]:
    """n cases: every 7th a crisis, every 5th under 18, some claimed, some closed; waiting times
    not in id order, so the order has to come from the queue, not from the ids."""
    cases = []
    for i in range(n):
        rank = 0 if i % 7 == 3 else 1 if i % 5 == 1 else 2
        status = "claimed" if i % 97 == 5 else "closed" if i % 89 == 7 else "queued"
        cases.append((rank, status, T0 + ((i * 7919) % n)))
    return cases


async def test_the_queue_comes_a_page_at_a_time_in_order_with_its_counts(
    running: Running,
) -> None:
    cases = mixed(2400)
    await store_cases(running, cases)
    order = expected_order(cases)
    waiting = [c for c in cases if c[1] == "queued"]
    moderator = await sign_in_api(running.server, "sam@example.org")
    try:
        first = await moderator.client.get("/console/api/queue")
        assert first.status_code == 200
        data = first.json()
        # One page, not thousands; the counts cover everything open.
        assert len(data["cases"]) == 50 and data["more"] is True
        assert len(first.content) < 60_000
        assert data["counts"] == {
            "waiting": len(waiting),
            "urgent": sum(rank < 2 for rank, _, _ in waiting),
            "claimed": sum(c[1] == "claimed" for c in cases),
        }
        assert [c["id"] for c in data["cases"]] == order[:50]
        assert data["cases"][0]["priority"] == "crisis"
        # Walking the pages shows every open case exactly once, in the queue's order.
        seen: list[int] = []
        offset = 0
        while True:
            page = (
                await moderator.client.get(f"/console/api/queue?offset={offset}&limit=100")
            ).json()
            assert len(page["cases"]) <= 100
            seen += [c["id"] for c in page["cases"]]
            offset += len(page["cases"])
            if not page["more"]:
                break
        assert seen == order
        statuses = [c["status"] for c in page["cases"]]
        assert statuses[-1] == "claimed"  # claimed cases come after everyone waiting
        # Bounded: a huge limit gets the largest page; far or malformed pages are refused.
        big = (await moderator.client.get("/console/api/queue?limit=100000")).json()
        assert len(big["cases"]) == 100
        for query in ("offset=100001", "offset=-1", "offset=x", "limit=1e3", "offset=9" * 20):
            assert (await moderator.client.get(f"/console/api/queue?{query}")).status_code == 400
    finally:
        await moderator.client.aclose()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def rows_at_least(rows: Locator, n: int) -> bool:
    return await rows.count() >= n


async def test_the_queue_screen_shows_a_page_the_counts_and_more(
    running: Running, browser: Browser
) -> None:
    cases = [(0 if i < 5 else 2, "queued", T0 + i) for i in range(120)]
    await store_cases(running, cases)
    page = await sign_in_browser(await browser.new_context(), running.server, "sam@example.org")
    rows = page.locator("#queue-body tr[data-case]")
    await until(lambda: rows_at_least(rows, 50))
    assert await rows.count() == 50
    assert await page.locator("#queue-counts").inner_text() == "120 waiting, 5 urgent"
    assert "crisis" in (await rows.first.locator(".priority").inner_text()).lower()
    assert await page.title() == "(120) Moderator console"
    more = page.locator("#queue-more")
    assert await more.is_visible()
    await more.click()
    await until(lambda: rows_at_least(rows, 100))
    assert await rows.count() == 100
    assert "first 100" in await page.locator("#status").inner_text()  # said in the live region
    await more.click()
    await until(lambda: rows_at_least(rows, 120))
    assert await rows.count() == 120
    assert await more.is_hidden()
    ids = [int(x) for x in await rows.evaluate_all("rs => rs.map(r => r.dataset.case)")]
    assert ids == expected_order(cases)
    # With nothing more to show, keyboard focus moved onto the last row rather than vanishing.
    assert await page.evaluate("document.activeElement.closest('tr')?.dataset.case") == str(ids[-1])
