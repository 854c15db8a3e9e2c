"""The `supportbot` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from bot.config import Settings

SETUP_FAILURE = 3  # as uvicorn exits when it cannot start (e.g. the port is in use)


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import running_engine
    from bot.channels.terminal import TerminalChat

    async def main() -> None:
        async with running_engine(settings) as engine:
            chat = TerminalChat(
                engine, user=args.user, pace=not args.no_delay, echo=args.echo, locale=args.locale
            )
            await chat.run(sys.stdin)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print()
    return 0


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.validate import validate

    problems = validate(settings.flows_dir, settings.content_dir, settings.default_locale)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return 1
    print("Flows and content are valid.")
    if args.review:
        return _review(args.review, settings)
    return 0


def _review(locale: str, settings: Settings) -> int:
    from bot.review import pending
    from bot.texts import Texts

    texts = Texts.load(settings.content_dir, settings.default_locale)
    if locale not in texts.catalogues or locale == texts.default_locale:
        print(f"error: no translated texts for {locale!r}", file=sys.stderr)
        return 1
    waiting = pending(settings.content_dir, locale, texts)
    for item in waiting:
        print(f"{item.key}: {item.why}")
    total = len(texts.catalogues[locale])
    print(f"{locale}: {total - len(waiting)} of {total} texts reviewed; {len(waiting)} to review.")
    return 0


def _flows(args: argparse.Namespace, settings: Settings) -> int:
    from bot.diagrams import mermaid, write_all
    from bot.flowspec import load_specs

    if not args.mermaid:
        for spec in load_specs(settings.flows_dir):
            print(f"{spec.id:15} {spec.kind:8} {len(spec.states):3} states  {spec.source}")
        return 0
    if args.out is None:
        for spec in load_specs(settings.flows_dir):
            print(mermaid(spec), end="\n\n")
        return 0
    for path in write_all(settings.flows_dir, args.out):
        print(f"wrote {path}")
    return 0


def _evidence(args: argparse.Namespace, settings: Settings) -> int:
    from bot.evidence.pack import verify_pack

    if args.action == "verify":
        if not args.file.is_file():
            print(f"supportbot: no such file {args.file}", file=sys.stderr)
            return 1
        result = verify_pack(args.file)
        for problem in result.problems:
            print(f"MISMATCH: {problem}")
        print(f"{result.checked} file(s) checked: " + ("all match." if result.ok else "PROBLEMS."))
        return 0 if result.ok else 1

    from bot.app import running_engine

    async def export() -> int:
        async with running_engine(settings) as engine:
            pack = await engine.export_pack(args.conversation_id)
        if pack is None:
            print(f"no conversation {args.conversation_id}", file=sys.stderr)
            return 1
        args.out.write_bytes(pack)
        args.out.chmod(0o600)
        print(f"wrote {args.out}")
        return 0

    return asyncio.run(export())


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from bot.app import running_engine

    days = args.days if args.days is not None else settings.retention_days

    async def purge() -> int:
        async with running_engine(settings) as engine:
            now = time.time()
            report = await engine.repository.purge(
                now - days * 86400, now - settings.inbox_days * 86400
            )
        print(
            f"erased {report.conversations} conversation(s) idle for {days}+ days, "
            f"{report.evidence_files} evidence file(s), {report.orphan_files} orphan file(s), "
            f"{report.inbox_rows} old event id(s)"
        )
        return 0

    return asyncio.run(purge())


class SetupError(Exception):
    """A problem with how the service is set up, told in one line (exit code 3)."""


def describe_setup_error(exc: BaseException, settings: Settings) -> str | None:
    """One line for a known set-up problem, or None. Never the exception's own message: it may
    carry a secret (a rejected bot token is quoted in full by python-telegram-bot)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or current.__context__
    names = {type(e).__name__ for e in seen}
    for error in seen:
        if isinstance(error, SetupError):
            return str(error)
    if names & {"InvalidToken", "Forbidden", "Unauthorized"}:
        return "Telegram rejected TELEGRAM_BOT_TOKEN: check the token (from @BotFather)"
    data_dir = settings.data_dir.resolve()
    places = {str(data_dir), str(settings.database_path().resolve().parent)}
    for error in seen:
        if type(error).__name__ == "OperationalError" and "unable to open" in str(error):
            return f"cannot write to the data directory {data_dir} (SUPPORTBOT_DATA_DIR)"
        if isinstance(error, OSError) and error.filename and error.errno is not None:
            path = str(Path(str(error.filename)).resolve())
            if isinstance(error, PermissionError) or any(
                path.startswith(place) or place.startswith(path) for place in places
            ):
                reason = os.strerror(error.errno).lower()
                return f"cannot use the data directory {data_dir} ({reason}; SUPPORTBOT_DATA_DIR)"
    for error in seen:
        if isinstance(error, socket.gaierror) or type(error).__name__ in {
            "NetworkError",
            "TimedOut",
            "ConnectError",
            "ConnectTimeout",
        }:
            host = urlsplit(settings.telegram_api_base_url).hostname or "?"
            return f"cannot reach the Telegram Bot API at {host}: no network, or DNS failed"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES):
        reason = os.strerror(exc.errno).lower()
        return f"cannot use the data directory {data_dir} ({reason}; SUPPORTBOT_DATA_DIR)"
    return None


