"""The moderator console in headless Chromium: two moderators, a person on the widget and one on
Telegram (the stand-in Bot API), against a real `supportbot run`."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.auxil.botapi import TOKEN, BotApiStandIn
from tests.auxil.browser import CHROMIUM, Server, Widget, free_port, to_evidence_step
from tests.auxil.console import add_moderator, sign_in_api, sign_in_browser
from tests.auxil.files import png

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("SUPPORTBOT_REQUIRE_BROWSER"),
    reason="needs Debian's chromium (apt-get install chromium)",
)
CHAT = 4242
MODERATORS_CHAT = -100777


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def server(tmp_path: Path, api: BotApiStandIn) -> AsyncIterator[Server]:
    data = tmp_path / "data"
    data.mkdir()
    running = Server(
        data,
        free_port(),
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "SUPPORTBOT_MODERATORS_CHAT_ID": str(MODERATORS_CHAT),
        },
    )
    await asyncio.to_thread(running.start)
    await asyncio.to_thread(add_moderator, running, "alex@example.org", "admin")
    await asyncio.to_thread(add_moderator, running, "sam@example.org")
    yield running
    await asyncio.to_thread(running.stop)


async def person_on_widget(browser: Browser, server: Server) -> Widget:
    page = await browser.new_page()
    await page.goto(server.url + "/")
    widget = Widget(page)
    await widget.open()
    return widget


async def lines(page: Page, author: str) -> list[str]:
    texts = await page.locator(f"#lines .line[data-author={author}]").all_inner_texts()
    return [t.strip() for t in texts]


async def test_two_moderators_relay_on_both_channels(
    browser: Browser, server: Server, api: BotApiStandIn
) -> None:
    alex = await sign_in_browser(await browser.new_context(), server, "alex@example.org")
    sam = await sign_in_browser(await browser.new_context(), server, "sam@example.org")

    # A person on the widget asks for a human; they are told someone is online.
    widget = await person_on_widget(browser, server)
    await widget.tap("start")
    await widget.say("I want to talk to a person")
    await widget.wait_for("Someone is online")
    # A person on Telegram does the same.
    api.text(CHAT, "/start")
    await api.wait_for(CHAT, 2)
    api.text(CHAT, "person")
    await until(lambda: _said(api, "Someone is online"))

    # Both consoles see both cases, live.
    for page in (alex, sam):
        await until(lambda p=page: _count(p, "#queue [data-case]", 2))
    web_case = await _case_id(alex, "web")
    telegram_case = await _case_id(alex, "telegram")

    # Claim race: both click at the same moment; exactly one wins.
    press = f"document.querySelector('[data-case=\"{web_case}\"] .claim').click()"
    await asyncio.gather(alex.evaluate(press), sam.evaluate(press))
    await until(lambda: _owner_shown(alex, web_case))
    # The winner's case view opens a moment after the queue shows the owner (on a loaded
    # machine, after this line was reached): wait for one to open, then name the winner.
    await until(lambda: _any_case_open(alex, sam))
    winner, loser = (alex, sam) if await alex.locator("#view-case").is_visible() else (sam, alex)
    assert await winner.locator("#view-case").is_visible()
    await until(lambda: _text_in(loser, "#status", "already claimed"))

    # The person is told a person joined; the moderator's words reach the widget.
    await widget.wait_for("has joined this chat")
    await winner.fill("#reply-text", "Hello, I'm from the team. You did the right thing.")
    await winner.click("#reply-send")
    await widget.wait_for("You did the right thing")
    team = await widget.part(".msg.moderator").last.inner_text()
    assert team.startswith("From our team")  # not mistaken for the bot
    # The person's reply appears live in the console, and the bot stays quiet meanwhile.
    before = len(await widget.bot_texts())
    await widget.say("thank you, what now?")
    await until(lambda: _has_line(winner, "person", "thank you, what now?"))
    await asyncio.sleep(0.5)
    assert len(await widget.bot_texts()) == before

    # Private notes.
    await winner.fill("#note-text", "Seems 19, England; advised not to pay.")
    await winner.click("#note-add")
    await until(lambda: _text_in(winner, "#notes", "advised not to pay"))
    assert not any("advised not to pay" in t for t in await widget.part(".msg").all_inner_texts())

    # Hand back to the queue: the bot resumes for the person.
    await winner.click("#release")
    await widget.wait_for("I'm here again")
    await widget.say("I'm 30")
    await widget.wait_for("Where do you live")

    # Telegram: the other moderator takes that case, and the relay works there too.
    await loser.click("#nav-queue")
    await loser.click(f'[data-case="{telegram_case}"] .claim')
    await until(lambda: _said(api, "has joined this chat"))
    await loser.fill("#reply-text", "Hi, this is the team on Telegram.")
    await loser.click("#reply-send")
    await until(lambda: _said(api, "this is the team on Telegram"))
    sent = len(api.chat(CHAT))
    api.text(CHAT, "ok, I blocked them")
    await until(lambda: _has_line(loser, "person", "ok, I blocked them"))
    await asyncio.sleep(0.5)
    assert len(api.chat(CHAT)) == sent  # the bot is paused while the case is owned
    # Close with an outcome: the bot is back.
    await loser.select_option("#close-outcome", "advice_given")
    await loser.click("#close")
    await until(lambda: _said(api, "I'm here again"))
    api.text(CHAT, "OK, let's start")
    await until(lambda: _said(api, "how old are you"))

    # Every claim is in the audit log, with who; no words from the conversations.
    admin = await sign_in_api(server, "alex@example.org")
    entries = (await admin.client.get("/console/api/audit")).json()["entries"]
    claims = [e for e in entries if e["action"] == "claim"]
    assert len(claims) == 2
    assert "blocked" not in json.dumps(entries) and "thank you" not in json.dumps(entries)
    await admin.client.aclose()
    # Consoles came and went (live streams opened and closed): no errors in the server's log.
    await asyncio.sleep(0.5)
    assert "Traceback" not in (server.data_dir / "server.log").read_text()


async def test_claims_at_the_same_moment_over_http(server: Server) -> None:
    # Many simultaneous claims from two moderators: exactly one succeeds.
    alex = await sign_in_api(server, "alex@example.org")
    sam = await sign_in_api(server, "sam@example.org")
    widget_free = await _widget_case_over_ws(server)
    results = await asyncio.gather(
        *(m.post(f"/console/api/cases/{widget_free}/claim") for m in [alex, sam] * 5)
    )
    assert sorted(r.status_code for r in results) == [200] + [409] * 9
    await alex.client.aclose()
    await sam.client.aclose()


async def _widget_case_over_ws(server: Server) -> int:
    """A person who asks for a human, through the widget's protocol (no browser needed)."""
    import base64

    import websockets
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    async with websockets.connect(
        server.url.replace("http", "ws") + "/ws",
        origin=server.url,  # type: ignore[arg-type]
        compression=None,
    ) as ws:
        hello = json.loads(await ws.recv())
        der = key.sign(f"supportbot:connect:{hello['nonce']}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        encode = base64.b64encode
        frame = {"t": "new", "key": encode(raw).decode(), "sig": encode(sig).decode()}
        await ws.send(json.dumps(frame))
        await ws.send(json.dumps({"t": "text", "id": "ask1", "text": "can I talk to a person"}))
        frames = [json.loads(await ws.recv())]
        while frames[-1].get("t") != "ack":  # the reply, then the acknowledgement
            frames.append(json.loads(await ws.recv()))
    admin = await sign_in_api(server, "alex@example.org")
    cases = (await admin.client.get("/console/api/queue")).json()["cases"]
    await admin.client.aclose()
    return int(next(c["id"] for c in cases if c["channel"] == "web" and c["status"] == "queued"))


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)>",
    "<body onload=alert(1)>",
    "<a href=javascript:alert(1)>click</a>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<link rel=import href=data:text/html,<script>alert(1)</script>>",
    "javascript:alert(1)",
    "{{constructor.constructor('alert(1)')()}}",
    "${alert(1)}",
    "<style>@import 'javascript:alert(1)';</style>",
    '<div style="background:url(javascript:alert(1))">',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<template><img src=x onerror=alert(1)></template>",
    "<select autofocus onfocus=alert(1)>",
]


