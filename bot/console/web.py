"""The moderator console's routes, under /console.

Deny by default: every route is built with `route(path, endpoint, who)`; an endpoint with no
declared audience answers 403 whatever the session. Pages without a session redirect to the
sign-in page, API calls answer 401. Every state-changing request must carry the session's CSRF
token (header `X-CSRF-Token`, or the form field `csrf`), else 403. Only the owner of a case (or an
admin) reads its words, replies, reveals its evidence or exports it. When two-factor sign-in is
required, a session whose moderator has not set it up reaches only the set-up page and sign-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import html
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from bot.console.accounts import AccountError, Moderator
from bot.console.audit import Audit
from bot.console.cases import OUTCOMES, Case, CaseStore
from bot.console.cases import disable_moderator as disable_account
from bot.console.desk import Desk
from bot.console.sessions import SessionInfo, cookie_name, cookie_options, csrf_ok, token_hash
from bot.console.signin import Console
from bot.engine import Engine
from bot.flowmachine import FlowBook
from bot.model import Profile
from bot.storage.sqlite import SqliteRepository
from bot.texts import Renderer

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
Who = Literal["public", "moderator", "admin"]
Handler = Callable[[Request], Awaitable[Response]]
MAX_BODY = 64 * 1024
MAX_TEXT = 4000
PREVIEWABLE = {"image/png", "image/jpeg", "image/webp", "image/gif"}
LOGIN_TOKEN_SECONDS = 3600
HEARTBEAT_SECONDS = 15.0
CODE_TOKEN_SECONDS = 300  # the second sign-in step must follow the password within this
MAX_CASE_ID = 2**63 - 1  # SQLite's largest integer
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
        with contextlib.suppress(Exception):
            self.desk.left_notice = _say(self, "sys.moderator_left")

    @property
    def audit(self) -> Audit:
        return self.console.audit


def _state(request: Request) -> ConsoleApp:
    app: ConsoleApp = request.app.state.console
    return app


def _secure(request: Request) -> bool:
    # Behind a TLS proxy the request may arrive as http: the public address decides.
    return request.url.scheme == "https" or _state(request).secure


async def _session(request: Request) -> SessionInfo | None:
    token = request.cookies.get(cookie_name(_secure(request)))
    return await _state(request).console.sessions.check(token) if token else None


def route(path: str, endpoint: Handler, who: Who | None, methods: list[str] | None = None) -> Route:
    """A console route that checks who may use it before the endpoint runs."""

    async def guarded(request: Request) -> Response:
        if who is None:  # nobody declared: nobody may
            return Response(status_code=403)
        if who == "public":
            return await endpoint(request)
        session = await _session(request)
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
                given = await _form_field(request, "csrf")
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
    two_factor = _state(request).console.two_factor
    return await two_factor.required() and not await two_factor.enabled(session.moderator.id)


def _declared_length(request: Request) -> int:
    """The Content-Length header (0 when absent; unreadable counts as too long)."""
    given = request.headers.get("content-length") or "0"
    return int(given) if given.isascii() and given.isdigit() and len(given) < 19 else 2**62


async def _body(request: Request) -> bytes:
    """The request body, at most MAX_BODY bytes (more: empty), read once and kept, so a CSRF
    check that reads a form and an endpoint that reads JSON can both look at it."""
    cached: bytes | None = getattr(request.state, "body", None)
    if cached is not None:
        return cached
    body = b""
    if _declared_length(request) <= MAX_BODY:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                body = b""
                break
    request.state.body = body
    return body


async def _form_field(request: Request, name: str) -> str:
    """One field of a form-encoded body (never a 500 for a malformed one)."""
    try:
        fields = parse_qs((await _body(request)).decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:
        return ""
    values = fields.get(name) or [""]
    return values[0]


def _me(request: Request) -> SessionInfo:
    session: SessionInfo = request.state.session
    return session


async def _json(request: Request) -> dict[str, Any]:
    body = await _body(request)
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def _page(name: str, **values: str) -> str:
    page = (STATIC / name).read_text(encoding="utf-8")
    for key, value in values.items():
        page = page.replace(f"__{key.upper()}__", html.escape(value))
    return page


def _no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response


# --- signing in ----------------------------------------------------------------------------------


def _login_token(key: bytes, now: float | None = None) -> str:
    """A stateless token for the sign-in form (sign-in CSRF): issued time + MAC."""
    issued = str(int(time.time() if now is None else now))
    mac = hmac.new(key, f"login:{issued}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{mac}"


def _login_token_ok(key: bytes, token: str) -> bool:
    issued, _, mac = token.partition(".")
    if not issued.isdigit() or time.time() - int(issued) > LOGIN_TOKEN_SECONDS:
        return False
    expected = hmac.new(key, f"login:{issued}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, mac)


def _login_page(request: Request, error: str = "", status: int = 200) -> Response:
    page = _page("login.html", csrf=_login_token(_state(request).login_key), error=error)
    return _no_store(HTMLResponse(page, status_code=status))


async def _login_form(request: Request) -> FormData | Response:
    """A sign-in step's form, or the page that refuses it: too long, another origin, or an
    expired form token (both sign-in steps check the same things first)."""
    state = _state(request)
    if _declared_length(request) > 8192:
        return _login_page(request, "That was too long.", 413)
    origin = request.headers.get("origin")
    if origin is not None and origin != state.own_origin:
        return _login_page(request, "Please sign in from this server's own page.", 403)
    form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
    if not _login_token_ok(state.login_key, str(form.get("csrf", ""))):
        return _login_page(request, "The form expired. Please try again.", 403)
    return form


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    state = _state(request)
    form = await _login_form(request)
    if isinstance(form, Response):
        return form
    ip = request.client.host if request.client else ""
    result = await state.console.sign_in(
        str(form.get("email", ""))[:254], str(form.get("password", ""))[:1024], ip
    )
    if result.wait > 0:
        return _login_page(request, _too_many(result.wait), 429)
    if result.moderator is None:
        return _login_page(request, "Wrong email or password.", 401)
    if result.needs_code:
        return _code_page(request, result.moderator)
    return _signed_in(request, result.token)


def _too_many(wait: float) -> str:
    return f"Too many attempts. Try again in {max(1, round(wait))} second(s)."


def _signed_in(request: Request, token: str) -> Response:
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(value=token, **cookie_options(_secure(request)))
    return response


def _code_token(key: bytes, moderator: Moderator, now: float | None = None) -> str:
    """Stateless proof that this moderator's password was right moments ago."""
    issued = str(int(time.time() if now is None else now))
    message = f"code:{moderator.id}:{issued}:{moderator.password_changed_at!r}"
    mac = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    return f"{moderator.id}.{issued}.{mac}"


