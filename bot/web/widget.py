"""The widget script and the demo page, built once from the static files and the texts."""

from __future__ import annotations

import html
import json
from pathlib import Path

from bot.evidence.sniff import MAX_FILE_BYTES
from bot.texts import Texts

STATIC = Path(__file__).parent / "static"
UI_PREFIX = "widget."


def widget_labels(texts: Texts) -> dict[str, object]:
    """Every locale's widget labels, plus which one to use when a page asks for an unknown one."""
    keys = [k for k in texts.catalogues[texts.default_locale] if k.startswith(UI_PREFIX)]
    labels: dict[str, object] = {
        locale: {k[len(UI_PREFIX) :]: str(texts.entry(locale, k)) for k in keys}
        for locale in texts.locales
    }
    labels["_default"] = texts.default_locale
    return labels


def build_widget(texts: Texts) -> bytes:
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    css = (STATIC / "widget.css").read_text(encoding="utf-8")
    # json.dumps output is a valid JS literal; "</" is escaped in case the script is ever inlined.
    for placeholder, value in (
        ("__UI__", json.dumps(widget_labels(texts), ensure_ascii=False)),
        ("__CSS__", json.dumps(css)),
        ("__MAX_FILE_BYTES__", str(MAX_FILE_BYTES)),
    ):
        source = source.replace(placeholder, value.replace("</", "<\\/"))
    return source.encode()


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
