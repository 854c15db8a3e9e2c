"""`supportbot moderators ...`: manage console accounts from the server's command line.

Passwords come from an interactive prompt (asked twice) or, when stdin is not a terminal, from
its first line; never from the command line, where other users and shell history would see them.
Every change is audited with no moderator id (the command line acted). Disabling an account hands
its cases back to the queue; a running server tells each person within seconds (its desk sweep).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from typing import Any

from bot.config import Settings
from bot.console.accounts import ROLES, AccountError, Accounts, check_email, normalise_email
from bot.console.audit import Audit
from bot.console.cases import CaseStore, disable_moderator
from bot.console.twofactor import TwoFactor
from bot.storage.sqlite import SqliteRepository


def add_parser(commands: Any) -> None:
    """Register `moderators` on the main parser's subparsers."""
    moderators = commands.add_parser("moderators", help="manage moderator console accounts")
    actions = moderators.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an account (password from prompt or stdin)")
    add.add_argument("email")
    add.add_argument("--role", choices=ROLES, default="moderator")
    for name, text in (
        ("disable", "disable an account, end its sessions and hand its cases back"),
        ("enable", "enable a disabled account"),
        ("reset", "set a new password and end the account's sessions"),
        ("reset-2fa", "remove an account's second factor (a lost phone); it sets up again"),
    ):
        actions.add_parser(name, help=text).add_argument("email")
    actions.add_parser("list", help="list accounts")
    require = actions.add_parser(
        "require-2fa", help="require two-factor sign-in for every account (on) or not (off)"
    )
    require.add_argument("state", choices=("on", "off"))
    moderators.set_defaults(handler=run)


def read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise AccountError("no password on the first line of stdin")
        return line
    password = getpass.getpass("New password: ")
    if getpass.getpass("Same password again: ") != password:
        raise AccountError("the two passwords differ")
    return password


async def _act(args: argparse.Namespace, accounts: Accounts, audit: Audit) -> None:
    two_factor = TwoFactor(accounts.repo)
    if args.action == "list":
        everyone = await accounts.list()
        if not everyone:
            print("no moderators yet")
        for m in everyone:
            since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(m.password_changed_at))
            state = "disabled" if m.disabled else "active"
            second = "2fa on " if await two_factor.enabled(m.id) else "2fa off"
            print(f"{m.id:>4}  {m.email:32} {m.role:9} {state:8} {second}  password set {since}")
        if await two_factor.required():
            print("two-factor sign-in is required for every account")
        return
    if args.action == "require-2fa":
        await two_factor.set_required(args.state == "on")
        await audit.record(None, "two_factor_required", "", args.state)
        print(f"two-factor sign-in required: {args.state}")
        return
    # Refuse before asking for a password that could not be used.
    known = await accounts.find(args.email)
    if args.action == "add":
        check_email(args.email)
    if args.action == "add" and known is not None:
        raise AccountError(f"a moderator with email {known.email} already exists")
    if args.action != "add" and known is None:
        raise AccountError(f"no moderator with email {normalise_email(args.email)}")
    if args.action == "add":
        added = await accounts.add(args.email, args.role, read_password())
        await audit.record(None, "moderator_add", added.email, f"role={added.role}")
        print(f"added {added.role} {added.email}")
    elif args.action == "reset":
        changed = await accounts.reset_password(args.email, read_password())
        await audit.record(None, "moderator_reset", changed.email)
        print(f"new password set for {changed.email}; their sessions ended")
    elif args.action == "disable":
        cases = CaseStore(accounts.repo)
        changed, released = await disable_moderator(accounts, cases, audit, args.email, None)
        handed = f"; {len(released)} case(s) back in the queue" if released else ""
        print(f"disabled {changed.email}; their sessions ended{handed}")
    elif args.action == "reset-2fa":
        assert known is not None
        await two_factor.reset(known.id)
        await audit.record(None, "two_factor_reset", known.email)
        print(f"two-factor sign-in removed for {known.email}; they can set it up again")
    elif args.action == "enable":
        changed = await accounts.enable(args.email)
        await audit.record(None, "moderator_enable", changed.email)
        print(f"enabled {changed.email}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import keyring_for

    async def main() -> None:
        repo = SqliteRepository(settings.database_path(), keyring_for(settings))
        await repo.open()
        try:
            await _act(args, Accounts(repo), Audit(repo))
        finally:
            await repo.close()

    try:
        asyncio.run(main())
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 1
    return 0