async def _code_token_moderator(state: ConsoleApp, token: str) -> Moderator | None:
    moderator_id, _, rest = token.partition(".")
    issued, _, mac = rest.partition(".")
    if not (moderator_id.isdecimal() and issued.isdecimal()) or len(moderator_id) > 18:
        return None
    if not 0 <= time.time() - int(issued) <= CODE_TOKEN_SECONDS:
        return None
    moderator = await state.console.accounts.get(int(moderator_id))
    if moderator is None or moderator.disabled:
        return None
    message = f"code:{moderator.id}:{issued}:{moderator.password_changed_at!r}"
    expected = hmac.new(state.login_key, message.encode(), hashlib.sha256).hexdigest()
    return moderator if hmac.compare_digest(expected, mac) else None


def _code_page(
    request: Request, moderator: Moderator, error: str = "", status: int = 200
) -> Response:
    state = _state(request)
    page = _page(
        "login_code.html",
        csrf=_login_token(state.login_key),
        pending=_code_token(state.login_key, moderator),
        error=error,
    )
    return _no_store(HTMLResponse(page, status_code=status))


async def login_code(request: Request) -> Response:
    """The second sign-in step: a code from the app, or a recovery code."""
    state = _state(request)
    form = await _login_form(request)
    if isinstance(form, Response):
        return form
    moderator = await _code_token_moderator(state, str(form.get("pending", "")))
    if moderator is None:
        return _login_page(request, "That took too long. Please sign in again.", 401)
    ip = request.client.host if request.client else ""
    result = await state.console.sign_in_code(moderator.id, str(form.get("code", ""))[:64], ip)
    if result.wait > 0:
        return _code_page(request, moderator, _too_many(result.wait), 429)
    if result.moderator is None:
        return _code_page(request, moderator, "That code is not right. Try again.", 401)
    return _signed_in(request, result.token)


