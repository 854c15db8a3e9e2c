"""Translations wait for a fluent reviewer's sign-off (issue 12): `validate --review cy` lists
every Welsh text not yet reviewed, and one whose English changed after its review."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bot.config import PROJECT_ROOT
from bot.review import fingerprint, pending
from bot.texts import Texts


def _content(tmp_path: Path, reviewed: dict[str, object]) -> Path:
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    (content / "cy/reviewed.yaml").write_text(yaml.safe_dump({"reviewed": reviewed}), "utf-8")
    return content


def test_only_signed_off_texts_with_unchanged_english_count_as_reviewed(tmp_path: Path) -> None:
    texts = Texts.load(PROJECT_ROOT / "content", "en-GB")
    english = texts.catalogues["en-GB"]
    key, other = "intake.welcome", "sys.help"
    content = _content(
        tmp_path,
        {
            key: {"by": "Adolygydd", "on": "2026-12-02", "en": fingerprint(english[key])},
            other: {"by": "Adolygydd", "on": "2026-12-01", "en": "000000000000"},
        },
    )
    waiting = {p.key: p.why for p in pending(content, "cy", Texts.load(content, "en-GB"))}
    assert key not in waiting
    assert waiting[other].startswith("English changed")
    assert waiting["sys.crisis_intro"] == "unreviewed"
    assert len(waiting) == len(texts.catalogues["cy"]) - 1


def test_the_command_lists_what_waits(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.cli import main

    content = _content(tmp_path, {})
    monkeypatch.setenv("SUPPORTBOT_CONTENT_DIR", str(content))
    code = main(["validate", "--review", "cy"])
    out = capsys.readouterr().out
    assert code == 0
    assert "sys.crisis_intro: unreviewed" in out
    assert "0 of" in out
