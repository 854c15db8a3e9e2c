"""A new locale is a folder, not code (issue 12): a pseudo-locale `qps` (every English text in
[brackets]) made in a copy of content/ carries a whole conversation, and nothing the person is
shown comes from anywhere but its texts."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import yaml

from bot.config import PROJECT_ROOT, Settings
from bot.crypto import Keyring
from bot.engine import Content, Engine
from bot.model import Say
from bot.storage.memory import MemoryRepository
from tests.auxil.chat import Person

LEXICONS = ("commands.yaml", "crisis.yaml", "questions.yaml", "understanding.yaml")


def _bracket(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _bracket(text) for name, text in value.items()}
    return f"[{value}]" if value else value


@pytest.fixture(scope="module")
def pseudo(tmp_path_factory: pytest.TempPathFactory) -> Content:
    content = tmp_path_factory.mktemp("pseudo") / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    english, qps = content / "en-GB", content / "qps"
    (qps / "texts").mkdir(parents=True)
    for part in [english / "texts.yaml", *sorted((english / "texts").glob("*.yaml"))]:
        texts = yaml.safe_load(part.read_text("utf-8"))
        target = qps / part.relative_to(english)
        target.write_text(yaml.safe_dump({k: _bracket(v) for k, v in texts.items()}), "utf-8")
    for name in LEXICONS:  # a locale may bring its own lexicons; this one reuses English words
        shutil.copy(english / name, qps / name)
    # The only language offered, so English words in it are never taken for English.
    languages = {"qps": {"name": "[Pseudo]", "hints": [], "switch": [], "words": []}}
    (content / "languages.yaml").write_text(yaml.safe_dump({"languages": languages}), "utf-8")
    settings = Settings(flows_dir=PROJECT_ROOT / "flows", content_dir=content, default_locale="qps")
    return Content.load(settings)


async def test_a_whole_conversation_runs_in_a_locale_that_is_only_a_folder(
    pseudo: Content,
) -> None:
    engine = Engine(pseudo, MemoryRepository(), Keyring.for_testing(), default_locale="qps")
    person = Person(engine, user="pseudo")
    said: list[str] = []
    for words in [
        "hi",
        "I'm 24 and I live in Leeds",
        "a girl recorded our video call and wants £500",
        "should I pay them?",
        *["ok"] * 14,
        "dw i eisiau marw",  # crisis words of another locale, answered in this one
    ]:
        reply = await person.say(words)
        said += [e.text for e in reply.effects if isinstance(e, Say)]
        labels = [o.label for o in reply.options]
        assert all(label.startswith("[") for label in labels), labels
    assert len(said) > 20
    unbracketed = [text for text in said if not text.startswith("[")]
    assert unbracketed == []