def _guarded(app: Any, settings: Settings) -> Any:
    """The ASGI app, with start-up failures told in one line instead of a traceback."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def quiet_send(message: Any) -> None:
            if message["type"] in ("lifespan.startup.failed", "lifespan.shutdown.failed"):
                exc = sys.exc_info()[1]
                line = describe_setup_error(exc, settings) if exc is not None else None
                what = "start-up" if "startup" in message["type"] else "shut-down"
                failed = type(exc).__name__ if exc is not None else "unknown"
                message = {**message, "message": line or f"{what} failed ({failed})"}
            await send(message)

        with contextlib.suppress(Exception):  # already told, in one line, through quiet_send
            await app(scope, receive, quiet_send)

    return guarded


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bot.app import header_deadline_protocol
    from bot.web.app import create_app

    # --host/--port override the settings, so the server's own origin matches where it listens.
    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    host, port = settings.host, settings.port
    # No access log: addresses and paths of people seeking help are not ours to keep.
    trusted = settings.forwarded_allow_ips()
    uvicorn.run(
        _guarded(create_app(settings), settings),
        host=host,
        port=port,
        # Client addresses (for abuse limits) from X-Forwarded-For only via a trusted proxy.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        # Slow or idle clients don't hold connections: headers within a deadline, a short
        # keep-alive, and a cap on connections at once (beyond it: 503).
        http=header_deadline_protocol(settings.http_header_seconds),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=16 * 1024,
        access_log=False,
        log_config=None,  # our logging (bot/logsetup.py), with its filters, not uvicorn's
        log_level=settings.log_level.lower(),
        # Compression costs memory per connection (uvicorn #1862) and nothing here needs it.
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=settings.ws_max_bytes,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve the bot (web, and Telegram if configured)")
    run.add_argument("--host", help="default SUPPORTBOT_HOST (127.0.0.1)")
    run.add_argument("--port", type=int, help="default SUPPORTBOT_PORT (8080)")
    run.set_defaults(handler=_run)

    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--no-delay", action="store_true", help="turn off pacing between steps")
    chat.add_argument("--user", default="local", help="which conversation to continue")
    chat.add_argument("--echo", action="store_true", help="print piped input lines as 'you>'")
    chat.add_argument("--locale", default="", help="the language to start in, e.g. cy")
    chat.set_defaults(handler=_chat)

    check = commands.add_parser("validate", help="lint flows and content; non-zero on problems")
    check.add_argument(
        "--review", metavar="LOCALE", help="also list that locale's texts not yet reviewed"
    )
    check.set_defaults(handler=_validate)

    flows = commands.add_parser("flows", help="list flows, or draw them")
    flows.add_argument("--mermaid", action="store_true", help="write a Mermaid diagram per flow")
    flows.add_argument("--out", type=Path, help="directory for the .mmd files (default: stdout)")
    flows.set_defaults(handler=_flows)

    evidence = commands.add_parser("evidence", help="export or verify evidence packs")
    actions = evidence.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write a conversation's evidence pack (ZIP)")
    export.add_argument("conversation_id")
    export.add_argument("--out", type=Path, required=True)
    verify = actions.add_parser("verify", help="re-hash a pack's files against its manifest")
    verify.add_argument("file", type=Path)
    evidence.set_defaults(handler=_evidence)

    purge = commands.add_parser("purge", help="erase conversations past the retention period")
    purge.add_argument("--days", type=int, help="override SUPPORTBOT_RETENTION_DAYS")
    purge.set_defaults(handler=_purge)

    from bot.console.cli import add_parser as add_moderators

    add_moderators(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        # Which setting and why, never its value (it may be a secret).
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            print(f"supportbot: SUPPORTBOT_{name}: {error['msg']}", file=sys.stderr)
        return SETUP_FAILURE
    from bot.logsetup import configure

    configure(settings.log_level)
    try:
        return int(args.handler(args, settings))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        line = describe_setup_error(exc, settings)
        if line is None:
            raise
        print(f"supportbot: {line}", file=sys.stderr)
        return SETUP_FAILURE
