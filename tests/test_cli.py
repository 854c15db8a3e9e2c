"""The terminal channel as a new user runs it: a real process, piped input, a real data dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.auxil.cli import chat


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_a_whole_conversation_by_number_label_and_words(data: Path) -> None:
    # "Go on" taps through the images-shared flow; answers typed as labels skip the evidence
    # step and end the conversation.
    script = "1\nI'm 27\nEngland\nMy images have been shared\n" + "1\n" * 5 + "not now\n"
    out = chat(data, script + "1\n" * 4 + "i'm done for now\n")
    assert "bot> First, how old are you?" in out
    assert "   1) OK, let's start" in out
    assert "StopNCII" in out and "police on 101" in out
    assert "Thank you for reaching out" in out
    # A key was generated on first run, private to the owner.
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600


def test_restart_continues_where_it_stopped(data: Path) -> None:
    chat(data, "1\n2\n3\n3\n")  # start, 13 to 17, Scotland, then "Go on" past the young note
    out = chat(data, "1\n")
    assert "Welcome back" in out
    assert "What happened?" in out
    out = chat(data, "I already sent them money by bank transfer\nyes\n")
    assert "don't pay anything more" in out.lower() or "Lots of people pay" in out


def test_quick_exit_ends_the_process_and_forgets(data: Path) -> None:
    out = chat(data, "1\nexit\n1\n")
    assert out.rstrip().endswith("bot> Chat closed.")
    out = chat(data, "")
    assert "I'm a support bot" in out and "Welcome back" not in out


def test_echo_makes_piped_transcripts_readable(data: Path) -> None:
    out = chat(data, "1\n", "--echo")
    assert "you> 1" in out


def test_flows_mermaid(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "flows", "--mermaid", "--out", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in done.stdout
    shared = (tmp_path / "d" / "shared.mmd").read_text()
    assert shared.startswith("---\nshared\n---\nstateDiagram-v2")
    assert "police --> support: next" in shared
    assert "done --> to_intake: restart" in shared
    names = sorted(p.stem for p in (tmp_path / "d").iterdir())
    assert names == [
        "fake_profile",
        "hacked",
        "impersonation",
        "intake",
        "other",
        "paid",
        "phishing",
        "shared",
        "webcam",
    ]


def _pack(path: Path, content: bytes, listed: bytes | None = None) -> None:
    """A minimal evidence pack: one file and a manifest of its hash (of `listed` if given)."""
    import hashlib
    import json
    import zipfile

    from bot.evidence.pack import FORMAT

    recorded = content if listed is None else listed
    item = {
        "file": "evidence/001.bin",
        "sha256": hashlib.sha256(recorded).hexdigest(),
        "size": len(recorded),
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps({"format": FORMAT, "items": [item]}))
        archive.writestr("evidence/001.bin", content)


def test_evidence_verify_streams_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries are hashed in chunks from the file, never read whole into memory."""
    import zipfile

    from bot.evidence.pack import verify_pack

    big = bytes(range(256)) * 40_000  # ~10 MB
    _pack(tmp_path / "pack.zip", big)
    whole = zipfile.ZipFile.read

    def read(self: zipfile.ZipFile, name: str, pwd: bytes | None = None) -> bytes:
        assert name == "manifest.json", "an evidence entry was read whole"
        return whole(self, name, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "read", read)
    assert verify_pack(tmp_path / "pack.zip").ok
    _pack(tmp_path / "changed.zip", big, listed=big[:-1] + b"x")
    result = verify_pack(tmp_path / "changed.zip")
    assert not result.ok and "changed" in result.problems[0]


def test_evidence_verify_command(tmp_path: Path) -> None:
    _pack(tmp_path / "pack.zip", b"evidence bytes")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "evidence", "verify", str(tmp_path / "pack.zip")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "1 file(s) checked: all match." in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "bot", "evidence", "verify", str(tmp_path / "missing.zip")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"supportbot: no such file {tmp_path / 'missing.zip'}"
