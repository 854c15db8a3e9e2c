"""Support numbers in the widget are tappable: tel: for calls, sms: for texts; only the
directory's own numbers, only in the bot's messages (never what the person typed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from bot.engine import Content
from tests.auxil.browser import CHROMIUM, Server, StaticSite, Widget, free_port, to_evidence_step

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


def digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit() or c == "+")


async def test_crisis_numbers_are_links_and_typed_numbers_are_not(
    browser: Browser, server: Server, site: StaticSite, content: Content
) -> None:
    services = content.directory.services
    samaritans = services["samaritans"].contacts["phone"]
    shout = services["shout"].contacts["sms"]
    (site.root / "host.html").write_text(
        "<!doctype html><html lang='en'><head><title>Advice</title></head><body>"
        f'<script src="{server.url}/widget.js" data-exit-url="{site.url}/neutral.html">'
        "</script></body></html>"
    )
    page = await browser.new_page()
    await page.goto(f"{site.url}/host.html")
    widget = Widget(page)
    await widget.open()
    await widget.tap("start")
    await widget.say("I'm 40")  # an adult: the crisis lines include Shout, by text
    await widget.wait_choices()
    await widget.say(f"I want to kill myself, I tried {samaritans} and 07700 900123")
    await widget.wait_for(samaritans)
    call = widget.part(f'.msg.bot a[href="tel:{digits(samaritans)}"]')
    await call.first.wait_for()
    assert await call.first.inner_text() == samaritans
    text = widget.part(f'.msg.bot a[href="sms:{digits(shout)}"]')
    assert await text.count() >= 1 and await text.first.inner_text() == shout
    # Every link is a tel:/sms: with digits only, and the words around it are all still there.
    hrefs = await widget.part(".msg a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs and all(h.split(":", 1)[0] in ("tel", "sms") for h in hrefs)
    assert all(digits(h.split(":", 1)[1]) == h.split(":", 1)[1] for h in hrefs)
    crisis = await widget.part(".msg.bot.crisis").all_inner_texts()
    assert any(f"call {samaritans}" in t for t in crisis)
    # What the person typed is never linked, though it holds a directory number.
    mine = widget.part(".msg.you").filter(has_text=samaritans)
    assert await mine.count() == 1
    assert await widget.part(".msg.you a").count() == 0
    assert await widget.part('a[href="tel:07700900123"]').count() == 0


async def test_a_number_read_back_from_evidence_is_not_a_link(
    browser: Browser, server: Server, site: StaticSite
) -> None:
    (site.root / "host.html").write_text(
        "<!doctype html><html lang='en'><head><title>Advice</title></head><body>"
        f'<script src="{server.url}/widget.js" data-exit-url="{site.url}/neutral.html">'
        "</script></body></html>"
    )
    page = await browser.new_page()
    await page.goto(f"{site.url}/host.html")
    widget = Widget(page)
    await widget.open()
    await to_evidence_step(widget)
    await widget.say("They messaged me from 07911 123456, and said call 999 or else")
    await widget.wait_for("+447911123456")  # read back to the person, as the bot found it
    read_back = widget.part(".msg.bot").filter(has_text="+447911123456")
    assert await read_back.count() >= 1
    assert await read_back.locator("a").count() == 0
    hrefs = await widget.part(".msg a").evaluate_all("links => links.map(a => a.href)")
    assert not any("7911123456" in h for h in hrefs)
    assert await widget.part(".msg.you a").count() == 0
