"""The evidence vault as a person uses it, over the real SQLite repository and files on disk."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.evidence.pack import verify_pack
from bot.evidence.sniff import MAX_FILE_BYTES, sniff
from bot.model import Attachment, EventKind, Profile, RequestUpload
from bot.storage.sqlite import SqliteRepository
from tests.auxil.chat import MONDAY_AFTERNOON, Person, Reply
from tests.auxil.cli import chat
from tests.auxil.files import EXECUTABLE, SVG, png, zip_bomb

KNOWN = b"KNOWN-SECRET-STRING-4c1b"


def _disk(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


async def _to_evidence_step(person: Person, age: str = "25 to 34") -> Reply:
    await person.start()
    await person.tap("start")
    await person.tap(age)
    await person.tap("England")
    if age in ("Under 13", "13 to 17", "rather not"):
        await person.tap("Go on")
    await person.tap("recorded me")
    for _ in range(5):  # start, breathe, don't pay, stop contact, keep evidence
        await person.tap("Go on")
    return await person.tap("Yes, keep evidence")


async def _upload(person: Person, data: bytes, name: str = "screenshot.png") -> Reply:
    event = person.event(EventKind.UPLOAD)
    return await person.send(
        type(event)(
            event.channel,
            event.user_key,
            event.event_id,
            EventKind.UPLOAD,
            attachment=Attachment(name, data),
        )
    )


def _cid(engine: Engine, user: str = "person-1") -> str:
    return engine.keyring.conversation_id(f"test:{user}")


async def test_evidence_step_warns_before_any_upload(sqlite_engine: Engine) -> None:
    reply = await _to_evidence_step(Person(sqlite_engine))
    assert "don't send the intimate pictures or videos themselves" in reply.text
    assert any(isinstance(e, RequestUpload) for e in reply.effects)
    assert [o.label for o in reply.options] == ["I'm finished"]


async def test_upload_is_kept_encrypted_and_exported_unchanged(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    original = png(KNOWN)
    reply = await _upload(person, original, "Screenshot 2026-11-23 at 22.14.png")
    import hashlib

    digest = hashlib.sha256(original).hexdigest()
    assert f"fingerprint starts {digest[:12]}" in reply.text
    items = await sqlite_engine.repository.evidence_items(_cid(sqlite_engine))
    assert [(i.media_type, i.size, i.sha256) for i in items] == [
        ("image/png", len(original), digest)
    ]
    # Encrypted at rest: the known words are nowhere in the data directory.
    assert KNOWN not in _disk(tmp_path)
    assert b"Screenshot 2026-11-23" not in _disk(tmp_path)
    pack = await sqlite_engine.export_pack(_cid(sqlite_engine))
    assert pack is not None
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        names = archive.namelist()
        stored = archive.read(next(n for n in names if n.endswith(".png")))
        report = archive.read("report.pdf")
    assert stored == original, "the original bytes, unchanged"
    assert report.startswith(b"%PDF") and {"manifest.json", "README.txt"} <= set(names)
    assert verify_pack(pack).ok


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("drawing.svg", SVG, "can't keep that kind of file"),
        ("photo.jpg", EXECUTABLE, "can't keep that kind of file"),  # a renamed program
        ("screenshot.png", zip_bomb(), "can't keep that kind of file"),  # never unpacked
        ("page.html", b"<!DOCTYPE html><html><body>hi</body></html>", "can't keep that kind"),
        ("huge.png", png() + b"\x00" * (MAX_FILE_BYTES + 1 - len(png())), "too big"),
    ],
)
async def test_refused_files_store_nothing(
    sqlite_engine: Engine, tmp_path: Path, name: str, data: bytes, says: str
) -> None:
    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    before = await person.state()
    reply = await _upload(person, data, name)
    assert says in reply.text
    assert await person.state() == before
    assert await sqlite_engine.repository.evidence_items(_cid(sqlite_engine)) == []
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").iterdir())


def test_size_limit_is_exact() -> None:
    assert len(png() + b"\x00" * (MAX_FILE_BYTES - len(png()))) == MAX_FILE_BYTES
    assert sniff(png() + b"\x00" * (MAX_FILE_BYTES - len(png()))).accepted
    assert sniff(png() + b"\x00" * (MAX_FILE_BYTES + 1 - len(png()))).reason == "too_big"


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (png(), "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"they said pay by friday", "text/plain"),
        (b"From: a@b.example\nSubject: hi\nDate: today\n\n<html>hello</html>", "message/rfc822"),
    ],
)
def test_accepted_types_by_content(data: bytes, media_type: str) -> None:
    assert sniff(data).media_type == media_type


async def test_the_same_upload_twice_is_kept_once(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    event = person.event(EventKind.UPLOAD, event_id="upload-1")
    event = type(event)(
        event.channel,
        event.user_key,
        "upload-1",
        EventKind.UPLOAD,
        attachment=Attachment("a.png", png()),
    )
    await person.send(event)
    again = await person.send(event)
    assert again.duplicate
    assert len(await sqlite_engine.repository.evidence_items(_cid(sqlite_engine))) == 1


async def test_files_are_kept_from_any_step_after_the_warning(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine)
    await person.start()
    await person.tap("start")
    await person.tap("25 to 34")
    warning = sqlite_engine.renderer.text("en-GB", "evidence.warning", Profile(age_band="25_34"))
    reply = await _upload(person, png())
    assert warning in reply.texts  # what never to send, the first time a file comes early
    await person.tap("England")
    await person.tap("recorded me")
    reply = await _upload(person, png(b"another"))
    assert warning not in reply.texts
    items = await sqlite_engine.repository.evidence_items(_cid(sqlite_engine))
    assert [item.kind for item in items] == ["file", "file"]


async def test_going_back_for_evidence_skips_no_advice(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    await person.tap("I'm finished")
    await person.tap("Go on")  # block and report
    assert await person.state() == ("webcam", "deactivate")
    reply = await person.say("evidence")
    assert await person.state() == ("webcam", "evidence")
    reply = await person.tap("I'm finished")
    assert "block them and report" in reply.text  # the advice carries on from there


@pytest.mark.parametrize("age", ["13 to 17", "Under 13", "rather not"])
async def test_young_people_are_never_asked_for_images(sqlite_engine: Engine, age: str) -> None:
    person = Person(sqlite_engine)
    reply = await _to_evidence_step(person, age)
    assert "Please don't send any pictures" in reply.text
    assert not any(isinstance(e, RequestUpload) for e in reply.effects)
    reply = await _upload(person, png(KNOWN))
    assert "Please don't send pictures here" in reply.text
    assert "childline.org.uk/report-remove" in reply.text
    assert await sqlite_engine.repository.evidence_items(_cid(sqlite_engine)) == []
    # Typed details are fine.
    reply = await person.say("his snapchat is @ryan_x_22")
    assert "snapchat: ryan_x_22" in reply.text


async def test_typed_details_are_read_back_and_can_be_removed(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    reply = await person.say(
        "pay £400 to GB82 WEST 1234 5698 7654 32 by tomorrow, email anna.x@example.org"
    )
    assert "1. Email: anna.x@example.org" in reply.text
    assert "IBAN: GB82WEST12345698765432" in reply.text
    reply = await person.tap("Remove 1")
    assert "Removed." in reply.text and "anna.x@example.org" not in reply.text
    reply = await person.tap("Keep all")
    assert "Kept." in reply.text
    conversation = await sqlite_engine.repository.load(_cid(sqlite_engine))
    assert conversation is not None
    assert {(i["kind"], i["status"]) for i in conversation.indicators} == {
        ("iban", "confirmed"),
        ("amount", "confirmed"),
        ("deadline", "confirmed"),
    }
    pack = await sqlite_engine.export_pack(_cid(sqlite_engine))
    assert pack is not None
    manifest = zipfile.ZipFile(io.BytesIO(pack)).read("manifest.json").decode()
    assert "GB82WEST12345698765432" in manifest and "anna.x@example.org" not in manifest


async def test_pasted_mass_email_is_called_out(sqlite_engine: Engine) -> None:
    from tests.test_indicators import EXTORTION_EMAIL

    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    reply = await person.say(EXTORTION_EMAIL)
    assert "well-known scam email" in reply.text
    assert "Bitcoin address: bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4" in reply.text


async def test_quota_per_conversation(sqlite_engine: Engine) -> None:
    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    for n in range(50):
        reply = await _upload(person, png(str(n).encode()))
        assert "Saved and locked" in reply.text
    reply = await _upload(person, png(b"one too many"))
    assert "the most I can keep" in reply.text
    assert len(await sqlite_engine.repository.evidence_items(_cid(sqlite_engine))) == 50


def _tamper(pack: bytes, change: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(pack))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("evidence/"):
                if change == "edit":
                    data = data[:-1] + bytes([data[-1] ^ 1])
                elif change == "drop":
                    continue
            target.writestr(info.filename, data)
        if change == "add":
            target.writestr("evidence/99-extra.png", png())
    return out.getvalue()


@pytest.mark.parametrize(
    ("change", "problem"),
    [("edit", "SHA-256 does not match"), ("drop", "missing"), ("add", "not in the manifest")],
)
async def test_verify_detects_a_tampered_pack(
    sqlite_engine: Engine, tmp_path: Path, change: str, problem: str
) -> None:
    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    await _upload(person, png(b"evidence"))
    pack = await sqlite_engine.export_pack(_cid(sqlite_engine))
    assert pack is not None
    result = verify_pack(_tamper(pack, change))
    assert not result.ok and problem in " ".join(result.problems)
    # And through the command line, as someone receiving the pack would check it.
    path = tmp_path / "pack.zip"
    path.write_bytes(_tamper(pack, change))
    done = subprocess.run(
        [sys.executable, "-m", "bot", "evidence", "verify", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "MISMATCH" in done.stdout
    path.write_bytes(pack)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "evidence", "verify", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "all match" in done.stdout


async def test_delete_everything_removes_evidence_for_real(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    person = Person(sqlite_engine)
    await _to_evidence_step(person)
    await _upload(person, png(KNOWN))
    files = list((tmp_path / "evidence").iterdir())
    assert len(files) == 1
    blob = files[0].read_bytes()
    await person.say("delete")
    await person.tap("Yes, delete")
    assert not any((tmp_path / "evidence").iterdir())
    assert await sqlite_engine.repository.evidence_items(_cid(sqlite_engine)) == []
    assert blob[:32] not in _disk(tmp_path)


async def test_purge_erases_idle_conversations_and_orphans(
    content: Content, tmp_path: Path
) -> None:
    keyring = Keyring(b"purge test")
    repository = SqliteRepository(tmp_path / "bot.db", keyring)
    await repository.open()
    long_ago = MONDAY_AFTERNOON - dt.timedelta(days=120)
    clock = [long_ago]
    engine = Engine(content, repository, keyring, clock=lambda: clock[0])
    old = Person(engine, user="old")
    await _to_evidence_step(old)
    await _upload(old, png(b"old"))
    clock[0] = MONDAY_AFTERNOON
    recent = Person(engine, user="recent")
    await _to_evidence_step(recent)
    await _upload(recent, png(b"recent"))
    (tmp_path / "evidence" / "deadbeef.bin").write_bytes(b"left by a crash")
    now = MONDAY_AFTERNOON.timestamp()
    # A raw update that failed every retry two weeks ago, and one from today.
    for update_id, at in ((1, now - 14 * 86400), (2, now)):
        await repository.submit(
            lambda db, u=update_id, a=at: db.execute(
                "INSERT INTO channel_inbox (channel, update_id, received_at, sealed) "
                "VALUES ('telegram', ?, ?, x'00')",
                (u, a),
            )
        )

    report = await repository.purge(now - 90 * 86400, now - 7 * 86400)
    kept = await repository.fetch("SELECT update_id FROM channel_inbox")
    assert kept == [(2,)]
    audit = await repository.fetch("SELECT action, subject, detail FROM audit")
    assert audit == [("delete", "", "erased after the retention period")]
    assert (report.conversations, report.evidence_files, report.orphan_files) == (1, 1, 1)
    assert await repository.load(_cid(engine, "old")) is None
    assert await repository.evidence_items(_cid(engine, "old")) == []
    assert len(await repository.evidence_items(_cid(engine, "recent"))) == 1
    assert len(list((tmp_path / "evidence").iterdir())) == 1
    await repository.close()


def test_terminal_upload_export_and_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shot = tmp_path / "chat.png"
    shot.write_bytes(png(KNOWN))
    pack = tmp_path / "mine.zip"
    script = (
        "1\n30\nEngland\nSomeone recorded me on a video call\n" + "1\n" * 5 + "Yes, keep evidence\n"
        f"/upload {shot}\nhis email is ryan@example.org\nKeep all\nI'm finished\n/export {pack}\n"
    )
    out = chat(data, script)
    assert "Saved and locked" in out and "Email: ryan@example.org" in out
    assert "your evidence pack is in" in out
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(data)}
    assert verify_pack(pack.read_bytes()).ok
    assert KNOWN not in _disk(data)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "purge", "--days", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "erased 0 conversation(s)" in done.stdout


async def test_asking_for_my_pack(sqlite_engine: Engine) -> None:
    from bot.model import DeliverPack

    person = Person(sqlite_engine)
    reply = await _to_evidence_step(person)
    reply = await person.say("my evidence")
    assert "Nothing has been kept yet" in reply.text
    await _upload(person, png())
    reply = await person.say("my evidence")
    assert DeliverPack() in reply.effects and "a report you can show the police" in reply.text
