"""Text keys come from one registry (bot/textkeys.py), so `validate` knows every key the code
uses without a hand-kept list (issue 12)."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import yaml

from bot import textkeys
from bot.config import PROJECT_ROOT
from bot.validate import validate
from bot.web.widget import label_keys

_KEY = re.compile(r"(sys|intake|common|evidence|dir|day|core|ind|widget|answer)\.[a-z0-9_.]+")


def test_no_text_key_is_written_as_a_plain_string_outside_the_registry() -> None:
    found = []
    for path in sorted((PROJECT_ROOT / "bot").rglob("*.py")):
        if path.name == "textkeys.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _KEY.fullmatch(node.value)
                and not node.value.endswith((".js", ".css"))
            ):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.value}")
    assert found == []


def test_every_registered_key_has_a_text_in_english() -> None:
    english = yaml.safe_load((PROJECT_ROOT / "content/en-GB/texts.yaml").read_text("utf-8"))
    for part in sorted((PROJECT_ROOT / "content/en-GB/texts").glob("*.yaml")):
        english.update(yaml.safe_load(part.read_text("utf-8")))
    assert textkeys.required() | label_keys() <= english.keys()


def _tree(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "flows", tmp_path / "flows")
    shutil.copytree(PROJECT_ROOT / "content", tmp_path / "content")
    return tmp_path


def test_a_key_nothing_uses_is_reported(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    system = tree / "content/cy/texts/system.yaml"
    system.write_text(system.read_text("utf-8") + '\nsys.left_over: "Hen destun"\n', "utf-8")
    problems = [str(p) for p in validate(tree / "flows", tree / "content")]
    assert any("content/cy" in p and "sys.left_over" in p for p in problems)


def test_a_key_the_code_uses_missing_in_a_locale_is_reported(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    system = tree / "content/cy/texts/system.yaml"
    data = yaml.safe_load(system.read_text("utf-8"))
    del data[textkeys.SYS_LANGUAGE_SWITCHED]
    system.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    problems = [str(p) for p in validate(tree / "flows", tree / "content")]
    assert any("content/cy" in p and textkeys.SYS_LANGUAGE_SWITCHED in p for p in problems)
