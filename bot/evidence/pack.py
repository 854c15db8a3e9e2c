"""The evidence pack: a ZIP a person (or, with consent, a moderator) can hand to the police.

    evidence/01-<id>.png ...   the original bytes, exactly as received
    manifest.json              SHA-256, size, type, received time and channel of every item
    report.pdf                 a readable timeline, the details found, and the advice given
    README.txt                 how to check the files against the manifest

`verify_pack` re-hashes every file and reports anything missing, extra or changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from bot import textkeys as tk
from bot.evidence.sniff import EXTENSIONS
from bot.model import Conversation, TranscriptEntry
from bot.storage.base import EvidenceRecord

FORMAT = "supportbot-evidence-pack/1"
README = """This is an evidence pack made by a support bot for someone being blackmailed.

Every file in evidence/ is exactly as it was received. manifest.json lists each file's SHA-256
fingerprint, size, type and the time it was received (UTC). To check that nothing was changed:

    supportbot evidence verify THIS_FILE.zip

or compare `sha256sum evidence/*` with the manifest. report.pdf is a readable summary.
"""


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


# Transcript kinds that are advice (see TranscriptEntry.kinds); notices, re-asks ("Sorry, I didn't
# quite get that") and answers to side questions are not.
ADVICE_KINDS = frozenset({"advice", "answer", "crisis"})


@dataclass
class PackContents:
    conversation: Conversation
    items: list[tuple[EvidenceRecord, bytes]]
    transcript: list[TranscriptEntry]
    # Plain words by text key, in the person's language: "pattern" (or "pattern.<id>"),
    # "intake.age_<band>", "intake.nation_<nation>", "ind.<kind>". A missing label falls back to
    # a humanised form of the code (never the raw code).
    labels: Mapping[str, str] = field(default_factory=dict)
    generated_at: float = 0.0
    # The advice the bot gave (its flow's advice steps, as sent), in order. None: take it from
    # the transcript, keeping only the messages of ADVICE_KINDS.
    advice: list[str] | None = None


def build_pack(contents: PackContents) -> bytes:
    conversation = contents.conversation
    entries = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, (record, data) in enumerate(contents.items, start=1):
            name = (
                f"evidence/{number:02d}-{record.id[:8]}.{EXTENSIONS.get(record.media_type, 'bin')}"
            )
            archive.writestr(name, data)
            entries.append(
                {
                    "file": name,
                    "sha256": record.sha256,
                    "size": record.size,
                    "media_type": record.media_type,
                    "kind": record.kind,
                    "received_at": _iso(record.received_at),
                    "channel": record.channel,
                    "original_name": record.name,
                }
            )
        manifest = {
            "format": FORMAT,
            "generated_at": _iso(contents.generated_at),
            "conversation": conversation.id,
            "items": entries,
            "indicators": [
                {"kind": i["kind"], "value": i["value"], "confirmed": i["status"] == "confirmed"}
                for i in conversation.indicators
            ],
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        archive.writestr("report.pdf", _report(contents, entries))
        archive.writestr("README.txt", README)
    return buffer.getvalue()


def _latin(text: str) -> str:
    """The PDF's built-in fonts cover Latin-1; other characters become '?' (the manifest and
    the original files keep them exactly)."""
    replaced = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    replaced = replaced.replace("—", "-").replace("–", "-").replace("…", "...").replace("•", "-")
    return replaced.encode("latin-1", "replace").decode("latin-1")


_RANGE = re.compile(r"^(\d+)_(\d+)$")
_PLUS = re.compile(r"^(\d+)_plus$")


def humanise(code: str) -> str:
    """A readable stand-in for a category code when no label was passed: "25_34" -> "25 to 34",
    "35_plus" -> "35 or over", "northern_ireland" -> "Northern ireland", "outside_uk" ->
    "Outside UK". Only a fallback: the engine passes the locale's own words as labels."""
    if match := _RANGE.match(code):
        return f"{match[1]} to {match[2]}"
    if match := _PLUS.match(code):
        return f"{match[1]} or over"
    words = [("UK" if word == "uk" else word) for word in code.split("_") if word]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _label(labels: Mapping[str, str], keys: tuple[str, ...], code: str | None, empty: str) -> str:
    if not code:
        return empty
    for key in keys:
        if labels.get(key):
            return labels[key]
    return humanise(code)


def advice_given(contents: PackContents) -> list[tuple[float | None, str]]:
    """The advice for the report, each with when it was sent (None when `advice` was passed),
    once each, in order."""
    if contents.advice is not None:
        return [(None, text) for text in dict.fromkeys(contents.advice)]
    seen: set[str] = set()
    given: list[tuple[float | None, str]] = []
    for turn in contents.transcript:
        # Entries stored before kinds were kept have none: all their lines are listed.
        kinds = turn.kinds if len(turn.kinds) == len(turn.outbound) else None
        for index, said in enumerate(turn.outbound):
            if kinds is not None and kinds[index] not in ADVICE_KINDS:
                continue
            if said not in seen:
                seen.add(said)
                given.append((turn.at, said))
    return given


Style = Literal["title", "heading", "line"]