async def test_what_people_type_shows_as_inert_text(browser: Browser, server: Server) -> None:
    widget = await person_on_widget(browser, server)
    await to_evidence_step(widget)
    # Evidence whose file name is an attack.
    await widget.part("input[type=file]").set_input_files(
        {"name": "<img src=x onerror=alert(1)>.png", "mimeType": "image/png", "buffer": png()}
    )
    await widget.wait_for("Saved and locked")
    for payload in XSS:
        await widget.say(payload)
        await asyncio.sleep(0.05)
    await widget.say("person")
    # Nobody has the console open yet, and the person is told so honestly.
    await widget.wait_for("nobody is online right now", timeout=20)

    page = await sign_in_browser(await browser.new_context(), server, "sam@example.org")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
    await until(lambda: _count(page, "#queue [data-case]", 1))
    case = await _case_id(page, "web")
    await page.click(f'[data-case="{case}"] .claim')
    await until(lambda: _has_line(page, "person", XSS[-1]), timeout=20)
    shown = await lines(page, "person")
    for payload in XSS:
        assert payload in shown, payload
    await page.locator("#evidence .evidence").first.wait_for()
    assert "<img src=x onerror=alert(1)>.png" in await page.locator("#evidence").inner_text()
    # Nothing was parsed as markup: no injected elements, no script ran.
    injected = await page.evaluate(
        "() => document.querySelectorAll('#lines img, #lines svg, #lines iframe, #lines script, "
        "#lines object, #lines embed, #lines video, #lines audio, #lines input, #lines details, "
        "#evidence img, #evidence svg, #evidence script').length"
    )
    assert injected == 0
    await asyncio.sleep(0.5)
    assert dialogs == []


