"""Two-factor sign-in (issue 11): TOTP codes with pyotp, one-time recovery codes, the requirement
for every account; secrets sealed and codes hashed at rest; audited without codes. Over a real
database, and over real HTTP against `supportbot run`."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest

from bot.config import Settings
from bot.console.signin import Console
from bot.console.twofactor import TwoFactor
from bot.crypto import Keyring
from bot.storage.migrations import MIGRATIONS
from bot.storage.sqlite import SqliteRepository
from tests.auxil.browser import ROOT, Server, free_port
from tests.auxil.console import PASSWORD as SERVER_PASSWORD
from tests.auxil.console import add_moderator, login_token

PASSWORD = "correct horse battery"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def repo(keyring: Keyring, tmp_path: Path) -> AsyncIterator[SqliteRepository]:
    repository = SqliteRepository(tmp_path / "bot.db", keyring)
    await repository.open()
    yield repository
    await repository.close()


@pytest.fixture
def console(repo: SqliteRepository, clock: Clock) -> Console:
    async def no_wait(seconds: float) -> None:
        return None

    return dataclasses.replace(Console.from_settings(repo, Settings(), clock=clock), sleep=no_wait)


async def everything_stored(repo: SqliteRepository) -> bytes:
    dump = b""
    for table in ("moderator_totp", "moderator_recovery", "audit", "console_settings"):
        dump += repr(await repo.fetch(f"SELECT * FROM {table}")).encode()
    return dump


async def test_set_up_confirm_and_sign_in_with_a_code(
    console: Console, repo: SqliteRepository, clock: Clock
) -> None:
    ann = await console.accounts.add("ann@example.org", "moderator", PASSWORD)
    two = console.two_factor
    secret, uri = await two.begin(ann.id, ann.email)
    assert uri.startswith("otpauth://totp/") and parse_qs(urlparse(uri).query)["secret"] == [secret]
    # Not on until confirmed: the password alone still signs in.
    assert not await two.enabled(ann.id)
    assert (await console.sign_in(ann.email, PASSWORD, "192.0.2.1")).token
    totp = pyotp.TOTP(secret)
    assert await two.confirm(ann.id, "000000" if totp.at(T0) != "000000" else "111111") is None
    codes = await two.confirm(ann.id, totp.at(T0))
    assert codes is not None and len(set(codes)) == 10
    assert await two.enabled(ann.id)
    with pytest.raises(ValueError, match="already"):
        await two.begin(ann.id, ann.email)

    # Now the password leads to a second step, without a session.
    first = await console.sign_in(ann.email, PASSWORD, "192.0.2.1")
    assert first.needs_code and first.moderator == ann and not first.token
    clock.now += 30
    wrong = await console.sign_in_code(
        ann.id, "123456" if totp.at(clock.now) != "123456" else "1", "192.0.2.1"
    )
    assert wrong.moderator is None and not wrong.token
    right = await console.sign_in_code(ann.id, totp.at(clock.now), "192.0.2.1")
    assert right.moderator == ann and right.token
    assert await console.sessions.check(right.token) is not None
    # The same code can't be used twice.
    again = await console.sign_in_code(ann.id, totp.at(clock.now), "192.0.2.1")
    assert again.moderator is None

    # The secret is sealed, the recovery codes hashed: neither is readable at rest.
    stored = await everything_stored(repo)
    assert secret.encode() not in stored
    for code in codes:
        assert code.encode() not in stored and code.replace("-", "").encode() not in stored
    entries = [(e.action, e.detail) for e in await console.audit.list(limit=50)]
    assert ("signin", "code") in entries and ("signin_failed", "wrong code") in entries


async def test_recovery_codes_work_once(console: Console, clock: Clock) -> None:
    ann = await console.accounts.add("ann@example.org", "moderator", PASSWORD)
    secret, _ = await console.two_factor.begin(ann.id, ann.email)
    codes = await console.two_factor.confirm(ann.id, pyotp.TOTP(secret).at(T0))
    assert codes is not None
    used = await console.sign_in_code(ann.id, codes[3].upper(), "192.0.2.1")
    assert used.moderator == ann and used.token
    assert (await console.sign_in_code(ann.id, codes[3], "192.0.2.1")).moderator is None
    assert await console.two_factor.recovery_left(ann.id) == 9
    actions = [e.action for e in await console.audit.list(limit=50)]
    assert "recovery_code_used" in actions


async def test_the_requirement_and_a_reset(repo: SqliteRepository, clock: Clock) -> None:
    two = TwoFactor(repo, clock=clock)
    assert not await two.required()
    await two.set_required(True)
    assert await TwoFactor(repo).required()
    await repo.submit(
        lambda db: db.execute(
            "INSERT INTO moderators (email, role, password_hash, password_changed_at, "
            "created_at) VALUES ('a@example.org', 'admin', 'x', 0, 0)"
        )
    )
    secret, _ = await two.begin(1, "a@example.org")
    assert await two.confirm(1, pyotp.TOTP(secret).at(T0)) is not None
    await two.reset(1)
    assert not await two.enabled(1) and await two.recovery_left(1) == 0
    await two.begin(1, "a@example.org")  # set up again after a reset


# --- the tables come from the migrations; old databases upgrade ------------------------------

# As bot/console/twofactor.py made its tables itself, when first needed, before migration 7.
_TABLES_MADE_BY_THE_CONSOLE = """
CREATE TABLE IF NOT EXISTS moderator_totp (
    moderator_id INTEGER PRIMARY KEY REFERENCES moderators (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 0,
    last_step INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS moderator_recovery (
    moderator_id INTEGER NOT NULL REFERENCES moderators (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (moderator_id, code_hash)
);
CREATE TABLE IF NOT EXISTS console_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _old_database(path: Path, *, console_ran: bool) -> None:
    """A database at schema 6 (before these migrations), with an account and an open case; if
    the console ran on it, its own two-factor tables too, with a second factor set up."""
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:6]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 6")
        db.execute(
            "INSERT INTO moderators (email, role, password_hash, password_changed_at, created_at)"
            " VALUES ('ann@example.org', 'admin', 'x', 0, 0)"
        )
        db.execute(
            "INSERT INTO cases (conversation_id, channel, rank, reason, opened_at, queued_at) "
            "VALUES ('c1', 'web', 0, 'crisis', 1, 1)"
        )
        if console_ran:
            db.executescript(_TABLES_MADE_BY_THE_CONSOLE)
            db.execute(
                "INSERT INTO moderator_totp (moderator_id, sealed, confirmed, created_at) "
                "VALUES (1, x'00', 1, 0)"
            )
            db.execute("INSERT INTO moderator_recovery VALUES (1, 'hash')")
            db.execute("INSERT INTO console_settings VALUES ('require_2fa', 'on')")


def _schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        shape = [(t, repr(db.execute(f"PRAGMA table_info({t})").fetchall())) for t in tables]
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
    return sorted(shape + indexes)


@pytest.mark.parametrize("console_ran", [True, False], ids=["with-its-tables", "before-2fa"])
async def test_an_old_database_upgrades_cleanly(
    keyring: Keyring, tmp_path: Path, console_ran: bool
) -> None:
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    _old_database(old, console_ran=console_ran)
    for path in (old, fresh):
        repository = SqliteRepository(path, keyring)
        await repository.open()
        if path == old:
            two = TwoFactor(repository)
            # What was there is kept; what wasn't, is there now.
            assert await two.required() is console_ran
            assert await two.enabled(1) is console_ran
            assert await two.recovery_left(1) == int(console_ran)
            rows = await repository.fetch("SELECT conversation_id, source FROM cases")
            assert rows == [("c1", None)]  # where it came from: not known for old cases
        await repository.close()
    with sqlite3.connect(old) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    # An upgraded database has exactly the schema of a new one.
    assert _schema(old) == _schema(fresh)


# --- over HTTP ---------------------------------------------------------------------------------


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
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
    return done


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("twofactor") / "data"
    data.mkdir()
    running = Server(data, free_port(), {})
    running.start()
    add_moderator(running, "kim@example.org")
    yield running
    running.stop()


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


async def test_required_two_factor_is_set_up_in_the_console_then_asked_at_sign_in(
    server: Server,
) -> None:
    await asyncio.to_thread(cli, server, "require-2fa", "on")
    async with httpx.AsyncClient(base_url=server.url) as kim:
        page = await kim.get("/console/login")
        signed = await kim.post(
            "/console/login",
            data={
                "email": "kim@example.org",
                "password": SERVER_PASSWORD,
                "csrf": login_token(page.text),
            },
        )
        assert signed.status_code == 303
        # Without a second factor, only the set-up page (and signing out) is reachable.
        assert (await kim.get("/console/api/queue")).status_code == 403
        console = await kim.get("/console")
        assert console.status_code == 303 and console.headers["location"] == "/console/2fa"
        setup_page = await kim.get("/console/2fa")
        assert "requires two-factor" in setup_page.text
        csrf = _csrf(setup_page.text)
        shown = await kim.post("/console/2fa/setup", data={"csrf": csrf})
        uri = re.search(r'id="twofa-uri" href="([^"]+)"', shown.text)
        assert uri
        secret = parse_qs(urlparse(uri.group(1).replace("&amp;", "&")).query)["secret"][0]
        totp = pyotp.TOTP(secret)
        wrong = await kim.post("/console/2fa/confirm", data={"csrf": csrf, "code": "12"})
        assert wrong.status_code == 400
        done = await kim.post("/console/2fa/confirm", data={"csrf": csrf, "code": totp.now()})
        assert done.status_code == 200
        codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
        assert len(codes) == 10
        assert (await kim.get("/console/api/queue")).status_code == 200
        assert "<code" not in (await kim.get("/console/2fa")).text  # never shown again

    async with httpx.AsyncClient(base_url=server.url) as kim:
        page = await kim.get("/console/login")
        step = await kim.post(
            "/console/login",
            data={
                "email": "kim@example.org",
                "password": SERVER_PASSWORD,
                "csrf": login_token(page.text),
            },
        )
        assert step.status_code == 200 and 'name="pending"' in step.text
        assert not kim.cookies  # no session before the code
        pending = re.search(r'name="pending" value="([^"]+)"', step.text)
        assert pending
        form = {"csrf": login_token(step.text), "pending": pending.group(1)}
        refused = await kim.post("/console/login/code", data={**form, "code": "000000x"})
        assert refused.status_code == 401 and not kim.cookies
        forged = await kim.post(
            "/console/login/code", data={**form, "pending": "1.1.x", "code": codes[0]}
        )
        assert forged.status_code == 401
        ok = await kim.post("/console/login/code", data={**form, "code": codes[0]})
        assert ok.status_code == 303 and ok.headers["location"] == "/console"
        assert (await kim.get("/console/api/queue")).status_code == 200

    listed = await asyncio.to_thread(cli, server, "list")
    assert "2fa on" in listed.stdout and "required" in listed.stdout
    await asyncio.to_thread(cli, server, "reset-2fa", "kim@example.org")
    await asyncio.to_thread(cli, server, "require-2fa", "off")
    # Audited (who and what, never a code or the secret).
    with sqlite3.connect(server.data_dir / "supportbot.db") as db:
        log = db.execute("SELECT action, subject, detail FROM audit ORDER BY id").fetchall()
    assert ("two_factor_required", "", "on") in log
    assert ("two_factor_on", "kim@example.org", "") in log
    assert ("recovery_code_used", "kim@example.org", "") in log
    assert ("two_factor_reset", "kim@example.org", "") in log
    assert ("two_factor_required", "", "off") in log
    assert secret not in repr(log) and codes[0] not in repr(log)
    # Neither the secret nor a code reaches the server's output.
    logged = (server.data_dir / "server.log").read_text(errors="replace")
    assert secret not in logged and codes[0] not in logged and SERVER_PASSWORD not in logged
