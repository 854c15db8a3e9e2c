"""What the case routes share: the case named in the path (as its owner or an admin may see it),
how a case is described to moderators (categories and times, never words), and telling the person
when someone joins or the bot takes over again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.console.cases import Case
from bot.console.routing import ConsoleApp, app_of, say, session_in
from bot.console.sessions import SessionInfo

log = logging.getLogger(__name__)
MAX_CASE_ID = 2**63 - 1  # SQLite's largest integer


def summary(case: Case, names: dict[str, str]) -> str:
    """A short line built from the conversation's answers (categories, never words)."""
    parts = [names.get(case.pattern or "", "Not said yet")]
    parts.append(f"age {case.age_band.replace('_', '–')}" if case.age_band else "age not given")
    parts.append((case.nation or "place not given").replace("_", " ").title())
    parts.append(
        {"crisis": "risk of harm", "asked": "asked for a person"}.get(case.reason, case.reason)
    )
    return " · ".join(parts)


async def describe(
    state: ConsoleApp, case: Case, me: SessionInfo, owners: dict[int, str] | None = None
) -> dict[str, Any]:
    """A case as the queue and the case view show it; `owners`: moderator id -> email, when the
    caller has them all already (a page of the queue)."""
    owner = None
    if case.owner is not None and owners is not None:
        owner = owners.get(case.owner)
    elif case.owner is not None:
        moderator = await state.console.accounts.get(case.owner)
        owner = moderator.email if moderator else None
    return {
        **case.public(time.time(), owner),
        "mine": case.owner == me.moderator.id,
        "summary": summary(case, state.pattern_names),
        # The language the person is talking in, by its own name ("Cymraeg"), for the reply.
        "language": state.engine.readers.languages.names.get(case.locale or "", case.locale),
    }


def case_id_in(request: Request) -> int | None:
    """The case id in the path: ASCII digits within SQLite's integer range, else None."""
    given = str(request.path_params["case"])
    if not (given.isascii() and given.isdigit()) or len(given) > 19:
        return None
    case_id = int(given)
    return case_id if 0 < case_id <= MAX_CASE_ID else None


async def owned_case(request: Request) -> Case | Response:
    """The case in the path, if this moderator owns it (admins may read any)."""
    state, me = app_of(request), session_in(request)
    case_id = case_id_in(request)
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


async def notice(state: ConsoleApp, case: Case, key: str) -> None:
    """A system notice to the person (a moderator joined...), in their conversation's language."""
    try:
        conversation = await state.engine.repository.load(case.conversation_id)
        locale = conversation.locale if conversation is not None else None
        await state.desk.to_person(case, say(state, key, locale), "notice")
    except Exception as exc:  # the claim or release stands; the person simply misses a notice
        log.warning("notice to case %d not delivered (%s)", case.id, type(exc).__name__)


async def bot_resumes(state: ConsoleApp, case: Case) -> None:
    if not await state.desk.resume(case):  # the desk's sweep may have told the person already
        state.desk.publish({"type": "queue", "case": case.id, "urgent": False})