def report_lines(contents: PackContents, entries: list[dict[str, Any]]) -> list[tuple[Style, str]]:
    """What report.pdf says, line by line (plain words only: labels, never category codes)."""
    conversation, labels = contents.conversation, contents.labels
    profile = conversation.profile
    out: list[tuple[Style, str]] = [
        ("title", "Evidence pack"),
        ("line", f"Generated {_iso(contents.generated_at)} (UTC). Reference: {conversation.id}"),
        ("line", "Files are included exactly as received; fingerprints are in manifest.json."),
        ("heading", "What happened"),
    ]
    pattern = _label(
        labels, ("pattern", f"pattern.{profile.pattern}"), profile.pattern, "not known"
    )
    age = _label(
        labels, ("age_band", tk.age_label(str(profile.age_band))), profile.age_band, "not given"
    )
    if profile.age_band == "unknown":
        age = "not given"  # the label is the button "I'd rather not say", not a fact about them
    nation = _label(
        labels, ("nation", tk.nation_label(str(profile.nation))), profile.nation, "not given"
    )
    out.append(("line", f"What happened: {pattern}"))
    out.append(("line", f"Age: {age}. Lives in: {nation}."))

    out.append(("heading", "Timeline (UTC)"))
    out.append(("line", f"{_iso(conversation.created_at)}  Conversation started"))
    for entry in entries:
        out.append(
            (
                "line",
                f"{entry['received_at']}  Received {entry['kind']} {entry['file']} "
                f"({entry['media_type']}, {entry['size']} bytes)",
            )
        )
        out.append(("line", f"    SHA-256 {entry['sha256']}"))
    out.append(("line", f"{_iso(conversation.updated_at)}  Last activity"))

    out.append(("heading", "Details found"))
    if not conversation.indicators:
        out.append(("line", "None recorded."))
    for indicator in conversation.indicators:
        state = "" if indicator["status"] == "confirmed" else " (not confirmed by the person)"
        kind = _label(labels, (tk.indicator_label(indicator["kind"]),), indicator["kind"], "Detail")
        out.append(("line", f"- {kind}: {indicator['value']}{state}"))

    out.append(("heading", "Advice given"))
    given = advice_given(contents)
    if not given:
        out.append(("line", "None recorded."))
    for at, said in given:
        out.append(("line", said if at is None else f"{_iso(at)}  {said}"))
    return out


def _report(contents: PackContents, entries: list[dict[str, Any]]) -> bytes:
    # Imported here: fpdf brings PIL and fontTools (~20 MB) that only a pack needs.
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    sizes: dict[Style, tuple[str, int, int]] = {
        "title": ("B", 16, 10),
        "heading": ("B", 13, 8),
        "line": ("", 10, 5),
    }
    for style, text in report_lines(contents, entries):
        weight, size, height = sizes[style]
        pdf.set_font("Helvetica", weight, size)
        pdf.multi_cell(0, height, _latin(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


@dataclass
class Verification:
    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


MAX_MANIFEST_BYTES = 16 * 1024 * 1024
READ_CHUNK = 1024 * 1024


def verify_pack(source: bytes | str | os.PathLike[str] | IO[bytes]) -> Verification:
    """Re-hash a pack's files against its manifest. A path or file is read in chunks, entry by
    entry, so a large pack never sits whole in memory."""
    problems: list[str] = []
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        archive = zipfile.ZipFile(opened)
    except (zipfile.BadZipFile, OSError):
        return Verification(0, ["not a ZIP file"])
    with archive:
        names = set(archive.namelist())
        if "manifest.json" not in names:
            return Verification(0, ["manifest.json is missing"])
        try:
            if archive.getinfo("manifest.json").file_size > MAX_MANIFEST_BYTES:
                raise ValueError("manifest too large")
            manifest = json.loads(archive.read("manifest.json"))
            items = manifest.get("items", [])
            if not isinstance(items, list):
                raise ValueError("items is not a list")
        except (ValueError, AttributeError, zipfile.BadZipFile):
            return Verification(0, ["manifest.json is not a valid manifest"])
        if manifest.get("format") != FORMAT:
            problems.append(f"unknown format {manifest.get('format')!r}")
        listed = set()
        for item in items:
            name = item.get("file") if isinstance(item, dict) else None
            if not isinstance(name, str):
                problems.append("manifest entry without a file name")
                continue
            listed.add(name)
            if name not in names:
                problems.append(f"{name}: missing")
                continue
            try:
                digest, size = _hash_entry(archive, name)
            except (zipfile.BadZipFile, OSError, EOFError):
                problems.append(f"{name}: cannot be read (damaged)")
                continue
            if digest != item.get("sha256"):
                problems.append(f"{name}: SHA-256 does not match the manifest (changed)")
            elif size != item.get("size"):
                problems.append(f"{name}: size does not match the manifest")
        for name in sorted(n for n in names if n.startswith("evidence/") and n not in listed):
            problems.append(f"{name}: not in the manifest (added)")
        return Verification(len(listed), problems)


def _hash_entry(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    """SHA-256 and size of one entry, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with archive.open(name) as entry:
        while chunk := entry.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
