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
import zipfile
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class PackContents:
    conversation: Conversation
    items: list[tuple[EvidenceRecord, bytes]]
    transcript: list[TranscriptEntry]
    labels: dict[str, str] = field(default_factory=dict)  # pattern, indicator kinds... by key
    generated_at: float = 0.0


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


def _report(contents: PackContents, entries: list[dict[str, Any]]) -> bytes:
    conversation, labels = contents.conversation, contents.labels
    # Imported here: fpdf brings PIL and fontTools (~20 MB) that only a pack needs.
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def heading(text: str) -> None:
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 8, _latin(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)

    def line(text: str) -> None:
        pdf.multi_cell(0, 5, _latin(text), new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 10, "Evidence pack", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    line(f"Generated {_iso(contents.generated_at)} (UTC). Reference: {conversation.id}")
    line("Files are included exactly as received; fingerprints are in manifest.json.")

    heading("What happened")
    profile = conversation.profile
    line(f"Pattern: {labels.get('pattern', profile.pattern or 'not known')}")
    line(f"Age band: {profile.age_band or 'not given'}. Lives in: {profile.nation or 'not given'}.")

    heading("Timeline (UTC)")
    line(f"{_iso(conversation.created_at)}  Conversation started")
    for entry in entries:
        line(
            f"{entry['received_at']}  Received {entry['kind']} {entry['file']} "
            f"({entry['media_type']}, {entry['size']} bytes)"
        )
        line(f"    SHA-256 {entry['sha256']}")
    line(f"{_iso(conversation.updated_at)}  Last activity")

    heading("Details found")
    if not conversation.indicators:
        line("None recorded.")
    for indicator in conversation.indicators:
        state = "" if indicator["status"] == "confirmed" else " (not confirmed by the person)"
        line(
            f"- {labels.get('ind.' + indicator['kind'], indicator['kind'])}: "
            f"{indicator['value']}{state}"
        )

    heading("Advice given")
    seen: set[str] = set()
    for turn in contents.transcript:
        for said in turn.outbound:
            if said not in seen:
                seen.add(said)
                line(f"{_iso(turn.at)}  {said}")
    return bytes(pdf.output())


@dataclass
class Verification:
    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_pack(data: bytes) -> Verification:
    problems: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return Verification(0, ["not a ZIP file"])
    with archive:
        names = set(archive.namelist())
        if "manifest.json" not in names:
            return Verification(0, ["manifest.json is missing"])
        manifest = json.loads(archive.read("manifest.json"))
        if manifest.get("format") != FORMAT:
            problems.append(f"unknown format {manifest.get('format')!r}")
        listed = set()
        for item in manifest.get("items", []):
            name = item["file"]
            listed.add(name)
            if name not in names:
                problems.append(f"{name}: missing")
                continue
            content = archive.read(name)
            if hashlib.sha256(content).hexdigest() != item["sha256"]:
                problems.append(f"{name}: SHA-256 does not match the manifest (changed)")
            elif len(content) != item["size"]:
                problems.append(f"{name}: size does not match the manifest")
        for name in sorted(n for n in names if n.startswith("evidence/") and n not in listed):
            problems.append(f"{name}: not in the manifest (added)")
        return Verification(len(listed), problems)