async def logout(request: Request) -> Response:
    token = request.cookies.get(cookie_name(_secure(request)), "")
    _state(request).desk.disconnect(session_key=token_hash(token))
    await _state(request).console.sign_out(token)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(**cookie_options(_secure(request)))
    return response


async def console_page(request: Request) -> Response:
    me = _me(request)
    page = _page("console.html", csrf=me.csrf, email=me.moderator.email, role=me.moderator.role)
    return _no_store(HTMLResponse(page))


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    types = {"console.js": "text/javascript", "console.css": "text/css"}
    if name not in types:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=types[name])


# --- the queue and cases ----------------------------------------------------------------------


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


def summary(case: Case, names: dict[str, str]) -> str:
    """A short line built from the conversation's answers (categories, never words)."""
    parts = [names.get(case.pattern or "", "Not said yet")]
    parts.append(f"age {case.age_band.replace('_', '–')}" if case.age_band else "age not given")
    parts.append((case.nation or "place not given").replace("_", " ").title())
    parts.append(
        {"crisis": "risk of harm", "asked": "asked for a person"}.get(case.reason, case.reason)
    )
    return " · ".join(parts)


async def _describe(state: ConsoleApp, case: Case, me: SessionInfo) -> dict[str, Any]:
    owner = None
    if case.owner is not None:
        moderator = await state.console.accounts.get(case.owner)
        owner = moderator.email if moderator else None
    return {
        **case.public(time.time(), owner),
        "mine": case.owner == me.moderator.id,
        "summary": summary(case, state.pattern_names),
    }


async def queue(request: Request) -> Response:
    state, me = _state(request), _me(request)
    cases = [await _describe(state, case, me) for case in await state.cases.queue()]
    return _no_store(
        JSONResponse({"cases": cases, "online": state.desk.online, "outcomes": list(OUTCOMES)})
    )


def _case_id(request: Request) -> int | None:
    """The case id in the path: ASCII digits within SQLite's integer range, else None."""
    given = str(request.path_params["case"])
    if not (given.isascii() and given.isdigit()) or len(given) > 19:
        return None
    case_id = int(given)
    return case_id if 0 < case_id <= MAX_CASE_ID else None


async def _owned_case(request: Request) -> Case | Response:
    """The case in the path, if this moderator owns it (admins may read any)."""
    state, me = _state(request), _me(request)
    case_id = _case_id(request)
    case = await state.cases.get(case_id) if case_id is not None else None
    if case is None:
        return JSONResponse({"error": "no such case"}, status_code=404)
    admin = me.moderator.role == "admin"
    if (case.owner != me.moderator.id or case.status != "claimed") and not admin:
        # A closed case's words stay with the case: its former owner can't read on.
        return JSONResponse({"error": "this case belongs to someone else"}, status_code=403)
    if admin and case.status == "closed" and request.method != "GET":
        return JSONResponse({"error": "this case is closed"}, status_code=409)
    return case