async def test_evidence_reveal_is_audited_and_export_needs_consent(
    browser: Browser, server: Server
) -> None:
    widget = await person_on_widget(browser, server)
    await to_evidence_step(widget)
    await widget.part("input[type=file]").set_input_files(
        {"name": "chat.png", "mimeType": "image/png", "buffer": png(b"user: scammer_99")}
    )
    await widget.wait_for("Saved and locked")
    await widget.say("person")
    await widget.wait_for("nobody is online right now")

    page = await sign_in_browser(await browser.new_context(), server, "alex@example.org")
    await until(lambda: _count(page, "#queue [data-case]", 1))
    await page.click(f'[data-case="{await _case_id(page, "web")}"] .claim')
    row = page.locator("#evidence .evidence").first
    await row.wait_for()
    assert "image/png" in await row.inner_text()
    # Hidden by default: no image is loaded until a reason is given.
    assert await page.locator("#evidence img").count() == 0
    await row.locator(".reveal").click()
    await asyncio.sleep(0.3)
    assert await page.locator("#evidence img").count() == 0
    await row.locator(".reveal-reason").fill("Checking the username for the police report")
    await row.locator(".reveal").click()
    await page.locator("#evidence img.preview").wait_for()

    # Export: needs the person's consent recorded, then downloads a verifiable pack.
    await page.fill("#export-consent", "Person agreed in chat to share with police")
    async with page.expect_download() as download_info:
        await page.click("#export")
    download = await download_info.value
    pack = zipfile.ZipFile(io.BytesIO(Path(await download.path()).read_bytes()))
    assert "manifest.json" in pack.namelist()

    admin = await sign_in_api(server, "alex@example.org")
    entries = (await admin.client.get("/console/api/audit")).json()["entries"]
    reveal = [e for e in entries if e["action"] == "reveal"]
    export = [e for e in entries if e["action"] == "export"]
    assert len(reveal) == 1 and reveal[0]["moderator"] == "alex@example.org"
    assert len(export) == 1
    # What the moderator typed may name the person: it is in the case's sealed notes (erased
    # with the case), never in the audit log.
    assert "Checking the username" not in json.dumps(entries)
    assert "agreed in chat" not in json.dumps(entries)
    case_id = (await admin.client.get("/console/api/queue")).json()["cases"][0]["id"]
    detail = (await admin.client.get(f"/console/api/cases/{case_id}")).json()
    notes = json.dumps(detail["notes"])
    assert "Checking the username" in notes and "agreed in chat" in notes
    # Dashboard: anonymous counts only.
    dashboard = (await admin.client.get("/console/api/dashboard")).json()
    assert dashboard["by_pattern"].get("webcam", 0) >= 1 and dashboard["claims"] >= 1
    assert "scammer" not in json.dumps(dashboard)
    await admin.client.aclose()


