"""Two-factor sign-in pages for each moderator (/console/2fa): turn it on with an authenticator
app, see how many recovery codes are left. Server-rendered forms with the session's CSRF token;
the key and the recovery codes are shown once, never again. Set-up and turning on are audited
(who and when, never a code or the key).
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from bot.console.routing import STATIC, app_of, form_field, no_store, route, session_in
from bot.console.sessions import SessionInfo


def _two_factor_page(me: SessionInfo, body: str, status: int = 200) -> Response:
    page = (STATIC / "twofactor.html").read_text(encoding="utf-8")
    page = page.replace("__CSRF__", html.escape(me.csrf)).replace("__BODY__", body)
    return no_store(HTMLResponse(page, status_code=status))


def _setup_form(me: SessionInfo, label: str = "Set up two-factor sign-in") -> str:
    return (
        '<form method="post" action="/console/2fa/setup">'
        f'<input type="hidden" name="csrf" value="{html.escape(me.csrf)}">'
        f'<button id="twofa-setup" type="submit" class="primary">{label}</button></form>'
    )


async def two_factor_page(request: Request) -> Response:
    state, me = app_of(request), session_in(request)
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
    state, me = app_of(request), session_in(request)
    try:
        secret, uri = await state.console.two_factor.begin(me.moderator.id, me.moderator.email)
    except ValueError:
        return _two_factor_page(
            me, '<p id="twofa-status">Two-factor sign-in is already on.</p>', 409
        )
    await state.audit.record(me.moderator.id, "two_factor_setup", me.moderator.email)
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
    state, me = app_of(request), session_in(request)
    code = (await form_field(request, "code"))[:64]
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
    return [
        route("/console/2fa", two_factor_page, "moderator"),
        route("/console/2fa/setup", two_factor_setup, "moderator", ["POST"]),
        route("/console/2fa/confirm", two_factor_confirm, "moderator", ["POST"]),
    ]
