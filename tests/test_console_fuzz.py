"""Bad input to the console over HTTP never makes a 500 (issue 11, item 12 and "Done means"): a
form-encoded body sent to a CSRF-protected JSON route, a case id beyond SQLite's integers, and
property-based fuzzing (hypothesis) of every console form and JSON body, over HTTP against the
whole app."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.web.app import create_app
from tests.auxil.browser import Server, free_port
from tests.auxil.console import PASSWORD, add_moderator

JSON_ROUTES = (
    "/console/api/cases/{case}/reply",
    "/console/api/cases/{case}/notes",
    "/console/api/cases/{case}/release",
    "/console/api/cases/{case}/close",
    "/console/api/cases/{case}/assign",
    "/console/api/cases/{case}/claim",
    "/console/api/cases/{case}/export",
    "/console/api/cases/{case}/evidence/x/reveal",
    "/console/api/password",
    "/console/api/moderators/disable",
    "/console/api/moderators/enable",
    "/console/api/settings/require-2fa",
)
FORM_ROUTES = ("/console/login", "/console/login/code", "/console/2fa/confirm", "/console/logout")
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    """The whole app served by uvicorn in a thread of this process (so the sign-in delays can
    be switched off: they are tested elsewhere), an admin signed in over HTTP."""
    data: Path = tmp_path_factory.mktemp("fuzz")
    add_moderator(Server(data, 0, {}), "admin@example.org", "admin")
    app = create_app(Settings(data_dir=data))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)

    async def no_wait(seconds: float) -> None:
        return None

    object.__setattr__(app.state.console.console, "sleep", no_wait)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            page = client.get("/console/login")
            signed = client.post(
                "/console/login",
                data={"email": "admin@example.org", "password": PASSWORD, "csrf": _csrf(page.text)},
            )
            assert signed.status_code == 303
            match = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/console").text)
            assert match
            yield client, match.group(1)
    finally:
        server.should_exit = True
        thread.join(30)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def _signed_in(client: httpx.Client, csrf: str) -> None:
    assert client.get("/console/api/queue").status_code == 200, "the fuzzing signed us out"


def test_a_form_body_to_a_json_route_is_refused_not_a_500(
    app_client: tuple[httpx.Client, str],
) -> None:
    client, csrf = app_client
    for path in ("/console/api/cases/1/notes", "/console/api/password"):
        response = client.post(path, data={"csrf": csrf, "text": "hello"})
        assert 400 <= response.status_code < 500, (path, response.status_code)
    # The CSRF check reads the form; the endpoint still gets the body it expects.
    response = client.post(
        "/console/api/settings/require-2fa",
        content=b'{"on": false}',
        headers={"content-type": "application/x-www-form-urlencoded", "x-csrf-token": csrf},
    )
    assert response.status_code == 200
    _signed_in(client, csrf)


@pytest.mark.parametrize(
    "case", ["9223372036854775808", "99999999999999999999999", "0", "-1", "١٢", "1e3", "x"]
)
def test_a_case_id_out_of_range_or_not_a_number_is_404(
    app_client: tuple[httpx.Client, str], case: str
) -> None:
    client, csrf = app_client
    assert client.get(f"/console/api/cases/{case}").status_code == 404
    claimed = client.post(f"/console/api/cases/{case}/claim", headers={"x-csrf-token": csrf})
    assert claimed.status_code == 404


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
json_bodies = st.dictionaries(
    st.sampled_from(["text", "outcome", "email", "reason", "consent", "old", "new", "on"])
    | st.text(max_size=8),
    json_values,
    max_size=5,
)
case_ids = st.integers(min_value=-(2**70), max_value=2**70).map(str) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
    min_size=1,
    max_size=30,
)


@FUZZ
@given(
    path=st.sampled_from(JSON_ROUTES),
    case=case_ids,
    body=json_bodies | json_values,
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
        ]
    ),
    use_raw=st.booleans(),
)
def test_json_routes_never_answer_500(
    app_client: tuple[httpx.Client, str],
    path: str,
    case: str,
    body: Any,
    raw: bytes,
    content_type: str,
    use_raw: bool,
) -> None:
    client, csrf = app_client
    if path.endswith("/password") or path.endswith("/disable") or path.endswith("require-2fa"):
        # Never change the fuzzing admin's own account; still fuzz the shape of the body.
        body = {"old": body} if not use_raw else body
        if path.endswith("/disable") and isinstance(body, dict):
            body.pop("email", None)
        if path.endswith("require-2fa") and isinstance(body, dict):
            body.pop("on", None)
    url = path.replace("{case}", quote(case, safe=""))
    if use_raw and not path.endswith(("/password", "/disable", "require-2fa")):
        response = client.post(
            url, content=raw, headers={"content-type": content_type, "x-csrf-token": csrf}
        )
    else:
        response = client.post(
            url,
            content=json.dumps(body).encode(),  # NaN and Infinity too, as Python writes them
            headers={"content-type": "application/json", "x-csrf-token": csrf},
        )
    assert response.status_code < 500, (url, response.status_code)


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["offset", "limit", "group"]) | st.text(max_size=6),
        st.text(max_size=40) | st.integers(min_value=-(2**70), max_value=2**70).map(str),
        max_size=4,
    )
)
def test_the_queue_s_paging_never_answers_500(
    app_client: tuple[httpx.Client, str], params: dict[str, str]
) -> None:
    client, _ = app_client
    response = client.get("/console/api/queue", params=params)
    assert response.status_code in (200, 400), (params, response.status_code)
    if response.status_code == 200:
        assert len(response.json()["cases"]) <= 100


@FUZZ
@given(
    path=st.sampled_from(FORM_ROUTES),
    fields=st.dictionaries(
        st.sampled_from(["email", "password", "code", "pending", "csrf"]) | st.text(max_size=10),
        st.text(max_size=300),
        max_size=6,
    ),
    good_token=st.booleans(),
)
def test_console_forms_never_answer_500(
    app_client: tuple[httpx.Client, str], path: str, fields: dict[str, str], good_token: bool
) -> None:
    client, csrf = app_client
    if path == "/console/logout":
        fields = {k: v for k, v in fields.items() if k != "csrf"}  # stay signed in
    elif good_token:
        token = (
            csrf if path.startswith("/console/2fa") else _csrf(client.get("/console/login").text)
        )
        fields = {**fields, "csrf": token}
    response = client.post(path, data=fields)
    assert response.status_code < 500, (path, response.status_code)
    _signed_in(client, csrf)


@FUZZ
@given(
    path=st.sampled_from(FORM_ROUTES),
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "application/json",
            "",
        ]
    ),
)
def test_console_form_routes_take_any_bytes_without_a_500(
    app_client: tuple[httpx.Client, str], path: str, raw: bytes, content_type: str
) -> None:
    client, csrf = app_client
    response = client.post(path, content=raw, headers={"content-type": content_type})
    assert response.status_code < 500, (path, content_type, response.status_code)
    _signed_in(client, csrf)
