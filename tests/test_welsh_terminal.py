"""A Welsh conversation in the terminal (issue 12): `supportbot chat --locale cy` from "Helo"
through a young person's path, a question, advice and a crisis phrase, with no English text of
the bot's shown (service names and numbers aside)."""

from __future__ import annotations

from pathlib import Path

from bot.config import PROJECT_ROOT
from bot.texts import Texts
from tests.auxil.cli import chat

SCRIPT = "\n".join(
    [
        "Helo",
        "Dw i'n 15 oed ac yn byw yn Abertawe",
        "Mae merch wedi recordio fi ar alwad fideo ac mae hi eisiau arian",
        "ddylwn i dalu nhw?",
        *["iawn"] * 12,
        "dw i eisiau marw",
        "",
    ]
)


def _english_sentences() -> set[str]:
    """Every sentence the bot can say in English (40+ characters, so not a name)."""
    texts = Texts.load(PROJECT_ROOT / "content", "en-GB")
    sentences = set()
    for entry in texts.catalogues["en-GB"].values():
        for text in [entry] if isinstance(entry, str) else entry.values():
            for sentence in text.replace("\n", " ").split(". "):
                if len(sentence) >= 40 and "{" not in sentence:
                    sentences.add(sentence.strip())
    return sentences


def test_a_welsh_conversation_shows_no_english(tmp_path: Path) -> None:
    out = chat(tmp_path / "data", SCRIPT, "--locale", "cy")
    said = [line for line in out.splitlines() if line.startswith("bot> ")]
    assert len(said) > 15
    english = [s for s in _english_sentences() if s in out]
    assert english == []
    welsh = Texts.load(PROJECT_ROOT / "content", "en-GB")
    crisis = welsh.entry("cy", "sys.crisis_intro")
    first = crisis if isinstance(crisis, str) else next(iter(crisis.values()))
    assert first[:30] in out  # the crisis answer, in Welsh
