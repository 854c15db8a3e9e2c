"""The widget's chat, token and key live in a frame on the bot's own origin: a script on the host
page can read none of them, can't drive the chat, and can't take the session elsewhere."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.auxil.browser import CHROMIUM, Server, StaticSite, Widget, free_port

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("SUPPORTBOT_REQUIRE_BROWSER"),
    reason="needs Debian's chromium (apt-get install chromium)",
)

# A curious host page: it records every message posted to it and keeps a reference to storage.
SPY = """<script>
window.seen = [];
window.addEventListener('message', e => window.seen.push(JSON.stringify(e.data)));
</script>"""


@pytest.fixture
def server(tmp_path: Path, site: StaticSite) -> Iterator[Server]:
    running = Server(tmp_path / "data", free_port(), {"SUPPORTBOT_ALLOWED_ORIGINS": site.url})
    running.data_dir.mkdir()
    running.start()
    yield running
    running.stop()


def host_page(site: StaticSite, server: Server, name: str = "host.html", extra: str = "") -> str:
    (site.root / name).write_text(
        "<!doctype html><html lang='en'><head><title>Advice</title></head><body>"
        f"<main><h1>Advice</h1></main>{SPY}{extra}"
        f'<script src="{server.url}/widget.js" data-exit-url="{site.url}/neutral.html">'
        "</script></body></html>"
    )
    return f"{site.url}/{name}"


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


async def test_host_page_script_cannot_read_the_token_or_the_key(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    page = await browser.new_page()
    await page.goto(host_page(site, server))
    widget = Widget(page)
    await widget.open()
    await widget.tap("start")
    await widget.say("I'm 19, someone is blackmailing me")
    await widget.wait_choices()
    state = json.loads((await widget.session_storage())["supportbot"])
    token = state["token"]
    assert len(token) > 20

    # Everything a script on the host page could try.
    seen = await page.evaluate(
        """async () => {
             const frame = document.querySelector('iframe[data-supportbot]');
             const blocked = f => { try { f(); return false; } catch (e) { return true; } };
             return {
               session: Object.keys(sessionStorage),
               local: Object.keys(localStorage),
               databases: (await indexedDB.databases()).map(d => d.name),
               cookies: document.cookie,
               html: document.documentElement.outerHTML,
               src: frame.src,
               document: frame.contentDocument === null,
               frameDocument: blocked(() => frame.contentWindow.document.body),
               frameStorage: blocked(() => frame.contentWindow.sessionStorage.length),
               shadowRoots: [...document.querySelectorAll('*')].filter(e => e.shadowRoot).length,
               api: Object.keys(window.__supportbotWidget).sort(),
               messages: window.seen,
             };
           }"""
    )
    assert seen["session"] == [] and seen["local"] == [] and seen["databases"] == []
    assert seen["cookies"] == ""
    assert token not in seen["html"] and token not in seen["src"]
    assert seen["document"] and seen["frameDocument"] and seen["frameStorage"]
    assert seen["shadowRoots"] == 0
    assert seen["api"] == ["close", "leave", "open"]
    # The frame told the host page only its size and state: never the token or anything said.
    assert seen["messages"], "the frame talks to the host page"
    for message in seen["messages"]:
        assert token not in message and "blackmail" not in message
        assert set(json.loads(message)) <= {"supportbot", "open", "active", "width", "height"}

    # Inside the frame (Playwright's privileges): the key is a CryptoKey that cannot be exported,
    # kept in IndexedDB under the id the tab holds, and only the token in sessionStorage.
    frame = await widget.frame()
    key = await frame.evaluate(
        """id => new Promise((resolve, reject) => {
             const open = indexedDB.open('supportbot');
             open.onerror = () => reject(open.error);
             open.onsuccess = () => {
               const get = open.result.transaction('keys').objectStore('keys').get(id);
               get.onsuccess = async () => {
                 const key = get.result.key;
                 let exported = 'no';
                 for (const format of ['jwk', 'pkcs8']) {
                   try { await crypto.subtle.exportKey(format, key); exported = format; }
                   catch (e) { /* refused, as it must be */ }
                 }
                 open.result.close();
                 resolve({cryptoKey: key instanceof CryptoKey, type: key.type,
                          extractable: key.extractable, exported, record: Object.keys(get.result)});
               };
             };
           })""",
        state["keyId"],
    )
    assert key == {
        "cryptoKey": True,
        "type": "private",
        "extractable": False,
        "exported": "no",
        "record": ["id", "key", "used"],
    }
    assert set(state) <= {"token", "keyId", "shown", "open"}
    assert "jwk" not in json.dumps(state)


async def test_what_an_earlier_widget_left_on_the_host_page_is_removed(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    page = await browser.new_page()
    await page.goto(host_page(site, server))
    await page.evaluate(
        "k => sessionStorage.setItem(k, JSON.stringify({token: 't', jwk: {}}))",
        f"supportbot:{server.url}",
    )
    await page.reload()
    await Widget(page).part(".launcher").wait_for()
    assert await page.evaluate("sessionStorage.length") == 0


async def test_messages_from_other_windows_are_ignored(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    # Another origin's frame on the host page (an ad, say) tries to make the chat leave and to
    # make the host page "leave"; neither side listens to anyone but the other.
    evil_origin = f"http://localhost:{site.port}"
    (site.root / "evil.html").write_text(
        "<!doctype html><title>ad</title><script>"
        "parent.postMessage('the ad is here', '*');"
        "setInterval(() => {"
        "  for (let i = 0; i < parent.frames.length; i++) {"
        "    parent.frames[i].postMessage({supportbot: 'leave'}, '*');"
        "    parent.frames[i].postMessage({supportbot: 'close'}, '*');"
        "  }"
        "  parent.postMessage({supportbot: 'exit'}, '*');"
        "  parent.postMessage({supportbot: 'leaving'}, '*');"
        "}, 50);</script>"
    )
    ad = f'<iframe title="ad" src="{evil_origin}/evil.html"></iframe>'
    page = await browser.new_page()
    url = host_page(site, server, extra=ad)
    await page.goto(url)
    widget = Widget(page)
    await widget.open()
    await widget.tap("start")
    await widget.wait_for("how old are you")
    await asyncio.sleep(0.5)
    seen = await page.evaluate("window.seen")
    assert '"the ad is here"' in seen and '{"supportbot":"exit"}' in seen  # it did try
    assert page.url == url
    assert await widget.part(".panel").is_visible()
    assert await widget.element.evaluate("f => getComputedStyle(f).visibility") == "visible"


async def test_the_frame_may_be_framed_only_by_allowed_origins(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    status, headers, body = fetch(f"{server.url}/widget/frame?host={site.url}&locale=en-GB")
    assert status == 200
    policy = headers["content-security-policy"]
    assert f"frame-ancestors {site.url}" in policy and "script-src 'self'" in policy
    assert "<script" in body and "<script>" not in body  # no inline script
    # A page that is not allowed, or that claims to be another, gets nothing it can show.
    for host in ("http://evil.example", f"http://localhost:{site.port}", "", "*", "'self'"):
        status, headers, _ = fetch(f"{server.url}/widget/frame?host={host}")
        assert status == 403, host
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
    # The server's other pages stay unframeable.
    for path in ("/", "/healthz", "/console/signin", "/widget.js"):
        _, headers, _ = fetch(server.url + path)
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path

    # In a browser: a page on an origin that is not allowed shows no chat at all.
    (site.root / "elsewhere.html").write_text(
        "<!doctype html><title>x</title><body>"
        f'<script src="{server.url}/widget.js"></script></body>'
    )
    page = await browser.new_page()
    await page.goto(f"http://localhost:{site.port}/elsewhere.html")
    await asyncio.sleep(1.0)
    widget = Widget(page)
    assert await widget.element.evaluate("f => getComputedStyle(f).visibility") == "hidden"
    assert await widget.part(".launcher").count() == 0


async def test_escape_once_on_the_page_and_once_in_the_chat_leaves(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    page = await browser.new_page()
    await page.goto(host_page(site, server))
    widget = Widget(page)
    await widget.open()
    await widget.tap("start")
    await widget.wait_for("how old are you")
    await page.locator("h1").click()  # focus on the host page
    await page.keyboard.press("Escape")
    await widget.part("textarea").focus()  # and then in the chat
    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{site.url}/neutral.html")
