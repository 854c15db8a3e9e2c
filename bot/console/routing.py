"""What every console route stands on: the app's parts, the deny-by-default `route`, and reading
a request safely.

Deny by default: every route is built with `route(path, endpoint, who)`; an endpoint with no
declared audience answers 403 whatever the session. Pages without a session redirect to the
sign-in page, API calls answer 401. Every state-changing request must carry the session's CSRF
token (header `X-CSRF-Token`, or the form field `csrf`), else 403. When two-factor sign-in is
required, a session whose moderator has not set it up reaches only the set-up page and sign-out.
A body is read at most once and at most MAX_BODY bytes; malformed input is empty, never a 500.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.console.audit import Audit
from bot.console.cases import CaseStore
from bot.console.desk import Desk
from bot.console.queue import Queue
from bot.console.sessions import SessionInfo, cookie_name, csrf_ok
from bot.console.signin import Console
from bot.engine import Engine
from bot.flowmachine import FlowBook
from bot.model import Profile
from bot.storage.sqlite import SqliteRepository
from bot.textkeys import SYS_MODERATOR_LEFT
from bot.texts import Renderer

STATIC = Path(__file__).parent / "static"
Who = Literal["public", "moderator", "admin"]
Handler = Callable[[Request], Awaitable[Response]]
MAX_BODY = 64 * 1024
MAX_TEXT = 4000
NO_SECOND_FACTOR_NEEDED = ("/console/2fa", "/console/logout")


@dataclass
class ConsoleApp:
    """What the routes need, built once in the app's lifespan."""

    engine: Engine
    repository: SqliteRepository
    console: Console
    cases: CaseStore
    desk: Desk
    login_key: bytes
    own_origin: str = ""
    secure: bool = False  # served over HTTPS (SUPPORTBOT_PUBLIC_URL starts with https://)

    @functools.cached_property
    def pattern_names(self) -> dict[str, str]:
        """What the queue calls each pattern, from the loaded flows (never a list kept here, so a
        renamed or new pattern can't fall back to "Not said yet")."""
        engine = self.engine
        return pattern_names(engine.flows, engine.renderer, engine.default_locale)

    def __post_init__(self) -> None:
        # What a person is told when the bot takes over again, however the case was released.
        self.desk.left_notice = functools.partial(say, self, SYS_MODERATOR_LEFT)

    @property
    def audit(self) -> Audit:
        return self.console.audit

    @functools.cached_property
    def queue(self) -> Queue:
        return Queue(self.repository)


def app_of(request: Request) -> ConsoleApp:
    app: ConsoleApp = request.app.state.console
    return app


def is_secure(request: Request) -> bool:
    # Behind a TLS proxy the request may arrive as http: the public address decides.
    return request.url.scheme == "https" or app_of(request).secure


async def session_for(request: Request) -> SessionInfo | None:
    token = request.cookies.get(cookie_name(is_secure(request)))
    return await app_of(request).console.sessions.check(token) if token else None


def route(path: str, endpoint: Handler, who: Who | None, methods: list[str] | None = None) -> Route:
    """A console route that checks who may use it before the endpoint runs."""

    async def guarded(request: Request) -> Response:
        if who is None:  # nobody declared: nobody may
            return Response(status_code=403)
        if who == "public":
            return await endpoint(request)
        session = await session_for(request)
        api = request.url.path.startswith("/console/api/")
        if session is None:
            if api or request.method != "GET":
                return JSONResponse({"error": "sign in"}, status_code=401)
            return RedirectResponse("/console/login", status_code=303)
        if who == "admin" and session.moderator.role != "admin":
            return JSONResponse({"error": "admins only"}, status_code=403)
        if request.method not in ("GET", "HEAD"):
            given = request.headers.get("x-csrf-token")
            if given is None and request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                given = await form_field(request, "csrf")
            if not csrf_ok(session, given):
                return JSONResponse({"error": "bad or missing CSRF token"}, status_code=403)
        if not request.url.path.startswith(NO_SECOND_FACTOR_NEEDED) and await _must_set_up(
            request, session
        ):
            if api or request.method != "GET":
                return JSONResponse({"error": "set up two-factor sign-in first"}, status_code=403)
            return RedirectResponse("/console/2fa", status_code=303)
        request.state.session = session
        return await endpoint(request)

    return Route(path, guarded, methods=methods or ["GET"])


async def _must_set_up(request: Request, session: SessionInfo) -> bool:
    two_factor = app_of(request).console.two_factor
    return await two_factor.required() and not await two_factor.enabled(session.moderator.id)


def declared_length(request: Request) -> int:
    """The Content-Length header (0 when absent; unreadable counts as too long)."""
    given = request.headers.get("content-length") or "0"
    return int(given) if given.isascii() and given.isdigit() and len(given) < 19 else 2**62


async def read_body(request: Request) -> bytes:
    """The request body, at most MAX_BODY bytes (more: empty), read once and kept, so a CSRF
    check that reads a form and an endpoint that reads JSON can both look at it."""
    cached: bytes | None = getattr(request.state, "body", None)
    if cached is not None:
        return cached
    body = b""
    if declared_length(request) <= MAX_BODY:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                body = b""
                break
    request.state.body = body
    return body


async def form_field(request: Request, name: str) -> str:
    """One field of a form-encoded body (never a 500 for a malformed one)."""
    try:
        fields = parse_qs((await read_body(request)).decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:
        return ""
    values = fields.get(name) or [""]
    return values[0]


def session_in(request: Request) -> SessionInfo:
    session: SessionInfo = request.state.session
    return session


async def read_json(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def text_in(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def fill_page(name: str, **values: str) -> str:
    """A static page with each __KEY__ replaced by its value, escaped."""
    text = (STATIC / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", html.escape(value))
    return text


def no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response


def pattern_names(flows: FlowBook, renderer: Renderer, locale: str) -> dict[str, str]:
    """Pattern id -> name: each pattern flow's title, and the label of any answer that sets a
    pattern (the ids the flows store in the profile)."""

    def say(key: str) -> str:
        return renderer.text(locale, key, Profile())

    names = {flow.id: say(flow.spec.title) for flow in flows.patterns()}
    for flow in flows.flows.values():
        for state in flow.spec.states.values():
            for choice in state.choices:
                pattern = choice.set.get("pattern")
                if pattern and pattern not in names:
                    names[pattern] = say(choice.label)
    return names


def say(state: ConsoleApp, key: str, locale: str | None = None) -> str:
    return str(state.engine.renderer.texts.entry(locale or state.engine.default_locale, key))
