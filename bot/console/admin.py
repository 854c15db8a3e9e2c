"""What only admins do in the console: see every account, disable or enable one, require
two-factor sign-in for everyone, and give any open case to a moderator (force-releasing any case
is the ordinary release route, which admins may use on anyone's case).

Every change is audited (who, what, when; never content). An admin can't disable their own
account here: the last admin locked out would leave nobody to undo it but the command line.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from bot.console.accounts import AccountError
from bot.console.cases import disable_moderator as disable_account
from bot.console.casework import bot_resumes, describe, notice, owned_case
from bot.console.routing import app_of, no_store, read_json, route, session_in, text_in
from bot.textkeys import SYS_MODERATOR_JOINED


async def moderators(request: Request) -> Response:
    """Every account: role, whether it is active, has two-factor sign-in on, how many cases it
    owns now. No password data, no sessions."""
    state, me = app_of(request), session_in(request)
    everyone = await state.console.accounts.list()
    second = await state.console.two_factor.enabled_ids()
    owned = await state.cases.claimed_counts()
    listed = [
        {
            "email": m.email,
            "role": m.role,
            "disabled": m.disabled,
            "two_factor": m.id in second,
            "cases": owned.get(m.id, 0),
            "me": m.id == me.moderator.id,
        }
        for m in everyone
    ]
    return no_store(JSONResponse({"moderators": listed}))


async def disable_moderator(request: Request) -> Response:
    """An admin disables an account: its sessions and live streams end, its cases go back to the
    queue and each person is told the bot is back."""
    state, me = app_of(request), session_in(request)
    email = text_in(await read_json(request), "email")
    found = await state.console.accounts.find(email) if email else None
    if found is None:
        return JSONResponse({"error": "no such moderator"}, status_code=400)
    if found.id == me.moderator.id:
        return JSONResponse({"error": "you can't disable your own account"}, status_code=409)
    moderator, released = await disable_account(
        state.console.accounts, state.cases, state.audit, email, me.moderator.id
    )
    state.desk.disconnect(moderator_id=moderator.id)
    for case in released:
        await bot_resumes(state, case)
    return JSONResponse({"disabled": moderator.email, "released": [c.id for c in released]})


async def enable_moderator(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
    email = text_in(await read_json(request), "email")
    try:
        moderator = await state.console.accounts.enable(email)
    except AccountError:
        return JSONResponse({"error": "no such moderator"}, status_code=400)
    await state.audit.record(me.moderator.id, "moderator_enable", moderator.email)
    return JSONResponse({"enabled": moderator.email})


async def settings(request: Request) -> Response:
    required = await app_of(request).console.two_factor.required()
    return no_store(JSONResponse({"require_two_factor": required}))


async def require_two_factor(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
    on = (await read_json(request)).get("on")
    if not isinstance(on, bool):
        return JSONResponse({"error": "say on (true) or off (false)"}, status_code=400)
    await state.console.two_factor.set_required(on)
    await state.audit.record(me.moderator.id, "two_factor_required", "", "on" if on else "off")
    return JSONResponse({"required": on})


async def reassign(request: Request) -> Response:
    """An admin gives an open case to another moderator (or takes it)."""
    state, me = app_of(request), session_in(request)
    case = await owned_case(request)
    if isinstance(case, Response):
        return case
    email = text_in(await read_json(request), "email")
    target = await state.console.accounts.find(email) if email else None
    if target is None or target.disabled:
        return JSONResponse({"error": "no such active moderator"}, status_code=400)
    done = await state.cases.reassign(case.id, target.id)
    if done is None:
        return JSONResponse({"error": "this case can't be reassigned"}, status_code=409)
    changed, former = done
    state.desk.set_owner(changed.conversation_id, target.id)
    if former is None:
        await notice(state, changed, SYS_MODERATOR_JOINED)
    await state.audit.record(me.moderator.id, "reassign", f"case {case.id}", target.email)
    state.desk.publish({"type": "queue", "case": case.id, "urgent": False})
    return JSONResponse({"case": await describe(state, changed, me)})


def routes() -> list[BaseRoute]:
    return [
        route("/console/api/moderators", moderators, "admin"),
        route("/console/api/moderators/disable", disable_moderator, "admin", ["POST"]),
        route("/console/api/moderators/enable", enable_moderator, "admin", ["POST"]),
        route("/console/api/settings", settings, "admin"),
        route("/console/api/settings/require-2fa", require_two_factor, "admin", ["POST"]),
        route("/console/api/cases/{case}/assign", reassign, "admin", ["POST"]),
    ]
