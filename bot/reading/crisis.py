"""Recognising risk to life in what people type: a small rule classifier driven by a lexicon.

The words live in content/<locale>/crisis.yaml; this module only knows the shape of a cue:
a short pattern of word slots, a concept, a level, what negation does to it and whose risk it
reads. Concepts combine: distress plus a method, or two different concerns, read as `clear`.
It is measured on the whole of bench/eval/<locale>/crisis.yaml (bench/eval_crisis.py).

Speed and safety: no regular expressions at all. The text is split into words once
(translate + split); misspellings and slang are rewritten by dictionary look-ups (one-letter
slips are precomputed at load); cues are found by looking up each word in an index of anchor
words and walking a few bounded slots either side, so the work per anchor is fixed by the
pattern (at most ten slots, gaps of at most two words), never by the text.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.reading.text import MAX_READ

Level = Literal["none", "possible", "clear"]
_LEVELS: tuple[Level, Level, Level] = ("none", "possible", "clear")
_RANK: dict[str, int] = {"none": 0, "possible": 1, "clear": 2}
_BOUNDARY = "."  # the folded text keeps "." so phrases and windows stop at sentence ends
_WORD, _OPT, _GAP, _END = 0, 1, 2, 3
_GAP_MAX = 2
_ALPHABET = string.ascii_lowercase
# The folded text keeps only letters, digits, spaces and @./+'£$€-. A few str.replace calls
# (each one C scan, skipped when the character is absent) then split() beat a Unicode word
# regex, and str.translate too, which drops to a slow path once "." maps to " . ".
_SEPARATORS = ("@", "/", "+", "'", "£", "$", "€", "-", "_")


def _words(values: Any, where: str) -> list[str]:
    """A list of words from the yaml. A bare `no`, `on`, `off` or `yes` is a boolean in YAML, so
    it would silently never match: such an entry fails at load instead. (Numbers are words.)"""
    odd = [
        value
        for value in values or []
        if isinstance(value, bool) or not isinstance(value, (str, int))
    ]
    if odd:
        raise ValueError(f'crisis lexicon: {where} has {odd!r}; quote words such as "no"')
    return [str(value) for value in values or []]


def _split_words(folded: str) -> list[str]:
    for separator in _SEPARATORS:
        if separator in folded:
            folded = folded.replace(separator, " ")
    return folded.replace(".", " . ").split()  # "." stays a word: phrases stop at sentence ends


Slot = tuple[int, frozenset[str]]


@dataclass(frozen=True, slots=True)
class CrisisSignal:
    level: Level
    about_other: bool = False  # someone else is at risk ("my friend says she'll kill herself")


_NONE = CrisisSignal("none")


@dataclass(frozen=True, slots=True)
class _Pattern:
    left: tuple[Slot, ...]  # slots before the anchor, nearest first
    right: tuple[Slot, ...]  # slots after the anchor
    before: frozenset[str] | None  # the word required just before the anchor, if fixed
    after: frozenset[str] | None  # the word required just after the anchor, if fixed
    level: int
    negated: int
    subject: str  # "detect" | "self" | "other"
    concept: str
    mask: bool  # an idiom: matches nothing itself, but hides other cues it overlaps
    loose: bool  # words may sit between the parts, so a "not" among them negates it too


def _walk(tokens: list[str], pos: int, step: int, slots: tuple[Slot, ...], k: int) -> int | None:
    """Match slots[k:] from pos in direction step; the position just past the match, or None.

    Depth is the number of slots and each slot tries at most three ways: bounded by the pattern.
    """
    if k == len(slots):
        return pos
    kind, words = slots[k]
    inside = 0 <= pos < len(tokens)
    if kind == _END:
        return pos if not inside or tokens[pos] == _BOUNDARY else None
    if kind == _GAP:
        p = pos
        for _ in range(_GAP_MAX + 1):
            found = _walk(tokens, p, step, slots, k + 1)
            if found is not None:
                return found
            if not (0 <= p < len(tokens)) or tokens[p] == _BOUNDARY:
                return None
            p += step
        return None
    # A slot such as "any|$" also matches at the very end of the message.
    if tokens[pos] in words if inside else (step == 1 and _BOUNDARY in words):
        found = _walk(tokens, pos + step, step, slots, k + 1)
        if found is not None:
            return found
    return _walk(tokens, pos, step, slots, k + 1) if kind == _OPT else None


def _shared_neighbours(index: dict[str, list[_Pattern]], side: str) -> dict[str, frozenset[str]]:
    """Anchor -> the words one of which every cue on it needs on that side (anchors with a cue
    that needs none are left out)."""
    out: dict[str, frozenset[str]] = {}
    for anchor, patterns in index.items():
        needs = [getattr(pattern, side) for pattern in patterns]
        if all(words is not None for words in needs):
            out[anchor] = frozenset().union(*needs)
    return out


def _two_kinds(concerns: list[tuple[str, int, int]]) -> bool:
    """Two concerns of different kinds in separate words (not one phrase read twice)."""
    return any(a[0] != b[0] and (a[2] <= b[1] or b[2] <= a[1]) for a in concerns for b in concerns)


def _edits(word: str) -> set[str]:
    """Every spelling one deletion, swap, substitution or insertion away from word."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    out |= {a + c + b for a, b in splits for c in _ALPHABET}
    out.discard(word)
    return out


