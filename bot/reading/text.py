"""Cleaning and folding text before any rule reads it.

Every reader works on `normalise(clean(text))`, capped at MAX_READ characters first, so no rule
ever sees unbounded input and every regex runs on a short, predictable alphabet.
"""

from __future__ import annotations

import re
import unicodedata

MAX_READ = 6000  # what the readers look at; longer messages are refused by the engine
MAX_WHOLE = 64_000  # what crisis is looked for in (channels cap messages well below this)
_CONTROL = re.compile(
    r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
# Terminal escape sequences (colours, cursor moves) are not words: "\x1b[31m" must not read "31m".
_ESCAPE = re.compile(r"\x1b\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|\x1b[@-_]")
_NOT_WORD = re.compile(r"[^\w\s@./+'£$€-]")
# Emoji people use for yes/no, and for a few crisis slang forms, folded into words.
_EMOJI_WORDS = {"👍": " ok ", "👌": " ok ", "✅": " yes ", "👎": " no ", "❌": " no "}
_EMOJI = re.compile("|".join(map(re.escape, _EMOJI_WORDS)))


# Plain ASCII text (most messages) takes a fast path: one bytes.translate with tables built from
# the regexes above, so both paths give the same result (NFC and NFKC leave ASCII as it is, and
# casefold() is lower() there). Whitespace becomes " " in the same step (split() would fold it
# anyway), so a text with no double space needs no split and join at all.
_ASCII_CONTROL = bytes(c for c in range(128) if _CONTROL.match(chr(c)))
_ASCII_SPACE = bytes(ord(" ") if chr(c).isspace() else c for c in range(256))
_ASCII_FOLD = bytes(
    ord(" ") if chr(c).isspace() or _NOT_WORD.match(chr(c).casefold()) else ord(chr(c).casefold())
    for c in range(128)
) + bytes(range(128, 256))


def _single_spaced(text: str) -> str:
    """Runs of spaces folded as by `" ".join(text.split())`, for text whose only whitespace is
    " " (no split and join at all when there is nothing to fold)."""
    return " ".join(text.split()) if "  " in text else text.strip(" ")


def clean(text: str) -> str:
    """Remove control and bidirectional-override characters; keep the person's words intact."""
    text = text[:MAX_WHOLE]
    if "\x1b" in text:
        text = _ESCAPE.sub("", text)
    if text.isascii():
        ascii_text = text.encode("ascii").translate(_ASCII_SPACE, _ASCII_CONTROL)
        return _single_spaced(ascii_text.decode("ascii"))
    # str.split() folds every run of whitespace; ~5x faster than a regex over a long paste.
    return " ".join(_CONTROL.sub("", unicodedata.normalize("NFC", text)).split())


def normalise(text: str) -> str:
    """A lower-case, punctuation-light form for matching: "I’m   15!!" -> "im 15"."""
    text = text[:MAX_READ]
    if text.isascii():  # "don't" -> "dont", and every other character as the regexes below
        return _single_spaced(text.encode("ascii").translate(_ASCII_FOLD, b"'").decode("ascii"))
    folded = unicodedata.normalize("NFKC", text).casefold()
    if any(emoji in folded for emoji in _EMOJI_WORDS):
        folded = _EMOJI.sub(lambda m: _EMOJI_WORDS[m.group(0)], folded)
    folded = folded.replace("’", "'").replace("‘", "'").replace("'", "")  # don't / dont
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def words_pattern(*phrases: str) -> re.Pattern[str]:
    """One regex matching any of the phrases as whole words.

    Phrases are plain words (escaped here) so the pattern is a trie of literals: linear time.
    """
    escaped = sorted({re.escape(p) for p in phrases if p}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(escaped) + r")\b") if escaped else re.compile(r"(?!)")