async def test_dashboard_and_notifications(
    browser: Browser, server: Server, api: BotApiStandIn
) -> None:
    context = await browser.new_context()
    await context.grant_permissions(["notifications"], origin=server.url)
    page = await sign_in_browser(context, server, "alex@example.org")
    await page.evaluate(
        "() => { window.__notes = []; window.Notification = class { "
        "static permission = 'granted'; "
        "static requestPermission() { return Promise.resolve('granted'); } "
        "constructor(title, options) { window.__notes.push([title, options && options.body]); } } }"
    )
    widget = await person_on_widget(browser, server)
    await widget.tap("start")
    await widget.say("I want to die")
    await widget.wait_for("Samaritans")
    await until(lambda: _count(page, "#queue [data-case]", 1))
    priority = await page.locator("#queue [data-case] .priority").first.inner_text()
    assert "crisis" in priority.lower()
    notes = await page.evaluate("() => window.__notes")
    assert notes and "Urgent" in notes[0][0] and "die" not in json.dumps(notes)
    # The moderators' Telegram chat is told too, with nothing about the person.
    await until(lambda: _said_in(api, MODERATORS_CHAT, "Urgent case waiting"))
    assert api.texts(MODERATORS_CHAT) == ["Urgent case waiting (crisis). Open the console."]
    await page.click("#nav-dashboard")
    await page.locator("#dashboard svg").first.wait_for()


# --- small helpers over the console page -----------------------------------------------------


async def _said(api: BotApiStandIn, part: str) -> bool:
    return await _said_in(api, CHAT, part)


async def _said_in(api: BotApiStandIn, chat: int, part: str) -> bool:
    return any(part in t for t in api.texts(chat))


async def _count(page: Page, selector: str, n: int) -> bool:
    return await page.locator(selector).count() >= n


async def _text_in(page: Page, selector: str, part: str) -> bool:
    return part.lower() in (await page.locator(selector).inner_text()).lower()


async def _has_line(page: Page, author: str, text: str) -> bool:
    return text in await lines(page, author)


async def _any_case_open(*pages: Page) -> bool:
    return any([await page.locator("#view-case").is_visible() for page in pages])


async def _owner_shown(page: Page, case: str) -> bool:
    text = await page.locator(f'[data-case="{case}"]').first.inner_text()
    return "@" in text


async def _case_id(page: Page, channel: str) -> str:
    for row in await page.locator("#queue [data-case]").all():
        if channel in (await row.inner_text()).lower():
            value = await row.get_attribute("data-case")
            assert value is not None
            return value
    raise AssertionError(f"no {channel} case in the queue")


async def test_an_erased_conversation_is_nobody_s_case_any_more(
    server: Server, api: BotApiStandIn
) -> None:
    # A Telegram person (the same chat id means the same conversation id) asks for a person,
    # a moderator claims the case, then the person deletes everything and starts again.
    sam = await sign_in_api(server, "sam@example.org")
    api.text(CHAT, "/start")
    await until(lambda: _said(api, "not your fault"))
    api.text(CHAT, "person")
    await until(lambda: _said(api, "asked for a person"))
    case = (await sam.client.get("/console/api/queue")).json()["cases"][0]["id"]
    assert (await sam.post(f"/console/api/cases/{case}/claim")).status_code == 200
    await until(lambda: _said(api, "has joined this chat"))
    api.text(CHAT, "/delete")
    await until(lambda: _said(api, "can't be undone"))
    api.tap_label(CHAT, "Yes, delete everything")
    await until(lambda: _said(api, "deleted"))
    assert (await sam.client.get("/console/api/queue")).json()["cases"] == []
    # Back again: the bot answers (the new conversation is not relayed to a gone case).
    before = len(api.chat(CHAT))
    api.text(CHAT, "/start")
    await until(lambda: _count_sent(api, before + 1))
    assert "Hi. I'm a support bot" in api.texts(CHAT)[before]
    await sam.client.aclose()


async def test_a_closed_case_is_not_readable_by_its_former_owner(server: Server) -> None:
    sam = await sign_in_api(server, "sam@example.org")
    alex = await sign_in_api(server, "alex@example.org")
    first = await _widget_case_over_ws(server)
    assert (await sam.post(f"/console/api/cases/{first}/claim")).status_code == 200
    assert (await sam.client.get(f"/console/api/cases/{first}")).status_code == 200
    closed = await sam.post(f"/console/api/cases/{first}/close", {"outcome": "advice_given"})
    assert closed.status_code == 200
    assert (await sam.client.get(f"/console/api/cases/{first}")).status_code == 403
    assert (await sam.post(f"/console/api/cases/{first}/notes", {"text": "x"})).status_code == 403
    # An admin can still read it, but not change it.
    assert (await alex.client.get(f"/console/api/cases/{first}")).status_code == 200
    assert (await alex.post(f"/console/api/cases/{first}/notes", {"text": "x"})).status_code == 409
    await sam.client.aclose()
    await alex.client.aclose()


async def _count_sent(api: BotApiStandIn, n: int) -> bool:
    return len(api.chat(CHAT)) >= n
