"""The moderator console's pages and case routes, under /console, and the list of every console
route (sign-in, two-factor pages and admin routes live in their own modules).

Access rules are in `bot.console.routing`: deny by default, CSRF on every change. Only the owner
of a case (or an admin) reads its words, replies, reveals its evidence or exports it. The queue
comes a page at a time (`bot.console.queue`): never every open case at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from bot.console import admin, login, twofactor_pages
from bot.console.accounts import AccountError
from bot.console.cases import OUTCOMES
from bot.console.casework import bot_resumes, case_id_in, describe, notice, owned_case
from bot.console.dashboard import dashboard as read_dashboard
from bot.console.login import new_login_key
from bot.console.queue import DEFAULT_LIMIT, Entry
from bot.console.routing import (
    STATIC,
    ConsoleApp,
    app_of,
    fill_page,
    is_secure,
    no_store,
    read_json,
    route,
    session_in,
    text_in,
)
from bot.console.sessions import SessionInfo, cookie_name, cookie_options, token_hash
from bot.textkeys import SYS_MODERATOR_JOINED

__all__ = ["ConsoleApp", "new_login_key", "routes"]

log = logging.getLogger(__name__)
PREVIEWABLE = {"image/png", "image/jpeg", "image/webp", "image/gif"}
HEARTBEAT_SECONDS = 15.0
STATIC_TYPES = {
    "console.js": "text/javascript",
    "admin.js": "text/javascript",
    "words.js": "text/javascript",
    "console.css": "text/css",
}
_SOURCE = re.compile(r"[0-9a-f]{32}")  # a group's id: a source hash, as `folding.source_id` makes


async def console_page(request: Request) -> Response:
    me = session_in(request)
    page = fill_page("console.html", csrf=me.csrf, email=me.moderator.email, role=me.moderator.role)
    return no_store(HTMLResponse(page))


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC_TYPES:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=STATIC_TYPES[name])


# --- the queue and cases ----------------------------------------------------------------------


async def queue(request: Request) -> Response:
    """A page of the queue (`offset`, `limit`), or of one source's group (`group`), with the
    counts of everything open and whether there is more."""
    state, me = app_of(request), session_in(request)
    params = request.query_params
    offset, limit = _number(params.get("offset"), 0), _number(params.get("limit"), DEFAULT_LIMIT)
    group = params.get("group")
    if offset is None or limit is None or (group is not None and not _SOURCE.fullmatch(group)):
        return JSONResponse({"error": "bad page"}, status_code=400)
    try:
        page = await (
            state.queue.group(group, offset, limit) if group else state.queue.page(offset, limit)
        )
    except ValueError:
        return JSONResponse({"error": "bad page"}, status_code=400)
    counts = await state.queue.counts()
    owners = {m.id: m.email for m in await state.console.accounts.list()}
    return no_store(
        JSONResponse(
            {
                "cases": [await _entry(state, entry, me, owners) for entry in page.entries],
                "counts": {
                    "waiting": counts.waiting,
                    "urgent": counts.urgent,
                    "claimed": counts.claimed,
                },
                "group": group,
                "offset": offset,
                "more": page.more,
                "online": state.desk.online,
                "outcomes": list(OUTCOMES),
            }
        )
    )


def _number(given: str | None, default: int) -> int | None:
    """A paging number: ASCII digits (at most 9), else None."""
    if given is None:
        return default
    return int(given) if given.isascii() and given.isdigit() and len(given) <= 9 else None


async def _entry(
    state: ConsoleApp, entry: Entry, me: SessionInfo, owners: dict[int, str]
) -> dict[str, Any]:
    described = await describe(state, entry.case, me, owners)
    if entry.group is not None:
        described["group"] = {"id": entry.group, "cases": entry.members, "urgent": entry.urgent}
    return described


async def claim(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
    case_id = case_id_in(request)
    if case_id is None:
        return JSONResponse({"error": "no such case"}, status_code=404)
    case = await state.cases.claim(case_id, me.moderator.id)
    if case is None:
        return JSONResponse({"error": "already claimed"}, status_code=409)
    state.desk.set_owner(case.conversation_id, me.moderator.id)
    await state.audit.record(me.moderator.id, "claim", f"case {case.id}")
    await notice(state, case, SYS_MODERATOR_JOINED)
    state.desk.publish({"type": "queue", "case": case.id, "urgent": False})
    return JSONResponse({"case": await describe(state, case, me)})


async def case_detail(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
    case = await owned_case(request)
    if isinstance(case, Response):
        return case
    items = await state.repository.evidence_items(case.conversation_id)
    return no_store(
        JSONResponse(
            {
                "case": await describe(state, case, me),
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
    state, me = app_of(request), session_in(request)
    case = await owned_case(request)
    if isinstance(case, Response):
        return case
    if case.status != "claimed" or case.owner != me.moderator.id:
        return JSONResponse({"error": "claim the case to reply"}, status_code=409)
    text = text_in(await read_json(request), "text")
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
    state, me = app_of(request), session_in(request)
    case = await owned_case(request)
    if isinstance(case, Response):
        return case
    text = text_in(await read_json(request), "text")
    if not text:
        return JSONResponse({"error": "write a note first"}, status_code=400)
    await state.cases.add_note(case, me.moderator.id, text)
    await state.audit.record(me.moderator.id, "note", f"case {case.id}")
    return JSONResponse({"ok": True})


async def release(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
    case = await owned_case(request)
    if isinstance(case, Response):
        return case
    forced = case.owner != me.moderator.id  # only an admin gets this far then
    released = await state.cases.release(case.id, None if forced else me.moderator.id)
    if released is None:
        return JSONResponse({"error": "nobody has claimed this case"}, status_code=409)
    await bot_resumes(state, released)
    detail = "forced by an admin" if forced else ""
    await state.audit.record(me.moderator.id, "release", f"case {case.id}", detail)
    return JSONResponse({"ok": True})


async def close(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
    case = await owned_case(request)
    if isinstance(case, Response):
        return case
    outcome = text_in(await read_json(request), "outcome")
    if outcome not in OUTCOMES:
        return JSONResponse({"error": "choose an outcome"}, status_code=400)
    forced = case.owner != me.moderator.id  # only an admin gets this far then
    closed = await state.cases.close(case.id, None if forced else me.moderator.id, outcome)
    if closed is None:
        return JSONResponse({"error": "claim the case to close it"}, status_code=409)
    await bot_resumes(state, closed)
    await state.audit.record(me.moderator.id, "close", f"case {case.id}", outcome)
    return JSONResponse({"ok": True})


async def reveal(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
    case = await owned_case(request)
    if isinstance(case, Response):
        return case
    reason = text_in(await read_json(request), "reason")
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
    return no_store(
        Response(
            data,
            media_type=item.media_type,
            headers={"content-disposition": "inline", "x-content-type-options": "nosniff"},
        )
    )


async def export(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
    case = await owned_case(request)
    if isinstance(case, Response):
        return case
    consent = text_in(await read_json(request), "consent")
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
    return no_store(
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
    state, me = app_of(request), session_in(request)
    desk, sessions = state.desk, state.console.sessions
    token = request.cookies.get(cookie_name(is_secure(request)), "")
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
    state = app_of(request)
    return no_store(JSONResponse(await read_dashboard(state.repository, state.cases.clock())))


async def audit_log(request: Request) -> Response:
    state = app_of(request)
    entries = await state.audit.list(limit=200)
    emails = {m.id: m.email for m in await state.console.accounts.list()}
    return no_store(
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
    state, me = app_of(request), session_in(request)
    data = await read_json(request)
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
    response.delete_cookie(**cookie_options(is_secure(request)))
    return response


def routes() -> list[BaseRoute]:
    case = "/console/api/cases/{case}"
    return [
        *login.routes(),
        *twofactor_pages.routes(),
        *admin.routes(),
        route("/console/static/{name}", static_file, "public"),
        route("/console", console_page, "moderator"),
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
