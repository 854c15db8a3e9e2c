"""The web widget in a real browser (Debian's Chromium via Playwright) against `supportbot run`."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.auxil.browser import (
    CHROMIUM,
    Server,
    StaticSite,
    Widget,
    free_port,
    to_evidence_step,
    walk_to_goodbye,
)
from tests.auxil.files import png

# CI installs Debian's chromium and sets SUPPORTBOT_REQUIRE_BROWSER: there, no skipping.
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("SUPPORTBOT_REQUIRE_BROWSER"),
    reason="needs Debian's chromium (apt-get install chromium)",
)


@pytest.fixture
def server(tmp_path: Path, site: StaticSite) -> Iterator[Server]:
    running = Server(tmp_path / "data", free_port(), {"SUPPORTBOT_ALLOWED_ORIGINS": site.url})
    running.data_dir.mkdir()
    running.start()
    yield running
    running.stop()


def host_page(site: StaticSite, server: Server, name: str = "host.html", **attrs: str) -> str:
    """A page on the other origin with the one-line embed, as an organisation would add it."""
    data = {"exit-url": f"{site.url}/neutral.html", **attrs}
    extra = " ".join(f'data-{k}="{v}"' for k, v in data.items())
    (site.root / name).write_text(
        "<!doctype html><html lang='en'><head><title>Police advice</title>"
        "<style>button{all:unset;color:red} div{font-size:40px}</style></head>"
        "<body><main><h1>Sextortion advice</h1><p>Some advice.</p></main>"
        f'<script src="{server.url}/widget.js" {extra}></script></body></html>'
    )
    return f"{site.url}/{name}"


async def demo(browser: Browser, server: Server, site: StaticSite) -> tuple[Page, Widget]:
    page = await browser.new_page()
    await page.goto(host_page(site, server))
    return page, Widget(page)


def rows(server: Server, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(server.data_dir / "supportbot.db") as db:
        return list(db.execute(sql))


async def test_demo_page_shows_the_widget_and_the_snippet(browser: Browser, server: Server) -> None:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    response = await page.goto(server.url + "/")
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "widget.js" in await page.locator("pre code").inner_text()
    widget = Widget(page)
    await widget.open()
    await widget.tap("start")
    await widget.wait_for("how old are you")
    assert errors == []  # no CSP violations, no script errors


async def test_full_conversation_through_the_widget(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    _, widget = await demo(browser, server, site)
    await widget.open()
    texts = await walk_to_goodbye(widget, "recorded me")
    said = "\n".join(texts)
    assert "don't pay" in said.lower() and "police on 101" in said
    # Both sides are logged on the server (sealed), numbered without gaps.
    seqs = [r[0] for r in rows(server, "SELECT seq FROM web_messages ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    # The server's log has no words, and no record of who connected.
    log = (server.data_dir / "server.log").read_text()
    assert "I'm 30" not in log and '"WebSocket' not in log and "connection open" not in log
    assert "Application startup complete" in log
    # The host page's CSS ("button{all:unset}") did not reach inside the widget.
    colour = await widget.part(".send").evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(29, 78, 216)"


async def test_evidence_upload(
    browser: Browser, server: Server, site: StaticSite, tmp_path: Path
) -> None:
    _, widget = await demo(browser, server, site)
    await widget.open()
    await to_evidence_step(widget)
    shot = tmp_path / "chat.png"
    shot.write_bytes(png(b"username: scammer_99"))
    await widget.part("input[type=file]").set_input_files(str(shot))
    await widget.wait_for("Saved and locked")
    stored = rows(server, "SELECT media_type, size FROM evidence")
    assert stored == [("image/png", shot.stat().st_size)]


async def _chat_a_little(widget: Widget) -> None:
    await widget.open()
    await widget.tap("start")
    await widget.say("I'm 19, someone is blackmailing me")
    await widget.wait_choices()


async def _assert_forgotten(server: Server) -> None:
    """The server forgets at once; the beacon may need its round trip."""
    tables = ("conversations", "web_sessions", "web_messages")
    for _ in range(50):
        if not any(rows(server, f"SELECT 1 FROM {table}") for table in tables):
            break
        await asyncio.sleep(0.1)
    for table in tables:
        assert rows(server, f"SELECT 1 FROM {table}") == [], table


async def _assert_left(page: Page, server: Server, site: StaticSite, entries: int) -> None:
    await page.wait_for_url(f"{site.url}/neutral.html")
    # location.replace: the chat page's history entry was replaced, not added to.
    assert await page.evaluate("history.length") == entries
    assert await page.evaluate("sessionStorage.length") == 0
    assert await page.evaluate("localStorage.length") == 0
    assert await page.context.cookies() == []
    await _assert_forgotten(server)
    # Back goes to whatever came before the chat page, never to the chat.
    await page.go_back()
    assert "host.html" not in page.url
    await _assert_frame_storage_empty(page, server)


async def _assert_frame_storage_empty(page: Page, server: Server) -> None:
    """Nothing left in the frame origin's storage either: no token, no key, no database. (The
    host and the server share a site, 127.0.0.1, so a page of the server's own in the same tab
    sees the frame's partition.)"""
    await page.goto(f"{server.url}/healthz")
    assert await page.evaluate("sessionStorage.length") == 0
    assert await page.evaluate("localStorage.length") == 0
    assert await page.evaluate("indexedDB.databases().then(d => d.map(x => x.name))") == []


