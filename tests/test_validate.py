"""`supportbot validate` catches what would hurt a person, with clear messages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.config import PROJECT_ROOT
from bot.validate import validate


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "flows", tmp_path / "flows")
    shutil.copytree(PROJECT_ROOT / "content", tmp_path / "content")
    return tmp_path


def _edit(path: Path, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def _problems(tree: Path) -> str:
    return "\n".join(str(p) for p in validate(tree / "flows", tree / "content"))


def test_shipped_flows_and_content_are_valid() -> None:
    assert validate(PROJECT_ROOT / "flows", PROJECT_ROOT / "content") == []


def test_unreachable_state(tree: Path) -> None:
    _edit(
        tree / "flows/webcam.yaml",
        lambda d: d["states"].update(orphan={"say": ["core.dont_pay"], "next": "support"}),
    )
    assert "webcam.yaml orphan: unreachable" in _problems(tree)


def test_dead_end(tree: Path) -> None:
    _edit(tree / "flows/paid.yaml", lambda d: d["states"]["cancel"].pop("next"))
    assert "paid.yaml cancel: dead end" in _problems(tree)


def test_trap_that_cannot_reach_goodbye(tree: Path) -> None:
    def loop(d: dict) -> None:  # type: ignore[type-arg]
        d["states"]["check"]["next"] = "cancel"
        d["states"]["cancel"]["next"] = "check"

    _edit(tree / "flows/paid.yaml", loop)
    assert "cannot reach a final state" in _problems(tree)


def test_missing_core_advice(tree: Path) -> None:
    _edit(tree / "flows/hacked.yaml", lambda d: d["states"]["dont_pay"].update(advice=[]))
    assert "misses core advice ['dont_pay']" in _problems(tree)


def test_core_advice_skipped_for_some_people(tree: Path) -> None:
    # Reporting only on the young person's path leaves adults without it.
    def young_only(d: dict) -> None:  # type: ignore[type-arg]
        d["states"]["police"]["when"] = "young"
        d["states"]["deactivate"]["advice"] = ["deactivate"]
        d["states"]["report_posts"]["advice"] = []

    _edit(tree / "flows/shared.yaml", young_only)
    problems = _problems(tree)
    assert "shared.yaml" in problems and "['report']" in problems


def test_missing_text_in_another_locale(tree: Path) -> None:
    welsh = tree / "content/qx"  # a new locale of its own (cy already exists)
    welsh.mkdir()
    catalogue = yaml.safe_load((tree / "content/en-GB/texts.yaml").read_text())
    del catalogue["core.dont_pay"]
    (welsh / "texts.yaml").write_text(yaml.safe_dump(catalogue, allow_unicode=True))
    assert "content/qx: missing text 'core.dont_pay'" in _problems(tree)


def test_step_over_400_characters(tree: Path) -> None:
    _edit(tree / "content/en-GB/texts.yaml", lambda d: d.update({"core.dont_pay": "word " * 90}))
    assert "core.dont_pay: 450 characters" in _problems(tree)


def test_long_variant_is_caught_too(tree: Path) -> None:
    def long_young(d: dict) -> None:  # type: ignore[type-arg]
        d["core.report_police"]["young"] = "x" * 401

    _edit(tree / "content/en-GB/texts.yaml", long_young)
    assert "core.report_police: 401 characters" in _problems(tree)


def test_typed_phone_number(tree: Path) -> None:
    _edit(
        tree / "content/en-GB/texts.yaml",
        lambda d: d.update({"core.dont_pay": "Call 0800 123 4567 now."}),
    )
    assert "phone number is typed into the text" in _problems(tree)


def test_unknown_placeholder(tree: Path) -> None:
    _edit(
        tree / "content/en-GB/texts.yaml",
        lambda d: d.update({"core.dont_pay": "Call {nobody.phone}."}),
    )
    assert "placeholder cannot be filled" in _problems(tree)


def test_directory_entry_without_source_or_date(tree: Path) -> None:
    def strip(d: dict) -> None:  # type: ignore[type-arg]
        del d["services"][0]["sources"]
        del d["services"][1]["checked"]

    _edit(tree / "content/directory.yaml", strip)
    problems = _problems(tree)
    assert "sources" in problems and "checked" in problems


def test_unverified_fact_must_be_flagged(tree: Path) -> None:
    def unflag(d: dict) -> None:  # type: ignore[type-arg]
        entry = next(s for s in d["services"] if s["id"] == "meic")
        entry.pop("verify")

    _edit(tree / "content/directory.yaml", unflag)
    assert "directory meic: confidence V-old must be flagged verify: true" in _problems(tree)


def test_cli_exit_codes(tree: Path) -> None:
    env = {
        "SUPPORTBOT_FLOWS_DIR": str(tree / "flows"),
        "SUPPORTBOT_CONTENT_DIR": str(tree / "content"),
        "PATH": "",
    }
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "validate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    _edit(tree / "flows/paid.yaml", lambda d: d["states"]["cancel"].pop("next"))
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "validate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "error: flows/paid.yaml cancel: dead end" in bad.stderr
