"""Signing in and out of the console: the password step, the second step (a code from the app
or a recovery code) when two-factor sign-in is on, and signing out.

Both steps are plain forms with a stateless form token (sign-in CSRF), refused from another
origin or when too long; the second step carries a short-lived MAC that proves the password was
right moments ago, so no session exists before the code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from bot.console.accounts import Moderator
from bot.console.routing import (
    ConsoleApp,
    app_of,
    declared_length,
    fill_page,
    is_secure,
    no_store,
    route,
)
from bot.console.sessions import cookie_name, cookie_options, token_hash

LOGIN_TOKEN_SECONDS = 3600
CODE_TOKEN_SECONDS = 300  # the second sign-in step must follow the password within this


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
    page = fill_page("login.html", csrf=_login_token(app_of(request).login_key), error=error)
    return no_store(HTMLResponse(page, status_code=status))


async def _login_form(request: Request) -> FormData | Response:
    """A sign-in step's form, or the page that refuses it: too long, another origin, or an
    expired form token (both sign-in steps check the same things first)."""
    state = app_of(request)
    if declared_length(request) > 8192:
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
    state = app_of(request)
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
    response.set_cookie(value=token, **cookie_options(is_secure(request)))
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
    state = app_of(request)
    page = fill_page(
        "login_code.html",
        csrf=_login_token(state.login_key),
        pending=_code_token(state.login_key, moderator),
        error=error,
    )
    return no_store(HTMLResponse(page, status_code=status))


async def login_code(request: Request) -> Response:
    """The second sign-in step: a code from the app, or a recovery code."""
    state = app_of(request)
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
    token = request.cookies.get(cookie_name(is_secure(request)), "")
    app_of(request).desk.disconnect(session_key=token_hash(token))
    await app_of(request).console.sign_out(token)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(**cookie_options(is_secure(request)))
    return response


def new_login_key() -> bytes:
    return secrets.token_bytes(32)


def routes() -> list[BaseRoute]:
    return [
        route("/console/login", login_form, "public"),
        route("/console/login", login, "public", ["POST"]),
        route("/console/login/code", login_code, "public", ["POST"]),
        route("/console/logout", logout, "moderator", ["POST"]),
    ]