class CrisisReader:
    """Reads folded text for risk to life; built once per locale from its crisis.yaml."""

    def __init__(self, data: dict[str, Any]) -> None:
        groups = {k: frozenset(_words(v, k)) for k, v in data.get("groups", {}).items()}
        raw_spellings = data.get("spellings", {})
        _words([*raw_spellings, *raw_spellings.values()], "spellings")
        spellings = {str(k): str(v) for k, v in raw_spellings.items()}
        neg = data["negation"]
        self._negators = frozenset(_words(neg["words"], "negation words"))
        self._fillers = frozenset(_words(neg["fillers"], "negation fillers"))
        self._negation_window = int(neg["window"])
        self._reported = tuple(tuple(r.split()) for r in _words(data.get("reported"), "reported"))
        self._reported_fillers = frozenset(_words(data.get("reported_fillers"), "reported_fillers"))
        subjects = data["subjects"]
        self._window = int(subjects["window"])
        self._self_words = frozenset(_words(subjects["self"], "subjects self"))
        self._other_words = frozenset(_words(subjects["other"], "subjects other"))
        self._methods = frozenset(_words(data.get("methods"), "methods"))
        self._rank = {w: i for i, w in enumerate(_words(data.get("common"), "common"))}
        self._index: dict[str, list[_Pattern]] = {}
        vocabulary: set[str] = set()
        for cue in data["cues"]:
            for phrase in cue["phrases"]:
                slots = [self._slot(part, groups, spellings, phrase) for part in phrase.split()]
                vocabulary.update(w for _, words in slots for w in words)
                self._add(slots, cue, phrase)
        self._rewrite = self._rewrites(data, spellings, vocabulary | groups.keys())
        # Raw words rewritten to more (or fewer) than one word ("im" -> "i am"): only with one of
        # them in a message is it joined and split again.
        self._resplit = frozenset(k for k, v in self._rewrite.items() if v.split() != [v])
        # Per anchor, the words every one of its cues needs just after (or before) it: one set
        # look-up rejects the anchor ("on", "live" in ordinary text) without trying each cue.
        self._needs_after = _shared_neighbours(self._index, "after")
        self._needs_before = _shared_neighbours(self._index, "before")
        # Raw words that can lead to an anchor: a message with none of them is read at once.
        anchors = self._index.keys()
        self._relevant = frozenset(anchors) | {
            raw for raw, canon in self._rewrite.items() if any(w in anchors for w in canon.split())
        }

    @property
    def anchors(self) -> frozenset[str]:
        """The words a cue can start from (for tests and the bench)."""
        return frozenset(self._index)

    @classmethod
    def load(cls, path: Path) -> CrisisReader:
        with path.open(encoding="utf-8") as handle:
            return cls(yaml.safe_load(handle))

    @staticmethod
    def _slot(
        part: str, groups: dict[str, frozenset[str]], spellings: dict[str, str], phrase: str
    ) -> Slot:
        if part == "~":
            return (_GAP, frozenset())
        if part == "$":
            return (_END, frozenset())
        kind = _OPT if part.endswith("?") else _WORD
        words: set[str] = set()
        for alt in part.rstrip("?").split("|"):
            if alt == "$":
                words.add(_BOUNDARY)  # "any|$": the phrase may also just end here
            else:
                words |= groups[alt[1:]] if alt.startswith("@") else {alt}
        stale = words & spellings.keys()
        if stale:  # a word the rewrite step always replaces would never match: fail at load
            raise ValueError(f"crisis lexicon: {sorted(stale)} in {phrase!r} are rewritten")
        return (kind, frozenset(words))

    def _add(self, slots: list[Slot], cue: dict[str, Any], phrase: str) -> None:
        # Anchor on the plain slot least likely in ordinary text: fewest common words, then
        # fewest alternatives, so a long ordinary message starts few walks.
        # Never on a slot that may be the message's end ("any|$"): there is no word to find there.
        plain = [i for i, (kind, w) in enumerate(slots) if kind == _WORD and _BOUNDARY not in w]
        if not plain:
            raise ValueError(f"crisis lexicon: {phrase!r} needs one required word")
        rank = self._rank

        def cost(i: int) -> tuple[int, int, int]:
            words = slots[i][1]
            common = [rank[w] for w in words if w in rank]
            return (len(common), -min(common, default=len(rank)), len(words))

        k = min(plain, key=cost)
        left, right = tuple(reversed(slots[:k])), tuple(slots[k + 1 :])
        pattern = _Pattern(
            left=left,
            right=right,
            before=left[0][1] if left and left[0][0] == _WORD else None,
            after=right[0][1]
            if right and right[0][0] == _WORD and _BOUNDARY not in right[0][1]
            else None,
            level=_RANK[cue["level"]],
            negated=_RANK[cue["negated"]],
            subject=str(cue["subject"]),
            concept=str(cue["concept"]),
            mask=bool(cue.get("mask", False)),
            loose=bool(cue.get("negation_inside", False)),
        )
        for word in slots[k][1]:
            self._index.setdefault(word, []).append(pattern)

    @staticmethod
    def _rewrites(
        data: dict[str, Any], spellings: dict[str, str], known: set[str]
    ) -> dict[str, str]:
        """Word -> replacement: listed spellings, dropped g's, one-letter slips of long words."""
        protect = known | set(_words(data.get("protect"), "protect")) | spellings.keys()
        protect |= {w for v in spellings.values() for w in v.split()}
        out: dict[str, str] = {}
        ambiguous: set[str] = set()
        for word in _words(data.get("fuzzy"), "fuzzy"):
            for variant in _edits(word):
                if variant in out and out[variant] != word:
                    ambiguous.add(variant)  # near two lexicon words: guess neither
                out[variant] = word
        for word in known:
            if word.endswith("ing") and len(word) >= 6:
                out.setdefault(word[:-1], word)  # "jumpin", "killin"
        out = {k: v for k, v in out.items() if k not in protect and k not in ambiguous}
        out.update(spellings)  # the hand-written list wins over generated guesses
        return out

    def assess(self, folded: str) -> CrisisSignal:
        tokens = _split_words(folded[:MAX_READ])
        if self._relevant.isdisjoint(tokens):
            return _NONE
        rewrite = self._rewrite
        # map() with dict.get keeps the per-word work in C; multi-word rewrites are re-split.
        if self._resplit.isdisjoint(tokens):
            canon = list(map(rewrite.get, tokens, tokens))
        else:
            canon = " ".join(map(rewrite.get, tokens, tokens)).split()
        index = self._index
        found: list[tuple[int, int, _Pattern]] = []
        last = len(canon) - 1
        needs_after, needs_before = self._needs_after, self._needs_before
        for i in compress(range(len(canon)), map(index.__contains__, canon)):
            word = canon[i]
            after = needs_after.get(word)
            if after is not None and (i == last or canon[i + 1] not in after):
                continue
            before = needs_before.get(word)
            if before is not None and (i == 0 or canon[i - 1] not in before):
                continue
            for pattern in index[word]:
                # Cheap neighbour checks first: most anchors in ordinary text fail right here.
                if pattern.after is not None and (i == last or canon[i + 1] not in pattern.after):
                    continue
                if pattern.before is not None and (i == 0 or canon[i - 1] not in pattern.before):
                    continue
                right = _walk(canon, i + 1, 1, pattern.right, 0)
                if right is None:
                    continue
                left = _walk(canon, i - 1, -1, pattern.left, 0)
                if left is not None:
                    found.append((left + 1, right, pattern))
        return self._decide(found, canon) if found else _NONE

    def _decide(self, found: list[tuple[int, int, _Pattern]], canon: list[str]) -> CrisisSignal:
        masks = [(start, end) for start, end, pattern in found if pattern.mask]
        best_self = best_other = 0
        concerns: list[tuple[str, int, int]] = []  # the person's own `possible` cues
        for start, end, pattern in found:
            if pattern.mask or any(start < m_end and m_start < end for m_start, m_end in masks):
                continue  # "I'd die of embarrassment": the idiom wins over "die"
            negated = self._preceded_by_negation(canon, start) or (
                pattern.loose and not self._negators.isdisjoint(canon[start:end])
            )
            level = pattern.negated if negated else pattern.level
            if not negated and self._reported_speech(canon, start):
                level = min(level, 1)  # "he told me to kill myself": their words, still a check
            if pattern.subject == "detect":
                other = self._about_other(canon, start, end)
            else:
                other = pattern.subject == "other"
            if other:
                best_other = max(best_other, level)
            else:
                best_self = max(best_self, level)
                if level == 1 and not negated:  # "I don't want to die, I want this to stop"
                    concerns.append((pattern.concept, start, end))  # denial is no concern
        # Distress plus a method in the same message reads as a plan; so do two different kinds
        # of concern together ("suicide" mentioned + "the only way out"; being told to kys +
        # "I can't cope").
        has_method = not self._methods.isdisjoint(canon)
        if best_self == 1 and (has_method or _two_kinds(concerns)):
            best_self = 2
        if best_other == 1 and has_method:
            best_other = 2
        if best_self == best_other == 0:
            return _NONE
        # The person's own risk comes first; about_other only when someone else's is higher.
        return CrisisSignal(_LEVELS[max(best_self, best_other)], best_other > best_self)

    def _preceded_by_negation(self, canon: list[str], start: int) -> bool:
        # Concept-aware negation: only fillers may sit between "not" and the phrase, so "I don't
        # know, I want to die" is not negated but "I'm not really going to kill myself" is.
        j = start - 1
        for _ in range(self._negation_window):
            if j < 0:
                return False
            if canon[j] in self._negators:
                return True
            if canon[j] not in self._fillers:
                return False
            j -= 1
        return False

    def _reported_speech(self, canon: list[str], start: int) -> bool:
        j = start
        while j > 0 and start - j < 3 and canon[j - 1] in self._reported_fillers:
            j -= 1
        return any(
            j >= len(seq) and tuple(canon[j - len(seq) : j]) == seq for seq in self._reported
        )

    def _about_other(self, canon: list[str], start: int, end: int) -> bool:
        if not self._self_words.isdisjoint(canon[start:end]):
            return False
        # The nearest person-word before the phrase, within the sentence, says whose it is.
        for j in range(start - 1, max(start - 1 - self._window, -1), -1):
            word = canon[j]
            if word == _BOUNDARY or word in self._self_words:
                return False
            if word in self._other_words:
                return True
        return False