async def claim(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case_id = _case_id(request)
    if case_id is None:
        return JSONResponse({"error": "no such case"}, status_code=404)
    case = await state.cases.claim(case_id, me.moderator.id)
    if case is None:
        return JSONResponse({"error": "already claimed"}, status_code=409)
    state.desk.set_owner(case.conversation_id, me.moderator.id)
    await state.audit.record(me.moderator.id, "claim", f"case {case.id}")
    await _notice(state, case, "sys.moderator_joined")
    state.desk.publish({"type": "queue", "case": case.id, "urgent": False})
    return JSONResponse({"case": await _describe(state, case, me)})


def _say(state: ConsoleApp, key: str) -> str:
    return str(state.engine.renderer.texts.entry(state.engine.default_locale, key))


async def case_detail(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    items = await state.repository.evidence_items(case.conversation_id)
    return _no_store(
        JSONResponse(
            {
                "case": await _describe(state, case, me),
                "lines": [asdict(line) for line in await state.cases.lines(case)],
                "notes": [asdict(line) for line in await state.cases.notes(case)],
                "evidence": [
                    {
                        "id": item.id,
                        "kind": item.kind,
                        "media_type": item.media_type,
                        "size": item.size,
                        "sha256": item.sha256,
                        "received_at": item.received_at,
                        "name": item.name,
                        "previewable": item.media_type in PREVIEWABLE,
                    }
                    for item in items
                ],
            }
        )
    )


async def reply(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    if case.status != "claimed" or case.owner != me.moderator.id:
        return JSONResponse({"error": "claim the case to reply"}, status_code=409)
    text = _text(await _json(request), "text")
    if not text:
        return JSONResponse({"error": "write a message first"}, status_code=400)
    # Delivered first: the console must never show a reply the person did not get.
    try:
        delivered = await state.desk.to_person(case, text)
    except Exception as exc:
        log.warning("reply to case %d not delivered (%s)", case.id, type(exc).__name__)
        delivered = False
    if not delivered:
        return JSONResponse({"error": "the message could not be delivered"}, status_code=503)
    await state.cases.add_relay(case.conversation_id, "moderator", text, me.moderator.id)
    await state.audit.record(me.moderator.id, "reply", f"case {case.id}")
    return JSONResponse({"ok": True})


async def add_note(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    text = _text(await _json(request), "text")
    if not text:
        return JSONResponse({"error": "write a note first"}, status_code=400)
    await state.cases.add_note(case, me.moderator.id, text)
    await state.audit.record(me.moderator.id, "note", f"case {case.id}")
    return JSONResponse({"ok": True})


async def release(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    forced = case.owner != me.moderator.id  # only an admin gets this far then
    released = await state.cases.release(case.id, None if forced else me.moderator.id)
    if released is None:
        return JSONResponse({"error": "nobody has claimed this case"}, status_code=409)
    await _bot_resumes(state, released)
    detail = "forced by an admin" if forced else ""
    await state.audit.record(me.moderator.id, "release", f"case {case.id}", detail)
    return JSONResponse({"ok": True})


async def reassign(request: Request) -> Response:
    """An admin gives an open case to another moderator (or takes it)."""
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    email = _text(await _json(request), "email")
    target = await state.console.accounts.find(email) if email else None
    if target is None or target.disabled:
        return JSONResponse({"error": "no such active moderator"}, status_code=400)
    done = await state.cases.reassign(case.id, target.id)
    if done is None:
        return JSONResponse({"error": "this case can't be reassigned"}, status_code=409)
    changed, former = done
    state.desk.set_owner(changed.conversation_id, target.id)
    if former is None:
        await _notice(state, changed, "sys.moderator_joined")
    await state.audit.record(me.moderator.id, "reassign", f"case {case.id}", target.email)
    state.desk.publish({"type": "queue", "case": case.id, "urgent": False})
    return JSONResponse({"case": await _describe(state, changed, me)})


async def close(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    outcome = _text(await _json(request), "outcome")
    if outcome not in OUTCOMES:
        return JSONResponse({"error": "choose an outcome"}, status_code=400)
    forced = case.owner != me.moderator.id  # only an admin gets this far then
    closed = await state.cases.close(case.id, None if forced else me.moderator.id, outcome)
    if closed is None:
        return JSONResponse({"error": "claim the case to close it"}, status_code=409)
    await _bot_resumes(state, closed)
    await state.audit.record(me.moderator.id, "close", f"case {case.id}", outcome)
    return JSONResponse({"ok": True})


async def _notice(state: ConsoleApp, case: Case, key: str) -> None:
    try:
        await state.desk.to_person(case, _say(state, key), "notice")
    except Exception as exc:  # the claim or release stands; the person simply misses a notice
        log.warning("notice to case %d not delivered (%s)", case.id, type(exc).__name__)


async def _bot_resumes(state: ConsoleApp, case: Case) -> None:
    if not await state.desk.resume(case):  # the desk's sweep may have told the person already
        state.desk.publish({"type": "queue", "case": case.id, "urgent": False})


async def reveal(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    reason = _text(await _json(request), "reason")
    if len(reason) < 3:
        return JSONResponse({"error": "give a reason for viewing"}, status_code=400)
    items = {i.id: i for i in await state.repository.evidence_items(case.conversation_id)}
    item = items.get(request.path_params["item"])
    if item is None or item.media_type not in PREVIEWABLE:
        return JSONResponse({"error": "no such image"}, status_code=404)
    # Audited before anything is shown. The reason may name the person, so it goes into the
    # case's sealed notes (erased with the case); the audit log keeps who, when and which item.
    await state.cases.add_note(case, me.moderator.id, f"Viewed evidence {item.id}: {reason}")
    await state.audit.record(
        me.moderator.id, "reveal", f"case {case.id} item {item.id}", "reason in case notes"
    )
    data = await state.repository.evidence_data(item)
    return _no_store(
        Response(
            data,
            media_type=item.media_type,
            headers={"content-disposition": "inline", "x-content-type-options": "nosniff"},
        )
    )


async def export(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    consent = _text(await _json(request), "consent")
    if len(consent) < 3:
        return JSONResponse({"error": "record how the person consented"}, status_code=400)
    pack = await state.engine.export_pack(case.conversation_id)
    if pack is None:
        return JSONResponse({"error": "nothing to export"}, status_code=404)
    note = f"Exported the evidence pack. Consent: {consent}"
    await state.cases.add_note(case, me.moderator.id, note)
    await state.audit.record(
        me.moderator.id, "export", f"case {case.id}", "consent recorded in case notes"
    )
    return _no_store(
        Response(
            pack,
            media_type="application/zip",
            headers={"content-disposition": 'attachment; filename="evidence-pack.zip"'},
        )
    )


async def stream(request: Request) -> Response:
    """Server-sent events: ids and kinds of changes only; the console fetches what it may see.

    The session is checked again at every heartbeat (without counting as activity): the stream
    ends once it is signed out, idle or too old, its password changed or its account disabled.
    Sign-out, a password change and disabling end it at once."""
    state, me = _state(request), _me(request)
    desk, sessions = state.desk, state.console.sessions
    token = request.cookies.get(cookie_name(_secure(request)), "")
    listener = desk.listen(me.moderator.id, token_hash(token), sessions.valid_until(me))

    async def events() -> AsyncIterator[bytes]:
        yield b": connected\n\n"
        try:
            while True:
                try:
                    event = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    session = await sessions.check(token, touch=False)
                    if session is None or await request.is_disconnected():
                        return
                    listener.valid_until = sessions.valid_until(session)
                    yield b": heartbeat\n\n"
                    continue
                if event is None or await request.is_disconnected():
                    return
                yield f"data: {json.dumps(event)}\n\n".encode()
        finally:
            desk.unlisten(listener)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-store"}
    )


async def dashboard(request: Request) -> Response:
    return _no_store(JSONResponse(await _state(request).cases.dashboard()))


async def audit_log(request: Request) -> Response:
    state = _state(request)
    entries = await state.audit.list(limit=200)
    emails = {m.id: m.email for m in await state.console.accounts.list()}
    return _no_store(
        JSONResponse(
            {
                "entries": [
                    {
                        "id": e.id,
                        "at": e.at,
                        "moderator": emails.get(e.moderator_id) if e.moderator_id else None,
                        "action": e.action,
                        "subject": e.subject,
                        "detail": e.detail,
                    }
                    for e in entries
                ]
            }
        )
    )


async def change_password(request: Request) -> Response:
    state, me = _state(request), _me(request)
    data = await _json(request)
    old, new = data.get("old"), data.get("new")
    if not isinstance(old, str) or not isinstance(new, str):
        return JSONResponse({"error": "fill in both passwords"}, status_code=400)
    try:
        await state.console.accounts.change_password(me.moderator.id, old, new)
    except AccountError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    await state.audit.record(me.moderator.id, "password_change", me.moderator.email)
    state.desk.disconnect(moderator_id=me.moderator.id)
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(**cookie_options(_secure(request)))
    return response


# --- accounts and two-factor sign-in --------------------------------------------------------------


async def disable_moderator(request: Request) -> Response:
    """An admin disables an account: its sessions and live streams end, its cases go back to the
    queue and each person is told the bot is back."""
    state, me = _state(request), _me(request)
    email = _text(await _json(request), "email")
    if not email or await state.console.accounts.find(email) is None:
        return JSONResponse({"error": "no such moderator"}, status_code=400)
    moderator, released = await disable_account(
        state.console.accounts, state.cases, state.audit, email, me.moderator.id
    )
    state.desk.disconnect(moderator_id=moderator.id)
    for case in released:
        await _bot_resumes(state, case)
    return JSONResponse({"disabled": moderator.email, "released": [c.id for c in released]})


async def require_two_factor(request: Request) -> Response:
    state, me = _state(request), _me(request)
    on = (await _json(request)).get("on")
    if not isinstance(on, bool):
        return JSONResponse({"error": "say on (true) or off (false)"}, status_code=400)
    await state.console.two_factor.set_required(on)
    await state.audit.record(me.moderator.id, "two_factor_required", "", "on" if on else "off")
    return JSONResponse({"required": on})


def _two_factor_page(me: SessionInfo, body: str, status: int = 200) -> Response:
    page = (STATIC / "twofactor.html").read_text(encoding="utf-8")
    page = page.replace("__CSRF__", html.escape(me.csrf)).replace("__BODY__", body)
    return _no_store(HTMLResponse(page, status_code=status))


def _setup_form(me: SessionInfo, label: str = "Set up two-factor sign-in") -> str:
    return (
        '<form method="post" action="/console/2fa/setup">'
        f'<input type="hidden" name="csrf" value="{html.escape(me.csrf)}">'
        f'<button id="twofa-setup" type="submit" class="primary">{label}</button></form>'
    )


async def two_factor_page(request: Request) -> Response:
    state, me = _state(request), _me(request)
    two_factor = state.console.two_factor
    required = await two_factor.required()
    if await two_factor.enabled(me.moderator.id):
        left = await two_factor.recovery_left(me.moderator.id)
        body = (
            '<p id="twofa-status">Two-factor sign-in is on for your account. '
            f"You have {left} unused recovery code(s). If you lose your phone, sign in with a "
            "recovery code, or ask an admin to reset your second factor.</p>"
            '<p><a href="/console">Back to the console</a></p>'
        )
    else:
        intro = (
            "Your organisation requires two-factor sign-in: set it up to use the console."
            if required
            else "Two-factor sign-in is off for your account."
        )
        body = (
            f'<p id="twofa-status">{intro} You need an authenticator app on your phone '
            "(any app for time-based codes).</p>" + _setup_form(me)
        )
        if not required:
            body += '<p><a href="/console">Back to the console</a></p>'
    return _two_factor_page(me, body)


def _confirm_form(me: SessionInfo, error: str = "") -> str:
    return (
        f'<p id="twofa-error" class="form-error" role="alert">{html.escape(error)}</p>'
        '<form method="post" action="/console/2fa/confirm">'
        f'<input type="hidden" name="csrf" value="{html.escape(me.csrf)}">'
        '<label for="code">The 6-digit code your app shows now</label>'
        '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" '
        'pattern="[0-9 ]*" maxlength="8" required autofocus>'
        '<button id="twofa-confirm" type="submit" class="primary">Turn on</button></form>'
    )


async def two_factor_setup(request: Request) -> Response:
    """A new secret, shown this once (as text and as an otpauth:// link for the app)."""
    state, me = _state(request), _me(request)
    try:
        secret, uri = await state.console.two_factor.begin(me.moderator.id, me.moderator.email)
    except ValueError:
        return _two_factor_page(
            me, '<p id="twofa-status">Two-factor sign-in is already on.</p>', 409
        )
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    body = (
        "<p>Add this account to your authenticator app: open the link on your phone, or type "
        "the key. It is shown only now.</p>"
        f'<p>Key: <code id="twofa-secret">{html.escape(grouped)}</code></p>'
        f'<p><a id="twofa-uri" href="{html.escape(uri)}">{html.escape(uri)}</a></p>'
        + _confirm_form(me)
    )
    return _two_factor_page(me, body)


async def two_factor_confirm(request: Request) -> Response:
    state, me = _state(request), _me(request)
    code = (await _form_field(request, "code"))[:64]
    codes = await state.console.two_factor.confirm(me.moderator.id, code)
    if codes is None:
        body = _confirm_form(
            me, "That code is not right. Try the next one your app shows."
        ) + _setup_form(me, "Start again with a new key")
        return _two_factor_page(me, body, 400)
    await state.audit.record(me.moderator.id, "two_factor_on", me.moderator.email)
    items = "".join(f"<li><code>{html.escape(c)}</code></li>" for c in codes)
    body = (
        '<p id="twofa-status">Two-factor sign-in is on.</p>'
        "<p>Keep these recovery codes somewhere safe, away from your phone. Each one signs you "
        "in once, instead of a code, if you lose your phone. They are shown only now.</p>"
        f'<ul id="twofa-recovery">{items}</ul>'
        '<p><a href="/console">Go to the console</a></p>'
    )
    return _two_factor_page(me, body)


def routes() -> list[BaseRoute]:
    case = "/console/api/cases/{case}"
    return [
        route("/console/login", login_form, "public"),
        route("/console/login", login, "public", ["POST"]),
        route("/console/login/code", login_code, "public", ["POST"]),
        route("/console/2fa", two_factor_page, "moderator"),
        route("/console/2fa/setup", two_factor_setup, "moderator", ["POST"]),
        route("/console/2fa/confirm", two_factor_confirm, "moderator", ["POST"]),
        route("/console/api/moderators/disable", disable_moderator, "admin", ["POST"]),
        route("/console/api/settings/require-2fa", require_two_factor, "admin", ["POST"]),
        route("/console/static/{name}", static_file, "public"),
        route("/console", console_page, "moderator"),
        route("/console/logout", logout, "moderator", ["POST"]),
        route("/console/api/queue", queue, "moderator"),
        route("/console/api/stream", stream, "moderator"),
        route("/console/api/dashboard", dashboard, "moderator"),
        route("/console/api/password", change_password, "moderator", ["POST"]),
        route("/console/api/audit", audit_log, "admin"),
        route(case, case_detail, "moderator"),
        route(f"{case}/claim", claim, "moderator", ["POST"]),
        route(f"{case}/release", release, "moderator", ["POST"]),
        route(f"{case}/assign", reassign, "admin", ["POST"]),
        route(f"{case}/close", close, "moderator", ["POST"]),
        route(f"{case}/reply", reply, "moderator", ["POST"]),
        route(f"{case}/notes", add_note, "moderator", ["POST"]),
        route(f"{case}/evidence/{{item}}/reveal", reveal, "moderator", ["POST"]),
        route(f"{case}/export", export, "moderator", ["POST"]),
    ]


def new_login_key() -> bytes:
    return secrets.token_bytes(32)
