"""What a file really is, from its bytes, never from its name.

Accepted: screenshots and photos of chats (JPEG, PNG, WebP, HEIC), PDF, plain text, and saved
emails (.eml). Everything else is refused, SVG and HTML (they can carry script into a
moderator's browser), archives (we never unpack them: zip bombs), and executables included.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_FILE_BYTES = 20 * 1024 * 1024
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis"}
_EMAIL_HEADERS = (
    b"from:",
    b"to:",
    b"subject:",
    b"date:",
    b"received:",
    b"return-path:",
    b"mime-version:",
    b"message-id:",
    b"delivered-to:",
    b"reply-to:",
)
_MARKUP = (b"<svg", b"<html", b"<!doctype", b"<script", b"<?xml", b"<body", b"<iframe", b"<head")
_REFUSED_MAGIC = {
    b"PK\x03\x04": "archive",
    b"PK\x05\x06": "archive",
    b"\x1f\x8b": "archive",
    b"Rar!": "archive",
    b"7z\xbc\xaf": "archive",
    b"BZh": "archive",
    b"\xfd7zXZ": "archive",
    b"MZ": "program",
    b"\x7fELF": "program",
    b"\xcf\xfa\xed\xfe": "program",
    b"\xca\xfe\xba\xbe": "program",
    b"#!": "program",
}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "message/rfc822": "eml",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    media_type: str | None  # None: refused
    reason: str = ""  # "too_big", "empty", "markup", "archive", "program", "unknown"

    @property
    def accepted(self) -> bool:
        return self.media_type is not None


def sniff(data: bytes) -> Verdict:
    if not data:
        return Verdict(None, "empty")
    if len(data) > MAX_FILE_BYTES:
        return Verdict(None, "too_big")
    for magic, reason in _REFUSED_MAGIC.items():
        if data.startswith(magic):
            return Verdict(None, reason)
    if data.startswith(b"\xff\xd8\xff"):
        return Verdict("image/jpeg")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Verdict("image/png")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Verdict("image/webp")
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return Verdict("image/heic")
    if data.startswith(b"%PDF-"):
        return Verdict("application/pdf")
    return _text_verdict(data)


def _text_verdict(data: bytes) -> Verdict:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Verdict(None, "unknown")
    if "\x00" in text:
        return Verdict(None, "unknown")
    head = data[:4096].lower()
    lines = head.lstrip().splitlines()[:20]
    if sum(line.startswith(_EMAIL_HEADERS) for line in lines) >= 2:
        # A saved email may have an HTML part; it is kept, and only ever shown as text.
        return Verdict("message/rfc822")
    if any(tag in head for tag in _MARKUP):
        return Verdict(None, "markup")
    return Verdict("text/plain")
