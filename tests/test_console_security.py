"""The console's access rules over real HTTP against `supportbot run`: sessions, roles, CSRF,
password changes, throttling."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.routing import Route

from bot.console.web import routes
from tests.auxil.browser import Server, free_port
from tests.auxil.console import PASSWORD, add_moderator, login_token, sign_in_api


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("console") / "data"
    data.mkdir()
    running = Server(data, free_port(), {})
    running.start()
    add_moderator(running, "admin@example.org", "admin")
    add_moderator(running, "mod@example.org")
    add_moderator(running, "other@example.org")
    yield running
    running.stop()


@pytest.fixture
async def anonymous(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


def _concrete(path: str) -> str:
    return path.replace("{case}", "1").replace("{item}", "x").replace("{name}", "console.js")


async def test_every_route_without_a_session_redirects_or_answers_401(
    anonymous: httpx.AsyncClient,
) -> None:
    public = {"/console/login", "/console/login/code", "/console/static/{name}"}
    checked = 0
    for route in routes():
        assert isinstance(route, Route)
        if route.path in public:
            continue
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            response = await anonymous.request(method, _concrete(route.path))
            checked += 1
            if method == "GET" and not route.path.startswith("/console/api/"):
                assert response.status_code == 303, route.path
                assert response.headers["location"] == "/console/login"
            else:
                assert response.status_code == 401, (method, route.path)
    assert checked >= 15


async def test_a_moderator_cannot_use_admin_routes(server: Server) -> None:
    moderator = await sign_in_api(server, "mod@example.org")
    admin = await sign_in_api(server, "admin@example.org")
    assert (await moderator.client.get("/console/api/audit")).status_code == 403
    response = await admin.client.get("/console/api/audit")
    assert response.status_code == 200
    actions = [e["action"] for e in response.json()["entries"]]
    assert "signin" in actions and "moderator_add" in actions
    await moderator.client.aclose()
    await admin.client.aclose()


async def test_state_changes_without_the_csrf_token_are_refused(server: Server) -> None:
    moderator = await sign_in_api(server, "mod@example.org")
    no_token = await moderator.client.post("/console/api/cases/1/claim")
    wrong = await moderator.client.post(
        "/console/api/cases/1/claim", headers={"x-csrf-token": "not-the-token"}
    )
    assert no_token.status_code == 403 and wrong.status_code == 403
    # The same request with the token gets past the check (409: there is no case 1 to claim).
    assert (await moderator.post("/console/api/cases/1/claim")).status_code == 409
    # Signing out is a state change too.
    assert (await moderator.client.post("/console/logout")).status_code == 403
    await moderator.client.aclose()


async def test_the_sign_in_form_needs_its_own_token(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post(
        "/console/login", data={"email": "mod@example.org", "password": PASSWORD, "csrf": "1.x"}
    )
    assert response.status_code == 403
    assert "supportbot_console" not in response.headers.get("set-cookie", "")


async def test_session_cookie_flags(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/console/login")
    response = await anonymous.post(
        "/console/login",
        data={"email": "other@example.org", "password": PASSWORD, "csrf": login_token(page.text)},
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_every_session_ends_when_the_password_changes(server: Server) -> None:
    first = await sign_in_api(server, "other@example.org")
    second = await sign_in_api(server, "other@example.org")
    assert (await second.client.get("/console/api/queue")).status_code == 200
    new_password = "a different long passphrase"
    response = await first.post("/console/api/password", {"old": PASSWORD, "new": new_password})
    assert response.status_code == 200
    assert (await first.client.get("/console/api/queue")).status_code == 401
    assert (await second.client.get("/console/api/queue")).status_code == 401
    # The new password works; put the old one back for the other tests.
    third = await sign_in_api(server, "other@example.org", new_password)
    assert (
        await third.post("/console/api/password", {"old": new_password, "new": PASSWORD})
    ).status_code == 200
    for moderator in (first, second, third):
        await moderator.client.aclose()


async def test_sign_in_is_throttled(anonymous: httpx.AsyncClient, server: Server) -> None:
    add_moderator(server, "target@example.org")

    async def attempt(password: str) -> int:
        page = await anonymous.get("/console/login")
        response = await anonymous.post(
            "/console/login",
            data={
                "email": "target@example.org",
                "password": password,
                "csrf": login_token(page.text),
            },
        )
        return response.status_code

    results = [await attempt(f"wrong password {i}") for i in range(4)]
    started = time.monotonic()  # the 5th failure's turn comes after this
    results.append(await attempt("wrong password 5"))
    assert results == [401] * 5
    # Then each attempt waits its turn: 1 s after the last failure, then 2 s after that...
    assert await attempt("wrong password 6") == 401
    assert time.monotonic() - started >= 1.0
    # ...but nobody is locked out: the right password still signs in, in its turn.
    assert await attempt(PASSWORD) == 303
    assert time.monotonic() - started >= 3.0


async def test_routes_declare_who_may_use_them() -> None:
    # Deny by default: a route built without an audience answers 403 to everyone.
    from starlette.applications import Starlette

    from bot.console.routing import route

    async def endpoint(request: object) -> object:
        raise AssertionError("must not run")

    app = Starlette(routes=[route("/console/x", endpoint, None)])  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/console/x")).status_code == 403
