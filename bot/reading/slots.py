"""Everything a message says about the person and what happened: age, place, pattern, facts,
and whether a short reply is a yes, a no or "I'm done".

Every method takes `folded` text (`normalise(clean(text))`). A message is tokenised once,
misspellings of a few distinctive words are corrected, and one trie walk finds every lexicon
phrase; the walk is cached, so asking for each slot in turn costs one scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz.distance import OSA

from bot.directory import band_for_age
from bot.reading.ages import Ages, number_phrases
from bot.reading.facts import FactReader, Facts
from bot.reading.lexicon import Lexicon, load_lexicon
from bot.reading.patterns import Patterns
from bot.reading.phrases import (
    SENTENCE_END,
    Hit,
    PhraseIndex,
    PhraseSet,
    phrase_key,
    tokenise,
)
from bot.reading.places import Places
from bot.reading.text import MAX_READ

__all__ = ["AgeReading", "Facts", "PatternReading", "PlaceReading", "SlotReader"]

# Fuzzy matching is the slow part: at most this many lookups per message, so a long message of
# unknown words costs a bounded time. Words later than that are read as typed.
MAX_FUZZY_LOOKUPS = 24
FUZZY_MIN_LENGTH = 5
# A yes/no/done is a short reply; anything longer is a story, even if it starts with "ok".
SHORT_REPLY = 10
SHORT_REPLY_CHARS = 120  # longer than this cannot be SHORT_REPLY words of any reply phrase


@dataclass(frozen=True, slots=True)
class AgeReading:
    band: str  # under_13, 13_17, 18_24, 25_34, 35_plus, unknown
    age: int | None  # when a number was said
    certain: bool  # False for inferences ("at uni", "teenager"): read back first
    correction: bool  # "sorry i lied, im actually 15"
    detail: str = ""  # what it was inferred from, for the read-back


@dataclass(frozen=True, slots=True)
class PlaceReading:
    nation: str  # england, wales, scotland, northern_ireland, outside_uk
    certain: bool
    place: str = ""  # the town, for the read-back ("Cardiff")


@dataclass(frozen=True, slots=True)
class PatternReading:
    ranked: tuple[str, ...]  # strongest first
    certain: bool  # one pattern clearly wins


@dataclass(frozen=True, slots=True)
class _Scan:
    tokens: tuple[str, ...]
    hits: dict[str, list[Hit]]


def _reply_words(folded: str) -> list[str]:
    # "ok." and "done!" are still "ok" and "done": a short reply's full stops don't count.
    return [t for t in tokenise(folded[: SHORT_REPLY_CHARS + 1]) if t != SENTENCE_END]


def _allowed_distance(length: int) -> int:
    # One slip in a short word, two in a long one ("instagarm", "snapchta" are one OSA step).
    return 1 if length < 8 else 2


def _nearest(token: str, choices: list[str], limit: int) -> str | None:
    """The first of the closest choices within `limit` edits, as rapidfuzz's extractOne picks
    it (the choices are a handful: a loop costs less than extractOne's own set-up)."""
    best, best_distance = None, limit + 1
    for choice in choices:
        distance = OSA.distance(token, choice, score_cutoff=limit)
        if distance < best_distance:
            best, best_distance = choice, distance
    return best


class SlotReader:
    def __init__(self, lexicon: Lexicon) -> None:
        self._ages = Ages(lexicon)
        self._places = Places(lexicon)
        self._patterns = Patterns(lexicon)
        self._facts = FactReader(lexicon, self._patterns)
        groups: dict[str, list[str]] = {
            "pattern": [p for phrases in lexicon.patterns.values() for p in phrases],
            "platform": [a for aliases in lexicon.platforms.values() for a in aliases],
            "method": [a for aliases in lexicon.methods.values() for a in aliases],
            "send_more": lexicon.send_more,
            "deadline": lexicon.deadlines,
            "not_paid": lexicon.not_paid,
            "age_word": list(lexicon.age_words),
            "place": list(self._places.entries),
        }
        known = {t for phrases in groups.values() for p in phrases for t in phrase_key(p).split()}
        groups["currency"] = ["£", "$", "€"]
        # Number tokens ("15", "15yo", "2k", "fifteen") are one-word and many: found as tokens
        # (by the same dict lookup as one-word phrases), never as trie nodes.
        self._index = PhraseIndex(groups, {"number": number_phrases(lexicon)})
        known |= {phrase_key(w) for w in lexicon.common_words}
        self._known = frozenset(known)
        self._targets: dict[str, list[str]] = {}
        for target in map(phrase_key, lexicon.fuzzy_targets):
            self._targets.setdefault(target[0], []).append(target)
        # Same first letter and a near length: a cheap filter before the edit distance, made
        # once per (letter, length) rather than once per word.
        self._choices: dict[tuple[str, int], list[str]] = {}
        longest = max((len(t) for ts in self._targets.values() for t in ts), default=0)
        for letter, targets in self._targets.items():
            for length in range(FUZZY_MIN_LENGTH, longest + 3):
                limit = _allowed_distance(length)
                near = [t for t in targets if abs(len(t) - length) <= limit]
                if near:
                    self._choices[letter, length] = near
        self._agree = PhraseSet(lexicon.agree)
        self._refuse = PhraseSet(lexicon.refuse)
        self._done = PhraseSet(lexicon.done)
        self._reply = PhraseSet([*lexicon.agree, *lexicon.refuse, *lexicon.filler, *lexicon.done])
        # The engine asks for every slot of one message in turn: remembering the last two scans
        # is enough, and keeps as little of anyone's text in memory as possible.
        self._scan = lru_cache(maxsize=2)(self._scan_uncached)

    @classmethod
    def load(cls, path: Path) -> SlotReader:
        return _load(path.resolve())

    # --- one scan per message ---------------------------------------------------------------

    def _corrected(self, tokens: list[str]) -> list[str]:
        # Each distinct word once, and only unknown words long enough to be a misspelling.
        targets = self._targets
        # Most stories are all known words: one set difference (in C) settles it.
        unknown_set = {
            t
            for t in set(tokens).difference(self._known)
            if len(t) >= FUZZY_MIN_LENGTH and t[0] in targets
        }
        if not unknown_set:
            return tokens
        # A word's correction depends on that word alone, so order matters only when there are
        # more words than lookups: then the first ones written are looked up (deterministic).
        unknown: Iterable[str] = unknown_set
        if len(unknown_set) > MAX_FUZZY_LOOKUPS:
            unknown = list(dict.fromkeys(filter(unknown_set.__contains__, tokens)))
        corrections: dict[str, str] = {}
        lookups = 0
        for token in unknown:
            choices = self._choices.get((token[0], len(token)))
            if not choices or not token.isalpha():
                continue
            lookups += 1
            if lookups > MAX_FUZZY_LOOKUPS:
                break
            best = _nearest(token, choices, _allowed_distance(len(token)))
            if best is not None:
                corrections[token] = best
        if not corrections:
            return tokens
        return list(map(corrections.get, tokens, tokens))

    def _scan_uncached(self, folded: str) -> _Scan:
        tokens = self._corrected(tokenise(folded))
        hits = self._index.scan(tokens)
        hits.setdefault("number", [])
        return _Scan(tuple(tokens), hits)

    # --- slots ------------------------------------------------------------------------------

    def age(self, folded: str) -> AgeReading | None:
        scan = self._scan(_without_handles(folded))
        hits = scan.hits
        found = self._ages.read(scan.tokens, hits.get("number", ()), hits.get("age_word", ()))
        if found is None:
            return None
        band = "unknown" if found.from_age < 0 else band_for_age(found.from_age)
        return AgeReading(band, found.age, found.certain, found.correction, found.detail)

    def place(self, folded: str) -> PlaceReading | None:
        scan = self._scan(folded)
        found = self._places.read(scan.tokens, scan.hits.get("place", ()))
        return None if found is None else PlaceReading(found.nation, found.certain, found.place)

    def pattern(self, folded: str) -> PatternReading | None:
        scan = self._scan(folded)
        found = self._patterns.read(scan.tokens, scan.hits.get("pattern", ()))
        return None if found is None else PatternReading(found.ranked, found.certain)

    def facts(self, folded: str) -> Facts:
        scan = self._scan(folded)
        return self._facts.read(scan.tokens, scan.hits)

    def agreement(self, folded: str) -> bool | None:
        """True when the whole message is a yes/ok, False for a no/not now; else None."""
        tokens = _reply_words(folded)
        if not tokens or len(tokens) > SHORT_REPLY or len(folded) > SHORT_REPLY_CHARS:
            return None
        polarity = self._polarity(tokens)
        return polarity if polarity is not None and not self._has_done(tokens) else None

    def done(self, folded: str) -> bool:
        """The whole message says "I've finished" ("done", "that's all", "no more")."""
        tokens = _reply_words(folded)
        if len(folded) > SHORT_REPLY_CHARS or not tokens or len(tokens) > SHORT_REPLY:
            return False
        if not self._reply.covers(tokens):
            return False
        return self._has_done(tokens)

    def _has_done(self, tokens: Sequence[str]) -> bool:
        return any(self._phrases(tokens, self._reply, self._done))

    def _polarity(self, tokens: Sequence[str]) -> bool | None:
        if not self._reply.covers(tokens):
            return None
        yes = any(self._phrases(tokens, self._reply, self._agree))
        no = any(self._phrases(tokens, self._reply, self._refuse))
        if yes == no:
            return None  # "yes no", or only "thanks": not an answer
        return yes

    @staticmethod
    def _phrases(tokens: Sequence[str], cover: PhraseSet, kind: PhraseSet) -> list[bool]:
        """For each phrase of the greedy cover, whether it belongs to `kind` (and is not filler
        only, so "ok" in "no thanks ok" counts as agreement only when it stands alone)."""
        marks: list[bool] = []
        index = 0
        while index < len(tokens):
            key = cover.starts_at(tokens, index)
            if not key:
                break
            marks.append(key in kind)
            index += key.count(" ") + 1
        return marks


@lru_cache(maxsize=8)
def _load(path: Path) -> SlotReader:
    """One reader per lexicon file per process (building the gazetteer takes ~0.3 s)."""
    return SlotReader(load_lexicon(path))


def _without_handles(folded: str) -> str:
    """Usernames are not ages: "jess_15", "@fake_girl_22", "dave99" keep their numbers out.
    ("15m" and "15yo" start with the number; "s4", "year10", "aged15" are school years or ages.)"""
    if not _maybe_handle(folded):
        return folded  # the common case: a few C-level checks, no per-word Python loop
    words = folded.split()
    if not any(_handle(word) for word in words):
        return folded
    return " ".join("handle" if _handle(word) else word for word in words)


# Three letters running into a digit ("dave99"). Plain ASCII text (most messages) is checked
# in C: letters become "a" and digits "0" in one bytes.translate, then one substring search (a
# regex scanning 4,000 characters costs ten times more). Other text uses the regex, linear: each
# start tries at most four characters. ([^\W\d_] holds every letter isalpha() knows, so both
# find at least what _handle() would.)
_LETTERS_THEN_DIGIT = re.compile(r"[^\W\d_]{3}[0-9]")
_SHAPES = (
    bytes(
        ord("a") if chr(c).isalpha() else ord("0") if chr(c).isdigit() else ord(" ")
        for c in range(128)
    )
    + b" " * 128
)


def _maybe_handle(folded: str) -> bool:
    """Something that may be a username: "_", "@", "#", or three letters running into digits.
    (A quick test: _handle() decides word by word.)"""
    if "_" in folded or "@" in folded or "#" in folded:
        return True
    text = folded[:MAX_READ]
    if text.isascii():
        return b"aaa0" in text.encode("ascii").translate(_SHAPES)
    return _LETTERS_THEN_DIGIT.search(text) is not None


def _handle(word: str) -> bool:
    if "_" in word or "@" in word or "#" in word:
        return True
    if not (word[0].isalpha() and word[-1].isdigit()):
        return False
    letters = word.rstrip("0123456789")
    return len(letters) >= 3 and letters not in ("year", "yr", "yrs", "age", "aged")