async def test_quick_exit_by_button(browser: Browser, server: Server, site: StaticSite) -> None:
    page = await browser.new_page()
    await page.goto(host_page(site, server))
    widget = Widget(page)
    await _chat_a_little(widget)
    assert rows(server, "SELECT 1 FROM conversations") != []
    entries = await page.evaluate("history.length")
    await widget.part(".leave").click()
    await _assert_left(page, server, site, entries)


async def test_quick_exit_by_double_escape(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    page = await browser.new_page()
    await page.goto(host_page(site, server))
    widget = Widget(page)
    await _chat_a_little(widget)
    entries = await page.evaluate("history.length")
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await _assert_left(page, server, site, entries)


async def test_reconnect_after_the_server_drops_the_socket(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    page, widget = await demo(browser, server, site)
    await widget.open()
    await widget.tap("start")
    await widget.wait_for("how old are you")
    server.kill()  # a crash: every socket drops at once
    await widget.part(".status").filter(has_text="Reconnecting").wait_for()
    # Typed while the server is down: kept by the widget and sent after it reconnects.
    await widget.say("I'm 30")
    server.start()
    await widget.tap("England")
    await widget.wait_for("What happened?")
    texts = await widget.bot_texts()
    assert len(texts) == len(set(texts)), texts  # nothing shown twice
    assert sum("how old are you" in t for t in texts) == 1
    you = [t.strip() for t in await widget.part(".msg.you").all_inner_texts()]
    assert you == ["OK, let's start", "I'm 30", "England"]
    # A reload of the page (same tab) resumes too, showing the conversation as it was.
    await page.reload()
    widget = Widget(page)
    await widget.wait_for("What happened?")
    assert await widget.bot_texts() == texts


async def test_keyboard_only(browser: Browser, server: Server, site: StaticSite) -> None:
    page, widget = await demo(browser, server, site)
    # Tab from the page's start reaches the launcher; Enter opens; focus goes to the text box.
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await widget.part(".launcher").evaluate("b => b.matches(':focus')"):
            break
    else:
        raise AssertionError("the launcher is not reachable with Tab")
    await page.keyboard.press("Enter")
    await widget.wait_for("Hi. I'm a support bot")
    assert await widget.part("textarea").evaluate("t => t.matches(':focus')")
    await widget.wait_choices()
    # Shift+Tab back from the text box lands on the option; Enter picks it.
    await page.keyboard.press("Shift+Tab")
    focused = await (await widget.frame()).evaluate("() => document.activeElement.textContent")
    assert focused == "OK, let's start"
    outline = await widget.part(".choice").first.evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline == "solid"  # focus is visible
    await page.keyboard.press("Enter")
    await widget.wait_for("how old are you")
    await widget.part("textarea").focus()
    await page.keyboard.type("I'm 30")
    await page.keyboard.press("Enter")
    await widget.wait_for("Where do you live")


async def test_accessibility_scan_has_no_violations(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    from axe_playwright_python.async_playwright import Axe

    page, widget = await demo(browser, server, site)
    await widget.open()
    await widget.tap("start")
    await widget.wait_choices()
    # The chat's own document, in its frame, and the frame element on the host page (its title).
    inside = await Axe().run(await widget.frame())
    outside = await Axe().run(
        page, context={"include": [["iframe[data-supportbot]"]]}, options={"iframes": False}
    )
    violations = inside.response["violations"] + outside.response["violations"]
    assert violations == [], json.dumps(
        [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations], indent=1
    )
    # Messages are announced: the log is an ARIA live region.
    assert await widget.part(".log").get_attribute("aria-live") == "polite"


async def test_phone_screen_360px(
    browser: Browser, server: Server, site: StaticSite, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    page = await context.new_page()
    await page.goto(host_page(site, server))
    widget = Widget(page)
    await widget.open()
    await widget.tap("start")
    await widget.wait_choices()
    box = await widget.part(".panel").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    for part in (".leave", ".send", "textarea", ".choice"):
        part_box = await widget.part(part).first.bounding_box()
        assert part_box is not None and part_box["x"] + part_box["width"] <= 360, part
    artifacts = Path(__file__).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.screenshot(path=str(artifacts / "widget-360.png"))
    await context.close()


async def test_a_copied_token_opens_nothing_in_another_context(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    _, widget = await demo(browser, server, site)
    await _chat_a_little(widget)
    # Read with Playwright's privileges: no script on the host page can (test_widget_isolation).
    stored = json.loads((await widget.session_storage())["supportbot"])
    token = stored["token"]
    # Another browser context on the same page, with the token (and the id of the first tab's
    # key) copied into the frame's sessionStorage, but not the key itself, which cannot be
    # exported: the widget is refused and starts afresh.
    other = await browser.new_context()
    thief = await other.new_page()
    await thief.goto(host_page(site, server))
    theirs = Widget(thief)
    await theirs.part(".launcher").wait_for()
    await (await theirs.frame()).evaluate(
        "s => sessionStorage.setItem('supportbot', JSON.stringify(s))",
        {"token": token, "keyId": stored["keyId"], "open": True},
    )
    await thief.reload()
    theirs = Widget(thief)
    await theirs.wait_for("Hi. I'm a support bot")
    assert not any("19" in t for t in await theirs.part(".msg").all_inner_texts())
    # Replaying the first widget's resume frame from the other context: a new nonce, refused.
    answer = await thief.evaluate(
        """([url, token]) => new Promise(resolve => {
             const ws = new WebSocket(url);
             ws.onmessage = e => {
               const f = JSON.parse(e.data);
               const sig = btoa('x'.repeat(64));
               if (f.t === 'hello') ws.send(JSON.stringify({t: 'resume', token, sig, after: 0}));
               else resolve(f.t);
             };
             ws.onclose = e => resolve('closed ' + e.code);
           })""",
        [server.url.replace("http", "ws") + "/ws", token],
    )
    assert answer == "denied"
    # The original tab is unaffected and carries on.
    await widget.say("I'm 30")
    await widget.tap("England")
    await other.close()


async def test_another_origin_cannot_connect(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    # A page on an origin that is not allowed: the WebSocket handshake is refused.
    page = await browser.new_page()
    await page.goto(f"{server.url}/healthz")  # any page; the socket's Origin is what counts
    evil = await browser.new_page()
    await evil.goto(f"http://localhost:{site.port}/neutral.html")  # same files, other origin
    result = await evil.evaluate(
        """url => new Promise(resolve => {
             const ws = new WebSocket(url);
             ws.onopen = () => resolve('open');
             ws.onerror = () => resolve('refused');
           })""",
        server.url.replace("http", "ws") + "/ws",
    )
    assert result == "refused"


async def test_quick_exit_after_the_chat_was_minimised_and_the_page_changed(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    # The person chats, minimises the chat and moves to another page of the site: the chat is
    # not connected on that page, but Escape twice must still make the server forget them.
    page = await browser.new_page()
    await page.goto(host_page(site, server))
    widget = Widget(page)
    await _chat_a_little(widget)
    await widget.part(".minimise").click()
    await page.goto(host_page(site, server, "other.html"))
    await page.wait_for_load_state("load")
    entries = await page.evaluate("history.length")
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{site.url}/neutral.html")
    assert await page.evaluate("history.length") == entries
    await _assert_forgotten(server)
