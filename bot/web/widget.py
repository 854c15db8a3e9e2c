"""The widget: a small loader for host pages, and the chat itself in a frame served from this
server's own origin (its page, script and styles), built once from the static files and texts.

The host page only ever holds the loader (`/widget.js`): an iframe and a `postMessage` channel.
The chat's DOM, its session token and its signing key live in the frame's origin, out of reach
of any script on the host page.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from bot.evidence.sniff import MAX_FILE_BYTES
from bot.texts import Texts

STATIC = Path(__file__).parent / "static"
UI_PREFIX = "widget."
FRAME_PATH = "/widget/frame"


def label_keys() -> set[str]:
    """The text keys the widget's own script uses (`ui.send` -> `widget.send`): validate
    requires these in every locale, read from the code rather than kept by hand."""
    script = (STATIC / "frame.js").read_text(encoding="utf-8")
    return {UI_PREFIX + name for name in _UI_NAME.findall(script)}


_UI_NAME = re.compile(r"\bui\.([a-z_]{1,40})")


def widget_labels(texts: Texts) -> dict[str, object]:
    """Every locale's widget labels, plus which one to use when a page asks for an unknown one."""
    keys = sorted(label_keys())
    labels: dict[str, object] = {
        locale: {k[len(UI_PREFIX) :]: str(texts.entry(locale, k)) for k in keys}
        for locale in texts.locales
    }
    labels["_default"] = texts.default_locale
    return labels


def _fill(source: str, values: dict[str, str]) -> bytes:
    # json.dumps output is a valid JS literal; "</" is escaped in case the script is ever inlined.
    for placeholder, value in values.items():
        source = source.replace(placeholder, value.replace("</", "<\\/"))
    return source.encode()


def build_widget(texts: Texts) -> bytes:
    """The loader for host pages: only the frame's title in each locale, nothing else."""
    titles: dict[str, object] = {
        locale: str(texts.entry(locale, UI_PREFIX + "title")) for locale in texts.locales
    }
    titles["_default"] = texts.default_locale
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    return _fill(
        source,
        {
            "__TITLES__": json.dumps(titles, ensure_ascii=False),
            "__FRAME_PATH__": json.dumps(FRAME_PATH),
        },
    )


def build_frame_script(texts: Texts) -> bytes:
    """The chat inside the frame."""
    source = (STATIC / "frame.js").read_text(encoding="utf-8")
    return _fill(
        source,
        {
            "__UI__": json.dumps(widget_labels(texts), ensure_ascii=False),
            "__MAX_FILE_BYTES__": str(MAX_FILE_BYTES),
        },
    )


def frame_locale(texts: Texts, asked: str) -> str:
    return asked if asked in texts.locales else texts.default_locale


def build_frame_page(texts: Texts, locale: str) -> bytes:
    """The frame's page: no inline script or style; the script builds the chat."""
    page = (STATIC / "frame.html").read_text(encoding="utf-8")
    page = page.replace("__LANG__", html.escape(locale))
    page = page.replace("__TITLE__", html.escape(str(texts.entry(locale, UI_PREFIX + "title"))))
    return page.encode()


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def embedding_origin(asked: str, allowed: list[str]) -> str | None:
    """The host page's origin as the loader stated it, if it may embed the chat: it becomes the
    frame's only `frame-ancestors` source, so a page can only claim its own origin."""
    asked = asked.rstrip("/")
    if not _ORIGIN.match(asked):
        return None
    return asked if asked in {o.rstrip("/") for o in allowed} else None


def snippet(public_url: str, locale: str) -> str:
    return (
        f'<script src="{public_url}/widget.js" data-locale="{locale}" '
        'data-exit-url="https://www.bbc.co.uk/weather" async></script>'
    )


def build_demo(texts: Texts, public_url: str) -> bytes:
    page = (STATIC / "demo.html").read_text(encoding="utf-8")
    tag = snippet(public_url, texts.default_locale)
    # The page's own copy loads the widget from this server, whatever its public address.
    own = '<script src="/widget.js" data-exit-url="https://www.bbc.co.uk/weather" async></script>'
    page = page.replace("__SNIPPET__", html.escape(tag))
    page = page.replace("__LOCALES__", html.escape(", ".join(texts.locales)))
    page = page.replace("__SCRIPT__", own)
    return page.encode()
