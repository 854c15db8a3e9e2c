"""The moderator console's routes, under /console.

Deny by default: every route is built with `route(path, endpoint, who)`; an endpoint with no
declared audience answers 403 whatever the session. Pages without a session redirect to the
sign-in page, API calls answer 401. Every state-changing request must carry the session's CSRF
token (header `X-CSRF-Token`, or the form field `csrf`), else 403. Only the owner of a case (or an
admin) reads its words, replies, reveals its evidence or exports it.
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

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from bot.console.accounts import AccountError
from bot.console.audit import Audit
from bot.console.cases import OUTCOMES, Case, CaseStore
from bot.console.desk import Desk
from bot.console.sessions import SessionInfo, cookie_name, cookie_options, csrf_ok
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
                given = str((await request.form()).get("csrf", ""))
            if not csrf_ok(session, given):
                return JSONResponse({"error": "bad or missing CSRF token"}, status_code=403)
        request.state.session = session
        return await endpoint(request)

    return Route(path, guarded, methods=methods or ["GET"])


def _me(request: Request) -> SessionInfo:
    session: SessionInfo = request.state.session
    return session


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        return {}
    try:
        data = json.loads(body or b"{}")
    except ValueError:
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


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    state = _state(request)
    if int(request.headers.get("content-length") or 0) > 8192:
        return _login_page(request, "That was too long.", 413)
    origin = request.headers.get("origin")
    if origin is not None and origin != state.own_origin:
        return _login_page(request, "Please sign in from this server's own page.", 403)
    form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
    if not _login_token_ok(state.login_key, str(form.get("csrf", ""))):
        return _login_page(request, "The form expired. Please try again.", 403)
    ip = request.client.host if request.client else ""
    result = await state.console.sign_in(
        str(form.get("email", ""))[:254], str(form.get("password", ""))[:1024], ip
    )
    if result.wait > 0:
        minutes = max(1, round(result.wait / 60))
        return _login_page(request, f"Too many attempts. Try again in {minutes} minute(s).", 429)
    if result.moderator is None:
        return _login_page(request, "Wrong email or password.", 401)
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(value=result.token, **cookie_options(_secure(request)))
    return response


async def logout(request: Request) -> Response:
    token = request.cookies.get(cookie_name(_secure(request)), "")
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


async def _owned_case(request: Request) -> Case | Response:
    """The case in the path, if this moderator owns it (admins may read any)."""
    state, me = _state(request), _me(request)
    try:
        case_id = int(request.path_params["case"])
    except ValueError:
        return JSONResponse({"error": "no such case"}, status_code=404)
    case = await state.cases.get(case_id)
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
    try:
        case_id = int(request.path_params["case"])
    except ValueError:
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
    released = await state.cases.release(case.id, me.moderator.id)
    if released is None:
        return JSONResponse({"error": "only the owner can hand it back"}, status_code=409)
    await _bot_resumes(state, released)
    await state.audit.record(me.moderator.id, "release", f"case {case.id}")
    return JSONResponse({"ok": True})


async def close(request: Request) -> Response:
    state, me = _state(request), _me(request)
    case = await _owned_case(request)
    if isinstance(case, Response):
        return case
    outcome = _text(await _json(request), "outcome")
    if outcome not in OUTCOMES:
        return JSONResponse({"error": "choose an outcome"}, status_code=400)
    closed = await state.cases.close(case.id, me.moderator.id, outcome)
    if closed is None:
        return JSONResponse({"error": "only the owner can close it"}, status_code=409)
    await _bot_resumes(state, closed)
    await state.audit.record(me.moderator.id, "close", f"case {case.id}", outcome)
    return JSONResponse({"ok": True})


async def _notice(state: ConsoleApp, case: Case, key: str) -> None:
    try:
        await state.desk.to_person(case, _say(state, key), "notice")
    except Exception as exc:  # the claim or release stands; the person simply misses a notice
        log.warning("notice to case %d not delivered (%s)", case.id, type(exc).__name__)


async def _bot_resumes(state: ConsoleApp, case: Case) -> None:
    state.desk.set_owner(case.conversation_id, None)
    await _notice(state, case, "sys.moderator_left")
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
    """Server-sent events: ids and kinds of changes only; the console fetches what it may see."""
    desk = _state(request).desk

    async def events() -> AsyncIterator[bytes]:
        listener = desk.listen()
        pending: asyncio.Task[dict[str, Any]] | None = None
        yield b": connected\n\n"
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(listener))
                done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_SECONDS)
                if await request.is_disconnected():
                    return
                if not done:
                    yield b": heartbeat\n\n"
                    continue
                event, pending = pending.result(), None
                yield f"data: {json.dumps(event)}\n\n".encode()
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending
            await listener.aclose()

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
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(**cookie_options(_secure(request)))
    return response


def routes() -> list[BaseRoute]:
    case = "/console/api/cases/{case}"
    return [
        route("/console/login", login_form, "public"),
        route("/console/login", login, "public", ["POST"]),
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
        route(f"{case}/close", close, "moderator", ["POST"]),
        route(f"{case}/reply", reply, "moderator", ["POST"]),
        route(f"{case}/notes", add_note, "moderator", ["POST"]),
        route(f"{case}/evidence/{{item}}/reveal", reveal, "moderator", ["POST"]),
        route(f"{case}/export", export, "moderator", ["POST"]),
    ]


def new_login_key() -> bytes:
    return secrets.token_bytes(32)
