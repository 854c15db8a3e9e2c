"""Moderator accounts, sessions, sign-in throttling and the audit log, over a real database."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from argon2 import PasswordHasher
from starlette.responses import Response

from bot.config import Settings
from bot.console.accounts import AccountError, Accounts
from bot.console.audit import Audit
from bot.console.sessions import COOKIE, Sessions, cookie_name, cookie_options, csrf_ok
from bot.console.signin import Console
from bot.console.throttle import Throttle, Turn, ip_key
from bot.crypto import Keyring, load_or_create_secret
from bot.storage.sqlite import SqliteRepository

PASSWORD = "correct horse battery"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
    return Console.from_settings(repo, Settings(), clock=clock)


@pytest.fixture
def accounts(console: Console) -> Accounts:
    return console.accounts


@pytest.fixture
def sessions(console: Console) -> Sessions:
    return console.sessions


async def stored_hash(repo: SqliteRepository, email: str) -> str:
    rows = await repo.fetch("SELECT password_hash FROM moderators WHERE email = ?", (email,))
    return str(rows[0][0])


# --- accounts ------------------------------------------------------------------------------------


async def test_passwords_are_argon2id_with_the_asvs_parameters(
    accounts: Accounts, repo: SqliteRepository
) -> None:
    added = await accounts.add("  Ann@Example.ORG ", "admin", PASSWORD)
    assert added.email == "ann@example.org" and added.role == "admin"
    stored = await stored_hash(repo, "ann@example.org")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored
    assert await accounts.verify("ANN@example.org ", PASSWORD) == added


async def test_wrong_password_unknown_email_and_disabled_are_refused(accounts: Accounts) -> None:
    await accounts.add("ann@example.org", "moderator", PASSWORD)
    assert await accounts.verify("ann@example.org", PASSWORD + "!") is None
    assert await accounts.verify("nobody@example.org", PASSWORD) is None
    assert await accounts.verify("ann@example.org", "x" * 5000) is None
    await accounts.disable("ann@example.org")
    assert await accounts.verify("ann@example.org", PASSWORD) is None
    await accounts.enable("ann@example.org")
    assert await accounts.verify("ann@example.org", PASSWORD) is not None


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("ann@example.org", "moderator", "short", "at least 12 characters"),
        ("ann.long@example.org", "moderator", " Ann.Long@Example.org", "not be the email"),
        ("ann@example.org", "owner", PASSWORD, "role must be one of"),
        ("not an email", "moderator", PASSWORD, "not an email address"),
    ],
)
async def test_policy(
    accounts: Accounts, email: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        await accounts.add(email, role, password)
    assert await accounts.list() == []


async def test_duplicates_and_unknown_accounts_are_errors(accounts: Accounts) -> None:
    await accounts.add("ann@example.org", "moderator", PASSWORD)
    with pytest.raises(AccountError, match="already exists"):
        await accounts.add("ANN@example.org", "admin", PASSWORD)
    with pytest.raises(AccountError, match=r"no moderator with email bob@example\.org"):
        await accounts.disable("bob@example.org")
    with pytest.raises(AccountError, match="no moderator with email"):
        await accounts.enable("bob@example.org")
    with pytest.raises(AccountError, match="no moderator with email"):
        await accounts.reset_password("bob@example.org", PASSWORD)
    assert [m.email for m in await accounts.list()] == ["ann@example.org"]


async def test_hashes_with_old_parameters_are_upgraded_at_sign_in(
    repo: SqliteRepository, accounts: Accounts, sessions: Sessions, clock: Clock
) -> None:
    weak = Accounts(repo, hasher=PasswordHasher(time_cost=1, memory_cost=8192), clock=clock)
    added = await weak.add("ann@example.org", "moderator", PASSWORD)
    assert (await stored_hash(repo, added.email)).startswith("$argon2id$v=19$m=8192,t=1,p=4$")
    token, _ = await sessions.start(added.id)
    clock.advance(5)
    assert await accounts.verify(added.email, PASSWORD) == added
    assert (await stored_hash(repo, added.email)).startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    # An upgrade is not a password change: the session goes on.
    assert await sessions.check(token) is not None
    assert await accounts.verify(added.email, PASSWORD) == added


# --- sessions ------------------------------------------------------------------------------------


async def test_only_the_token_hash_is_stored(
    accounts: Accounts, sessions: Sessions, repo: SqliteRepository
) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    token, csrf = await sessions.start(ann.id)
    assert len(token) >= 43 and token != csrf
    rows = await repo.fetch("SELECT token_hash, csrf FROM moderator_sessions")
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(), csrf)]
    info = await sessions.check(token)
    assert info is not None and info.moderator == ann and info.csrf == csrf
    for wrong in (None, "", token[:-1], "x" * 1000):
        assert await sessions.check(wrong) is None
    await sessions.end(token)
    assert await sessions.check(token) is None


async def test_idle_timeout(accounts: Accounts, sessions: Sessions, clock: Clock) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    token, _ = await sessions.start(ann.id)
    clock.advance(29 * 60)
    assert await sessions.check(token) is not None  # use renews it
    clock.advance(29 * 60)
    assert await sessions.check(token) is not None
    clock.advance(30 * 60 + 1)
    assert await sessions.check(token) is None
    clock.advance(-30 * 60)  # the expired session was deleted, not just refused
    assert await sessions.check(token) is None


async def test_last_seen_is_written_at_most_once_a_minute(
    accounts: Accounts, sessions: Sessions, clock: Clock, repo: SqliteRepository
) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    token, _ = await sessions.start(ann.id)
    clock.advance(30)
    await sessions.check(token)
    assert await repo.fetch("SELECT last_seen FROM moderator_sessions") == [(T0,)]
    clock.advance(30)
    await sessions.check(token)
    assert await repo.fetch("SELECT last_seen FROM moderator_sessions") == [(T0 + 60,)]


async def test_absolute_timeout(accounts: Accounts, sessions: Sessions, clock: Clock) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    token, _ = await sessions.start(ann.id)
    for _ in range(12 * 3):
        clock.advance(20 * 60)
        assert await sessions.check(token) is not None  # busy all day, never idle
    clock.advance(1)
    assert await sessions.check(token) is None


async def test_disabling_ends_sessions(accounts: Accounts, sessions: Sessions) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    token, _ = await sessions.start(ann.id)
    await accounts.disable(ann.email)
    await accounts.enable(ann.email)
    assert await sessions.check(token) is None


async def test_reset_password_ends_every_session(
    accounts: Accounts, sessions: Sessions, clock: Clock
) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    bob = await accounts.add("bob@example.org", "moderator", PASSWORD)
    tokens = [(await sessions.start(ann.id))[0] for _ in range(3)]
    bobs, _ = await sessions.start(bob.id)
    clock.advance(1)
    await accounts.reset_password(" ANN@example.org", "a brand new passphrase")
    for token in tokens:
        assert await sessions.check(token) is None
    assert await sessions.check(bobs) is not None
    assert await accounts.verify(ann.email, PASSWORD) is None
    assert await accounts.verify(ann.email, "a brand new passphrase") is not None


async def test_change_password(
    accounts: Accounts, sessions: Sessions, clock: Clock, repo: SqliteRepository
) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    token, _ = await sessions.start(ann.id)
    with pytest.raises(AccountError, match="current password is wrong"):
        await accounts.change_password(ann.id, "not my password", "a brand new passphrase")
    with pytest.raises(AccountError, match="at least 12"):
        await accounts.change_password(ann.id, PASSWORD, "short")
    with pytest.raises(AccountError, match="must differ"):
        await accounts.change_password(ann.id, PASSWORD, PASSWORD)
    assert await sessions.check(token) is not None
    clock.advance(1)
    changed = await accounts.change_password(ann.id, PASSWORD, "a brand new passphrase")
    assert changed.password_changed_at == clock.now
    assert await sessions.check(token) is None
    assert await accounts.verify(ann.email, "a brand new passphrase") == changed


async def test_a_session_older_than_the_password_is_refused_even_if_its_row_survived(
    accounts: Accounts, sessions: Sessions, clock: Clock, repo: SqliteRepository
) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    token, _ = await sessions.start(ann.id)
    rows = await repo.fetch("SELECT * FROM moderator_sessions")
    clock.advance(1)
    await accounts.reset_password(ann.email, "a brand new passphrase")

    async def restore(db: aiosqlite.Connection) -> None:  # e.g. a backup restored
        await db.execute("INSERT INTO moderator_sessions VALUES (?, ?, ?, ?, ?)", rows[0])

    await repo.submit(restore)
    assert await sessions.check(token) is None
    fresh, _ = await sessions.start(ann.id)
    assert await sessions.check(fresh) is not None


async def test_csrf_compare(accounts: Accounts, sessions: Sessions) -> None:
    ann = await accounts.add("ann@example.org", "moderator", PASSWORD)
    token, csrf = await sessions.start(ann.id)
    info = await sessions.check(token)
    assert info is not None
    assert csrf_ok(info, csrf)
    for wrong in (None, "", csrf[:-1], csrf + "x", "é" * 43, token):
        assert not csrf_ok(info, wrong)


def test_cookie_attributes() -> None:
    assert cookie_name(True) == COOKIE == "__Host-supportbot"
    assert cookie_name(False) == "supportbot_console"
    secure = Response()
    secure.set_cookie(value="tok", **cookie_options(True))
    header = secure.headers["set-cookie"]
    assert header.startswith("__Host-supportbot=tok;")
    for part in ("HttpOnly", "Path=/", "SameSite=strict", "Secure"):
        assert part in header
    assert "Domain" not in header and "Max-Age" not in header
    plain = Response()
    plain.set_cookie(value="tok", **cookie_options(False))
    header = plain.headers["set-cookie"]
    assert header.startswith("supportbot_console=tok;") and "Secure" not in header
    assert "HttpOnly" in header and "SameSite=strict" in header
    gone = Response()
    gone.delete_cookie(**cookie_options(True))
    assert "Max-Age=0" in gone.headers["set-cookie"]


# --- throttling ----------------------------------------------------------------------------------


async def test_failures_beyond_the_free_ones_wait_twice_as_long_each_time(
    repo: SqliteRepository, clock: Clock
) -> None:
    throttle = Throttle(repo, clock=clock)
    for _ in range(5):
        assert await throttle.attempt("ann@example.org", "192.0.2.1") == Turn(0.0)
    waits = []
    for _ in range(9):
        turn = await throttle.attempt("ANN@example.org", "192.0.2.1")
        assert not turn.refused
        waits.append(turn.wait)
        clock.advance(turn.wait)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]  # capped: slowed, never locked
    # Forgotten once the failures are older than the window.
    clock.advance(15 * 60)
    assert await throttle.attempt("ann@example.org", "192.0.2.1") == Turn(0.0)


async def test_an_attacker_elsewhere_cannot_slow_or_lock_out_the_moderator(
    repo: SqliteRepository, clock: Clock
) -> None:
    throttle = Throttle(repo, clock=clock)
    turns = [await throttle.attempt("ann@example.org", "198.51.100.7") for _ in range(200)]
    assert any(turn.refused for turn in turns)  # the attacker's own flood is held back
    # Ann, from her own address, signs in at once.
    assert await throttle.attempt("ann@example.org", "192.0.2.1") == Turn(0.0)


async def test_an_address_slows_after_twenty_failures_across_emails(
    repo: SqliteRepository, clock: Clock
) -> None:
    throttle = Throttle(repo, clock=clock)
    for n in range(20):
        assert await throttle.attempt(f"guess{n}@example.org", "2001:db8::1") == Turn(0.0)
    # The same /64 is the same address; another network is not.
    assert await throttle.attempt("ann@example.org", "2001:db8::ffff:1") == Turn(1.0)
    assert await throttle.attempt("ann@example.org", "2001:db8:0:1::1") == Turn(0.0)
    assert ip_key("::ffff:192.0.2.1") == ip_key("192.0.2.1") == "ip:192.0.2.1"
    clock.advance(16 * 60)
    assert await throttle.attempt("ann@example.org", "2001:db8::1") == Turn(0.0)


async def test_success_clears_the_pair_count(repo: SqliteRepository, clock: Clock) -> None:
    throttle = Throttle(repo, clock=clock)
    for _ in range(5):
        await throttle.attempt("ann@example.org", "192.0.2.1")
    await throttle.succeeded("ann@example.org", "192.0.2.1")
    for _ in range(5):
        assert await throttle.attempt("ann@example.org", "192.0.2.1") == Turn(0.0)
    rows = await repo.fetch("SELECT key, count(*) FROM signin_attempts GROUP BY key ORDER BY key")
    assert rows == [("ip:192.0.2.1", 9), ("pair:ann@example.org|192.0.2.1", 5)]


async def test_parallel_guesses_queue_up_one_after_another(
    repo: SqliteRepository, clock: Clock
) -> None:
    throttle = Throttle(repo, clock=clock)
    turns = await asyncio.gather(
        *(throttle.attempt("ann@example.org", "192.0.2.1") for _ in range(30))
    )
    allowed = sorted(turn.wait for turn in turns if not turn.refused)
    # Each turn is reserved after the one before: 5 free, then 1, 2, 4, 8 and 16 s apart.
    assert allowed == [0, 0, 0, 0, 0, 1, 3, 7, 15, 31]
    assert all(turn.wait > 60 for turn in turns if turn.refused)


async def test_old_attempts_are_pruned(repo: SqliteRepository, clock: Clock) -> None:
    throttle = Throttle(repo, clock=clock)
    for n in range(3):
        await throttle.attempt(f"user{n}@example.org", "192.0.2.1")
    clock.advance(15 * 60)
    await throttle.attempt("ann@example.org", "192.0.2.2")
    assert len(await repo.fetch("SELECT * FROM signin_attempts")) == 2
    clock.advance(15 * 60)
    assert await throttle.prune() == 2


# --- signing in, and the audit log ---------------------------------------------------------------


async def test_sign_in_throttles_and_audits_without_secrets(
    console: Console, repo: SqliteRepository
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    console = dataclasses.replace(console, sleep=sleep)
    ann = await console.accounts.add("ann@example.org", "moderator", PASSWORD)
    refused = await console.sign_in("ann@example.org", "wrong password!", "192.0.2.1")
    assert refused.moderator is None and refused.wait == 0 and not refused.token
    await console.sign_in("stranger typed this", "hunter2 hunter2", "192.0.2.1")
    signed = await console.sign_in("Ann@example.org", PASSWORD, "192.0.2.1")
    assert signed.moderator == ann and signed.token and signed.csrf
    assert (await console.sessions.check(signed.token)) is not None
    for _ in range(5):
        await console.sign_in("ann@example.org", "wrong password!", "192.0.2.1")
    assert slept == []
    # Slowed, not locked: the right password still works, after waiting its turn.
    again = await console.sign_in("ann@example.org", PASSWORD, "192.0.2.1")
    assert again.moderator == ann and slept == [1.0]
    await console.sign_out(again.token)
    await console.sign_out(signed.token)
    assert (await console.sessions.check(signed.token)) is None

    entries = await console.audit.list(limit=100)
    assert [(e.moderator_id, e.action, e.subject, e.detail) for e in reversed(entries)] == [
        (None, "signin_failed", "ann@example.org", "refused"),
        (None, "signin_failed", "", "refused"),
        (ann.id, "signin", "", ""),
        *[(None, "signin_failed", "ann@example.org", "refused")] * 5,
        (ann.id, "signin", "", ""),
        (ann.id, "signout", "", ""),
        (ann.id, "signout", "", ""),
    ]
    everything = repr(await repo.fetch("SELECT * FROM audit"))
    for secret in (PASSWORD, "wrong password", "hunter2", "stranger", signed.token, signed.csrf):
        assert secret not in everything


async def test_audit_list_pages_newest_first(repo: SqliteRepository, clock: Clock) -> None:
    audit = Audit(repo, clock=clock)
    for n in range(5):
        await audit.record(7, "claim", f"conversation-{n}")
        clock.advance(1)
    page = await audit.list(limit=2, offset=1)
    assert [(e.subject, e.at) for e in page] == [
        ("conversation-3", T0 + 3),
        ("conversation-2", T0 + 2),
    ]
    with pytest.raises(ValueError, match="unknown audit action"):
        await audit.record(7, "read_everything")
    with pytest.raises(ValueError, match="not text"):
        await audit.record(7, "note", "conversation-1", "x" * 500)


# --- the command line ----------------------------------------------------------------------------


def moderators(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(data), "SUPPORTBOT_DATABASE_URL": ""}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "moderators", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr
    return done


async def test_cli_add_list_disable_reset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = moderators(data, "add", "Ann@Example.org", "--role", "admin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "added admin ann@example.org" in done.stdout
    assert moderators(data, "add", "bob@example.org", stdin=PASSWORD + "\n").returncode == 0
    listed = moderators(data, "list").stdout.splitlines()
    assert len(listed) == 2
    assert "ann@example.org" in listed[0] and "admin" in listed[0] and "active" in listed[0]
    assert "bob@example.org" in listed[1] and "moderator" in listed[1]
    assert PASSWORD not in moderators(data, "list").stdout

    assert moderators(data, "disable", "bob@example.org").returncode == 0
    assert "disabled" in moderators(data, "list").stdout.splitlines()[1]
    assert moderators(data, "enable", "bob@example.org").returncode == 0
    reset = moderators(data, "reset", "bob@example.org", stdin="another long passphrase\n")
    assert reset.returncode == 0, reset.stderr

    keyring = Keyring(load_or_create_secret("", data))
    repo = SqliteRepository(data / "supportbot.db", keyring)
    await repo.open()
    try:
        accounts = Accounts(repo)
        assert await accounts.verify("bob@example.org", "another long passphrase") is not None
        assert await accounts.verify("ann@example.org", PASSWORD) is not None
        entries = await Audit(repo).list()
        audit_text = repr(await repo.fetch("SELECT * FROM audit"))
    finally:
        await repo.close()
    assert [(e.moderator_id, e.action, e.subject, e.detail) for e in reversed(entries)] == [
        (None, "moderator_add", "ann@example.org", "role=admin"),
        (None, "moderator_add", "bob@example.org", "role=moderator"),
        (None, "moderator_disable", "bob@example.org", ""),
        (None, "moderator_enable", "bob@example.org", ""),
        (None, "moderator_reset", "bob@example.org", ""),
    ]
    assert PASSWORD not in audit_text and "another long" not in audit_text


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "ann@example.org"), "short\n", "error: the password must have at least 12"),
        (("add", "ann@example.org"), "", "error: no password on the first line of stdin"),
        (
            ("add", "ann@example.org"),
            "ann@example.org\n",
            "error: the password must not be the email",
        ),
        (("add", "nonsense"), PASSWORD + "\n", "error: not an email address"),
        (("add", "taken@example.org"), PASSWORD + "\n", "error: a moderator with email taken@"),
        (("disable", "nobody@example.org"), "", "error: no moderator with email nobody@"),
        (("enable", "nobody@example.org"), "", "error: no moderator with email nobody@"),
        (("reset", "nobody@example.org"), PASSWORD + "\n", "error: no moderator with email"),
        (("reset", "taken@example.org"), "short\n", "error: the password must have at least"),
    ],
)
def test_cli_errors_exit_1(tmp_path: Path, args: tuple[str, ...], stdin: str, message: str) -> None:
    data = tmp_path / "data"
    assert moderators(data, "add", "taken@example.org", stdin=PASSWORD + "\n").returncode == 0
    done = moderators(data, *args, stdin=stdin)
    assert done.returncode == 1
    assert done.stderr.startswith(message), done.stderr
    assert done.stdout == ""
