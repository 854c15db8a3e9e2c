"""The evidence pack's report: plain words (never category codes), and only the advice given."""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
import zlib

import pytest

from bot.config import PROJECT_ROOT
from bot.engine import Engine
from bot.evidence.pack import PackContents, _latin, build_pack, humanise, report_lines, verify_pack
from bot.model import Conversation, Profile, Say, TranscriptEntry
from bot.texts import Texts, pick_variant
from tests.auxil.chat import Person

LOCALE = "en-GB"


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts.load(PROJECT_ROOT / "content", LOCALE)


def _say(texts: Texts, key: str) -> str:
    return pick_variant(texts.entry(LOCALE, key), Profile())


def _conversation(profile: Profile) -> Conversation:
    return Conversation(
        id="c0ffee",
        channel="web",
        flow="fake_profile",
        state="advice",
        locale=LOCALE,
        created_at=1_764_000_000.0,
        updated_at=1_764_000_600.0,
        profile=profile,
    )


def _text(contents: PackContents) -> str:
    return "\n".join(text for _, text in report_lines(contents, []))


def test_age_and_nation_in_plain_words_from_the_labels(texts: Texts) -> None:
    profile = Profile(age_band="25_34", nation="scotland", pattern="fake_profile")
    labels = {
        key: _say(texts, key)
        for key in ("intake.age_25_34", "intake.nation_scotland", "pattern.fake_profile")
    }
    report = _text(PackContents(_conversation(profile), [], [], labels=labels))
    for label in labels.values():
        assert label in report
    assert "25_34" not in report and "scotland" not in report and "fake_profile" not in report


def test_without_labels_the_codes_are_humanised_never_raw() -> None:
    profile = Profile(age_band="25_34", nation="northern_ireland", pattern="fake_profile")
    report = _text(PackContents(_conversation(profile), [], []))
    assert "25 to 34" in report
    assert "_" not in report.split("What happened")[1].split("Timeline")[0]
    assert humanise("35_plus") == "35 or over" and humanise("outside_uk") == "Outside UK"


def test_advice_lists_only_advice_not_reasks_or_notices(texts: Texts) -> None:
    advice = _say(texts, "dir.header")  # any step message stands in for advice here
    reask = "Sorry, I didn't quite get that."
    notice = "Someone from our team will read this."
    transcript = [
        TranscriptEntry(1_764_000_100.0, "hi", (advice, reask), ("advice", "notice")),
        TranscriptEntry(1_764_000_200.0, "what", (notice, advice), ("notice", "advice")),
    ]
    profile = Profile(age_band="18_24", nation="england")
    from_transcript = _text(PackContents(_conversation(profile), [], transcript))
    advice_part = from_transcript.split("Advice given")[1]
    assert advice_part.count(advice) == 1
    assert reask not in advice_part and notice not in advice_part
    # The engine may pass the advice steps themselves: then only those are listed.
    passed = PackContents(_conversation(profile), [], transcript, advice=["Do not pay."])
    listed = _text(passed).split("Advice given")[1]
    assert "Do not pay." in listed and advice not in listed


def _pdf_text(pdf: bytes) -> str:
    """The text drawn on the PDF's pages: fpdf2 writes each page as a zlib-compressed stream of
    `(text) Tj` operators, so inflating the streams is enough (no PDF library needed)."""
    drawn = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        with contextlib.suppress(zlib.error):
            drawn.append(zlib.decompress(match.group(1)).decode("latin-1"))
    return "\n".join(drawn)


def test_the_pdf_says_it_in_plain_words_and_verifies(texts: Texts) -> None:
    profile = Profile(age_band="25_34", nation="scotland")
    labels = {"intake.nation_scotland": _say(texts, "intake.nation_scotland")}
    data = build_pack(PackContents(_conversation(profile), [], [], labels=labels))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pdf = archive.read("report.pdf")
    assert pdf.startswith(b"%PDF")
    drawn = _pdf_text(pdf)
    assert "25 to 34" in drawn and labels["intake.nation_scotland"] in drawn
    assert "25_34" not in drawn and "scotland" not in drawn
    assert verify_pack(data).ok


async def test_exported_report_leaves_out_the_reasks(engine: Engine, texts: Texts) -> None:
    person = Person(engine)
    await person.start()
    await person.tap_id("begin")
    reply = await person.say("qwzx vbnm")  # not an age: the bot asks again
    reask = next(say.text for say in reply.effects if isinstance(say, Say) and say.kind != "step")
    await person.tap_id("age_25_34")
    await person.tap_id("scotland")
    advice_reply = await person.tap_id("fake_profile")
    step = next(say.text for say in advice_reply.effects if isinstance(say, Say))
    pack = await engine.export_pack(engine.keyring.conversation_id("test:person-1"))
    assert pack is not None
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        drawn = _pdf_text(archive.read("report.pdf"))
    advice = drawn.split("Advice given")[1]
    assert _latin(step)[:20] in advice  # the flow's advice is there...
    assert _latin(reask)[:20] not in advice  # ...the re-ask is not
    assert "25_34" not in drawn and "scotland" not in drawn and "fake_profile" not in drawn
