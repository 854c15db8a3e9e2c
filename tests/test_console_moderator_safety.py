"""Moderator safety (issue 11, items 4 and 5): admins force-release, reassign and close any case;
disabling an account hands its cases back and tells each person; the live stream ends with its
session, and "online" counts only live, valid sessions. Over real HTTP against `supportbot run`,
with people on the stand-in Telegram Bot API."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from bot.console.cases import CaseStore
from bot.console.desk import Desk
from bot.crypto import Keyring
from bot.storage.sqlite import SqliteRepository
from tests.auxil.botapi import TOKEN, BotApiStandIn
from tests.auxil.browser import ROOT, Server, free_port
from tests.auxil.console import PASSWORD, ApiModerator, add_moderator, sign_in_api
from tests.auxil.waiting import until as wait_until

LEFT = "has left the chat"
JOINED = "has joined this chat"


until = functools.partial(wait_until, timeout=15.0)


def said(api: BotApiStandIn, chat: int, part: str) -> bool:
    return any(part in text for text in api.texts(chat))


def times_said(api: BotApiStandIn, chat: int, part: str) -> int:
    return sum(part in text for text in api.texts(chat))


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


async def asks_for_a_person(api: BotApiStandIn, chat: int, moderator: ApiModerator) -> int:
    """A person on Telegram asks for a human; the id of the case that opens."""
    before = {c["id"] for c in (await moderator.client.get("/console/api/queue")).json()["cases"]}
    api.text(chat, "/start")
    await until(lambda: said(api, chat, "not your fault"))
    api.text(chat, "person")
    await until(lambda: said(api, chat, "asked for a person"))
    cases = (await moderator.client.get("/console/api/queue")).json()["cases"]
    (case,) = [c["id"] for c in cases if c["id"] not in before]
    return int(case)


async def case_status(moderator: ApiModerator, case: int) -> tuple[str, str | None]:
    found = (await moderator.client.get(f"/console/api/cases/{case}")).json()["case"]
    return found["status"], found["owner"]


async def audit(admin: ApiModerator) -> list[tuple[str, str, str]]:
    entries = (await admin.client.get("/console/api/audit")).json()["entries"]
    return [(e["action"], e["subject"], e["detail"]) for e in entries]


def cli(server: Server, *args: str) -> str:
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(server.data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "moderators", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_an_admin_force_releases_reassigns_and_closes_any_case(
    server: Server, api: BotApiStandIn
) -> None:
    alex = await sign_in_api(server, "alex@example.org")
    sam = await sign_in_api(server, "sam@example.org")
    chat = 5101
    case = await asks_for_a_person(api, chat, sam)
    assert (await sam.post(f"/console/api/cases/{case}/claim")).status_code == 200
    await until(lambda: said(api, chat, JOINED))
    # A moderator can't take someone else's case; an admin can force it back to the queue.
    sam_only = await alex.post(f"/console/api/cases/{case}/assign", {"email": "nobody@x.org"})
    assert sam_only.status_code == 400
    released = await alex.post(f"/console/api/cases/{case}/release")
    assert released.status_code == 200
    assert await case_status(alex, case) == ("queued", None)
    await until(lambda: said(api, chat, LEFT))
    # The bot answers the person again (not relayed to a case nobody owns).
    before = len(api.texts(chat))
    api.text(chat, "/start")
    await until(lambda: len(api.texts(chat)) > before)
    # Releasing again: nobody owns it.
    assert (await alex.post(f"/console/api/cases/{case}/release")).status_code == 409

    # Reassign it to lee; then the admin closes it although lee owns it.
    given = await alex.post(f"/console/api/cases/{case}/assign", {"email": "lee@example.org"})
    assert given.status_code == 200 and given.json()["case"]["owner"] == "lee@example.org"
    await until(lambda: times_said(api, chat, JOINED) == 2)
    lee = await sign_in_api(server, "lee@example.org")
    assert (await lee.client.get(f"/console/api/cases/{case}")).status_code == 200
    assert (await sam.client.get(f"/console/api/cases/{case}")).status_code == 403
    assert (
        await sam.post(f"/console/api/cases/{case}/assign", {"email": "sam@example.org"})
    ).status_code == 403
    closed = await alex.post(f"/console/api/cases/{case}/close", {"outcome": "other"})
    assert closed.status_code == 200
    assert (await case_status(alex, case))[0] == "closed"
    await until(lambda: times_said(api, chat, LEFT) == 2)
    log = await audit(alex)
    assert ("release", f"case {case}", "forced by an admin") in log
    assert ("reassign", f"case {case}", "lee@example.org") in log
    assert ("close", f"case {case}", "other") in log
    for moderator in (alex, sam, lee):
        await moderator.client.aclose()


async def test_disabling_a_moderator_hands_their_cases_back_and_tells_each_person(
    server: Server, api: BotApiStandIn
) -> None:
    alex = await sign_in_api(server, "alex@example.org")
    sam = await sign_in_api(server, "sam@example.org")
    lee = await sign_in_api(server, "lee@example.org")
    by_cli, by_console = 5201, 5202
    first = await asks_for_a_person(api, by_cli, sam)
    assert (await sam.post(f"/console/api/cases/{first}/claim")).status_code == 200
    second = await asks_for_a_person(api, by_console, lee)
    assert (await lee.post(f"/console/api/cases/{second}/claim")).status_code == 200
    await until(lambda: said(api, by_cli, JOINED) and said(api, by_console, JOINED))

    # On the command line, in another process: the running server notices within seconds.
    async with sam.client.stream("GET", "/console/api/stream", timeout=30) as stream:
        lines = stream.aiter_lines()
        assert await anext(lines) == ": connected"
        out = await asyncio.to_thread(cli, server, "disable", "sam@example.org")
        assert "1 case(s) back in the queue" in out

        async def ended() -> None:
            async for _ in lines:
                continue  # drain the stream until the server ends it

        await asyncio.wait_for(ended(), 12)  # the stream closed: sam is no longer online
    await until(lambda: said(api, by_cli, LEFT))
    assert await case_status(alex, first) == ("queued", None)
    before = len(api.texts(by_cli))
    api.text(by_cli, "/start")  # and the bot answers again
    await until(lambda: len(api.texts(by_cli)) > before)

    # In the console, by an admin: at once.
    done = await alex.post("/console/api/moderators/disable", {"email": "lee@example.org"})
    assert done.status_code == 200 and done.json()["released"] == [second]
    assert said(api, by_console, LEFT)
    assert await case_status(alex, second) == ("queued", None)
    assert (await lee.client.get("/console/api/queue")).status_code == 401
    log = await audit(alex)
    assert ("moderator_disable", "sam@example.org", "") in log
    assert ("moderator_disable", "lee@example.org", "") in log
    assert ("release", f"case {first}", "account disabled") in log
    assert ("release", f"case {second}", "account disabled") in log
    for moderator in (alex, sam, lee):
        await moderator.client.aclose()


async def _open_stream(moderator: ApiModerator) -> tuple[asyncio.Task[None], asyncio.Event]:
    connected = asyncio.Event()

    async def read() -> None:
        async with moderator.client.stream("GET", "/console/api/stream", timeout=30) as stream:
            async for line in stream.aiter_lines():
                if line == ": connected":
                    connected.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(connected.wait(), 10)
    return task, connected


async def online(moderator: ApiModerator) -> int:
    return int((await moderator.client.get("/console/api/queue")).json()["online"])


async def test_the_live_stream_ends_with_its_session(server: Server) -> None:
    alex = await sign_in_api(server, "alex@example.org")
    sam = await sign_in_api(server, "sam@example.org")
    assert await online(alex) == 0
    # Signing out ends the stream at once, and sam is no longer counted as online.
    task, _ = await _open_stream(sam)
    await until(lambda: _is(online(alex), 1))
    assert (
        await sam.client.post("/console/logout", headers={"x-csrf-token": sam.csrf})
    ).status_code == 303
    await asyncio.wait_for(task, 5)
    assert await online(alex) == 0

    # A password change ends every stream of that moderator, on every device.
    await sam.client.aclose()
    sam = await sign_in_api(server, "sam@example.org")
    other_device = await sign_in_api(server, "sam@example.org")
    first, _ = await _open_stream(sam)
    second, _ = await _open_stream(other_device)
    await until(lambda: _is(online(alex), 2))
    new = "another long passphrase"
    changed = await sam.post("/console/api/password", {"old": PASSWORD, "new": new})
    assert changed.status_code == 200
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert await online(alex) == 0

    # A reset on the command line (another process) ends it within seconds.
    await sam.client.aclose()
    sam = await sign_in_api(server, "sam@example.org", new)
    task, _ = await _open_stream(sam)
    await until(lambda: _is(online(alex), 1))
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(server.data_dir)}
    reset = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "moderators", "reset", "sam@example.org"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert reset.returncode == 0, reset.stderr
    await asyncio.wait_for(task, 12)
    assert await online(alex) == 0
    for moderator in (alex, sam, other_device):
        await moderator.client.aclose()


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


# --- the desk on its own -------------------------------------------------------------------------


def test_online_counts_only_valid_sessions(keyring: Keyring, tmp_path: Path) -> None:
    desk = Desk(CaseStore(SqliteRepository(tmp_path / "bot.db", keyring)))
    desk.clock = lambda: 1000.0
    live = desk.listen(1, "a", valid_until=1500.0)
    desk.listen(2, "b", valid_until=999.0)  # its session went idle: no longer online
    assert desk.online == 1
    assert desk.disconnect(moderator_id=1) == 1
    assert desk.online == 0 and live.queue.get_nowait() is None  # the stream is told to end
