"""Moderators for console tests: accounts made with the real CLI, sign-in over real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

import httpx
from playwright.async_api import BrowserContext, Page

from tests.auxil.browser import ROOT, Server

PASSWORD = "correct horse battery staple"


def add_moderator(server: Server, email: str, role: str = "moderator") -> None:
    """`supportbot moderators add`, as a deploying organisation would run it."""
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(server.data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "moderators", "add", email, "--role", role],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def login_token(page_html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page_html)
    assert match, "no csrf field on the sign-in page"
    return match.group(1)


@dataclass
class ApiModerator:
    """A signed-in moderator driving the console's HTTP API directly."""

    client: httpx.AsyncClient
    csrf: str

    async def post(self, path: str, json: dict[str, object] | None = None) -> httpx.Response:
        return await self.client.post(path, json=json or {}, headers={"x-csrf-token": self.csrf})


async def sign_in_api(server: Server, email: str, password: str = PASSWORD) -> ApiModerator:
    client = httpx.AsyncClient(base_url=server.url, follow_redirects=False)
    page = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf": login_token(page.text)},
    )
    assert response.status_code == 303, response.text
    console = await client.get("/console")
    match = re.search(r'name="csrf-token" content="([^"]+)"', console.text)
    assert match
    return ApiModerator(client, match.group(1))


async def sign_in_browser(context: BrowserContext, server: Server, email: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{server.url}/console")
    await page.wait_for_url(f"{server.url}/console/login")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("#signin")
    await page.wait_for_url(f"{server.url}/console")
    return page
