"""Tokens and phrase lookup for the slot readers.

A message is split into tokens once; phrases are found by walking a trie of tokens, so the cost
is one dict lookup per token (plus the length of any phrase that starts there). No regex runs
over the message here, so nothing can backtrack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from functools import partial
from itertools import compress, count, pairwise
from typing import NamedTuple

from bot.reading.text import MAX_READ

# Enough for a 6,000-character message; beyond this a story has told us everything it will.
MAX_TOKENS = 1500
CURRENCY = ("£", "$", "€")
SENTENCE_END = "."  # a token of its own: phrases never run across it, a lone age sits inside it
# normalise() keeps these inside words (emails, links, "15.5"); for slots they separate words.
# (str.replace per character is several times faster than str.translate on a 4,000-char text.)
_SEPARATORS = ("/", "+", "@", "-", "_", ",", "!", "?", ":", ";", "(", ")", '"')


def tokenise(folded: str) -> list[str]:
    """Words of a folded message; currency symbols and sentence ends become tokens of their own."""
    text = folded[:MAX_READ]
    for separator in _SEPARATORS:
        if separator in text:
            text = text.replace(separator, " ")
    if "." in text:
        # Full stops followed by a space (or ending the text) end a sentence; others ("y.o",
        # "gmail.com") only separate words. A control character marks the first kind meanwhile.
        text = (text + " ").replace(". ", " \x1f ").replace(".", " ").replace("\x1f", ".")
    for symbol in CURRENCY:
        if symbol in text:
            text = text.replace(symbol, f" {symbol} ")
    return text.split()[:MAX_TOKENS]


def phrase_key(phrase: str) -> str:
    """The form a lexicon phrase takes after the same tokenising as a message."""
    return " ".join(tokenise(phrase.casefold().replace("'", "")))


class Hit(NamedTuple):
    """A phrase found in a message. (A tuple: made hundreds of times a message, and a frozen
    dataclass is several times slower to create.)"""

    start: int  # token index
    end: int  # one past the last token
    phrase: str  # the lexicon key that matched


# Hits made in C, a list at a time (Hit(...) goes through a Python-level __new__).
_hit = partial(tuple.__new__, Hit)
_NEXT = (1).__add__


class _Node:
    __slots__ = ("children", "groups")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.groups: set[str] = set()


class PhraseIndex:
    """Finds, for each group, the leftmost-longest non-overlapping phrases in a token list."""

    def __init__(
        self, groups: Mapping[str, Iterable[str]], exact: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        """`groups` are lexicon phrases; `exact` are groups of single tokens taken as they are
        (numbers: thousands of them, each found by the same one dict lookup per token)."""
        self._root = _Node()
        self._single: dict[str, frozenset[str]] = {}  # one-word phrase -> its groups
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self._pairs: set[tuple[str, str]] = set()  # the first two words of every longer phrase
        for group, phrases in groups.items():
            for phrase in phrases:
                tokens = phrase_key(phrase).split()
                if not tokens:
                    continue
                if len(tokens) == 1:
                    self._add_single(tokens[0], group)
                    continue
                self._pairs.add((tokens[0], tokens[1]))
                node = self._root
                for token in tokens:
                    node = node.children.setdefault(token, _Node())
                node.groups.add(group)
        for group, words in (exact or {}).items():
            for word in words:
                self._add_single(word, group)

    def _add_single(self, word: str, group: str) -> None:
        # Many words share the same groups (10,000 numbers are all "number"): one shared set
        # for each distinct combination instead of one per word (~3 MB less).
        merged = self._single.get(word, frozenset()) | {group}
        self._single[word] = self._shared.setdefault(merged, merged)

    def scan(self, tokens: Sequence[str]) -> dict[str, list[Hit]]:
        # Half the words of a story start some phrase ("i", "a", "my"), few complete one. So
        # the positions worth a look are found in C (map, compress over one-word phrases and
        # over pairs of words), and a Python loop runs only where a longer phrase may start.
        singles = list(map(self._single.get, tokens))
        longer = list(compress(count(), map(self._pairs.__contains__, pairwise(tokens))))
        hits, blocked = self._longer(tokens, singles, longer) if longer else ({}, {})
        # One-word phrases elsewhere: a hit each, unless a longer phrase of its group covers it.
        positions: dict[str, list[int]] = {}
        for start in compress(count(), singles):
            for group in singles[start] or ():
                positions.setdefault(group, []).append(start)
        for group, starts in positions.items():
            skip = blocked.get(group)
            if skip:
                starts = [start for start in starts if start not in skip]
            ends, phrases = map(_NEXT, starts), map(tokens.__getitem__, starts)
            found: list[Hit] = list(map(_hit, zip(starts, ends, phrases, strict=True)))
            if group in hits:
                found = sorted(hits[group] + found)  # starts differ: ordered by start alone
            hits[group] = found
        return hits

    def _longer(
        self, tokens: Sequence[str], singles: list[frozenset[str] | None], starts: list[int]
    ) -> tuple[dict[str, list[Hit]], dict[str, set[int]]]:
        """Hits from the positions where a longer phrase may start, and per group the positions
        they take (a one-word phrase never overlaps anything later, so only these block)."""
        hits: dict[str, list[Hit]] = {}
        blocked: dict[str, set[int]] = {}
        covered: dict[str, int] = {}  # per group: matches may not overlap within a group
        total = len(tokens)
        root = self._root.children
        for start in starts:
            single = singles[start]
            singles[start] = None  # read here, with the longer phrases it competes with
            found: list[tuple[Set[str], int]] = [(single, start + 1)] if single else []
            node = root[tokens[start]]
            end = start + 1
            while node.children and end < total:
                following = node.children.get(tokens[end])
                if following is None:
                    break
                node = following
                end += 1
                if node.groups:
                    found.append((node.groups, end))
            claimed: set[str] = set()
            for groups, stop in reversed(found):  # longest first: it wins within its group
                for group in groups:
                    if group in claimed:
                        continue
                    claimed.add(group)
                    if covered.get(group, 0) > start:
                        continue
                    covered[group] = stop
                    blocked.setdefault(group, set()).update(range(start, stop))
                    phrase = tokens[start] if stop == start + 1 else " ".join(tokens[start:stop])
                    hits.setdefault(group, []).append(Hit(start, stop, phrase))
        return hits, blocked


class PhraseSet:
    """A small set of phrases checked just before or just after a position."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._keys = frozenset(k for k in map(phrase_key, phrases) if k)
        # Indexed by last and by first word, longest first: most positions are rejected by one
        # dict lookup, without building any string.
        self._by_last: dict[str, list[tuple[int, str]]] = {}
        self._by_first: dict[str, list[tuple[int, str]]] = {}
        for key in sorted(self._keys, key=len, reverse=True):
            words = key.split()
            self._by_last.setdefault(words[-1], []).append((len(words), key))
            self._by_first.setdefault(words[0], []).append((len(words), key))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def ends_at(self, tokens: Sequence[str], index: int) -> str:
        """The longest phrase whose last token is just before `index` ("" if none)."""
        if index <= 0:
            return ""
        for size, key in self._by_last.get(tokens[index - 1], ()):
            if size <= index and (size == 1 or " ".join(tokens[index - size : index]) == key):
                return key
        return ""

    def starts_at(self, tokens: Sequence[str], index: int) -> str:
        """The longest phrase starting at `index` ("" if none)."""
        if index >= len(tokens):
            return ""
        room = len(tokens) - index
        for size, key in self._by_first.get(tokens[index], ()):
            if size <= room and (size == 1 or " ".join(tokens[index : index + size]) == key):
                return key
        return ""

    def covers(self, tokens: Sequence[str]) -> bool:
        """Whether the tokens are made entirely of phrases from this set (greedy, longest).
        Nothing at all ("-", "/") is covered by nothing: it says no phrase."""
        if not tokens:
            return False
        index = 0
        while index < len(tokens):
            key = self.starts_at(tokens, index)
            if not key:
                return False
            index += key.count(" ") + 1
        return True
