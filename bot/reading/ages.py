"""How old someone is, from what they typed: "im 15", "15yo", "fifteen", "year 10", "at uni".

A number counts as an age only in context (a lead such as "im", "age" or "turned", or a tail
such as "years old", "yo", "m"), or when it is the whole short answer. Money ("£15", "15 quid"),
times ("48 hours") and someone else's age ("she said she was 17") never count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.reading.lexicon import Lexicon
from bot.reading.phrases import CURRENCY, Hit, PhraseSet, phrase_key

THIS_YEAR = 2026  # for "born in 2009"; an inference, read back before it is used
MIN_AGE, MAX_AGE = 8, 99
SHORT_ANSWER = 6  # tokens: "15", "15 cardiff", "fifteen btw" are answers, not stories
# A number glued to a tail: "15yo", "15m", "16yrs", "m15". Tokens are short; fullmatch only.
_GLUED_TAILS = ("yo", "y", "yrs", "yr", "m", "f", "yrsold", "yearsold", "yearold")
_GLUED = re.compile(r"(\d{1,2})(" + "|".join(_GLUED_TAILS) + ")")
_GLUED_BEFORE = re.compile(r"[mf](\d{2})")
_CORRECTIONS = 5  # tokens before an age in which "actually"/"sorry"/"i meant" mark a correction
# A lone number is an age when it stands apart: opening the message, between full stops, or
# before one of these ("16 from Swansea", "19 and scared", "21m").
_STANDS_APART_BEFORE = frozenset(
    {".", "from", "fae", "and", "n", "btw", "live", "living", "in", "im", "i", "yrs", "years"}
)
# People say their age once or twice; a message of numbers gets its first few looked at only.
MAX_CANDIDATES = 40
_OPENERS = frozenset({"hi", "hey", "hello", "help", "please", "pls", "plz", "so", "um", "ok"})


def number_phrases(lexicon: Lexicon) -> list[str]:
    """Every token the age and money readers look at, so one trie walk finds them all."""
    digits = [str(n) for n in range(10_000)]
    glued = [f"{n}{tail}" for n in range(MIN_AGE, 100) for tail in _GLUED_TAILS]
    glued += [f"{letter}{n}" for n in range(10, 100) for letter in "mf"]
    money = [f"{n}k" for n in range(1, 1000)] + [f"{n}quid" for n in range(1, 1000)]
    hours = [f"{n}{unit}" for n in range(1, 100) for unit in ("h", "hr", "hrs", "hours", "mins")]
    return [*digits, *glued, *money, *hours, *map(phrase_key, lexicon.number_words)]


@dataclass(frozen=True, slots=True)
class AgeFound:
    age: int | None
    from_age: int  # the age a band is chosen from (the number, or what a phrase suggests)
    certain: bool
    correction: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Candidate:
    index: int
    age: int
    strong: bool  # said in context
    negated: bool  # "im not 18"
    certain: bool = True


class Ages:
    def __init__(self, lexicon: Lexicon) -> None:
        self._numbers = {phrase_key(w): n for w, n in lexicon.number_words.items()}
        self._words = {phrase_key(w): n for w, n in lexicon.age_words.items()}
        self._lead = PhraseSet(lexicon.age_lead)
        self._tail = PhraseSet(lexicon.age_tail)
        self._not_tail = PhraseSet(lexicon.not_age_tail)
        self._not_lead = PhraseSet(lexicon.not_age_lead)
        self._person = PhraseSet(lexicon.other_person)
        self._correction = PhraseSet(lexicon.age_correction)
        self._prefer_not = PhraseSet(lexicon.prefer_not_say)

    def _number(self, tokens: Sequence[str], i: int) -> tuple[int, int, bool] | None:
        """(value, tokens used, glued tail) for a number at i, in digits or words."""
        token = tokens[i]
        if token.isdigit():
            return (int(token), 1, False) if len(token) <= 4 else None
        if token in self._numbers:
            value = self._numbers[token]
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if value in (20, 30, 40, 50, 60) and self._numbers.get(following, 10) < 10:
                return value + self._numbers[following], 2, False
            return value, 1, False
        if token[0].isdigit() and (glued := _GLUED.fullmatch(token)):
            return int(glued.group(1)), 1, True
        if token[0] in "mf" and (before := _GLUED_BEFORE.fullmatch(token)):
            return int(before.group(1)), 1, True
        return None

    def _candidate(self, tokens: Sequence[str], i: int) -> _Candidate | None:
        number = self._number(tokens, i)
        if number is None:
            return None
        value, used, glued = number
        if value < MIN_AGE or MAX_AGE < value < 1000:
            return None  # never an age (read() keeps MIN_AGE..MAX_AGE only): no context needed
        before = tokens[i - 1] if i else ""
        if before in CURRENCY:
            return None
        after = i + used
        if self._not_tail.starts_at(tokens, after):
            return None
        lead = self._lead.ends_at(tokens, i)
        not_lead = self._not_lead.ends_at(tokens, i)
        if value >= 1000:
            # A year is an age only as "born in 2009", and then an inference.
            if lead in ("born", "born in") and THIS_YEAR - 100 < value < THIS_YEAR:
                return _Candidate(i, THIS_YEAR - value, True, False, certain=False)
            return None
        tail = self._tail.starts_at(tokens, after)
        # "a 19 year old girl added me": someone else, unless "im a 15 year old boy".
        someone = tail and self._person.starts_at(tokens, after + tail.count(" ") + 1)
        if someone and lead not in ("im a", "i am a", "as a") and before not in ("my", "", "."):
            return None
        if not_lead and len(not_lead) >= len(lead) and not (glued or tail):
            return None
        negated = before == "not"
        strong = bool(glued or tail or (lead and len(lead) >= len(not_lead)) or negated)
        return _Candidate(i, value, strong, negated)

    @staticmethod
    def _stands_apart(tokens: Sequence[str], index: int, first_word: int) -> bool:
        before = tokens[index - 1] if index else "."
        after = tokens[index + 1] if index + 1 < len(tokens) else "."
        return index <= first_word or before == "." or after in _STANDS_APART_BEFORE

    def read(
        self, tokens: Sequence[str], number_hits: Sequence[Hit], word_hits: Sequence[Hit]
    ) -> AgeFound | None:
        if len(tokens) <= SHORT_ANSWER and self._prefer_not.covers(tokens):
            return AgeFound(None, -1, True, False, "prefer not to say")
        found = [
            c for hit in number_hits[:MAX_CANDIDATES] if (c := self._candidate(tokens, hit.start))
        ]
        found = [c for c in found if MIN_AGE <= c.age <= MAX_AGE]
        strong = [c for c in found if c.strong and not c.negated]
        if strong:
            last = strong[-1]
            window = tokens[max(0, last.index - _CORRECTIONS) : last.index]
            marked = any(self._correction.ends_at(window, k) for k in range(1, len(window) + 1))
            correction = marked or any(c.negated for c in found)
            chosen = last if correction else strong[0]
            agree = len({c.age for c in strong}) == 1 or correction
            return AgeFound(chosen.age, chosen.age, chosen.certain and agree, correction)
        short = len(tokens) <= SHORT_ANSWER
        # "hi, 16 ...": greetings before the number still make it the opening word.
        first_word = next((i for i, t in enumerate(tokens) if t not in _OPENERS), len(tokens))
        weak = {
            c.age
            for c in found
            if not c.negated
            and c.age >= 10
            and (short or self._stands_apart(tokens, c.index, first_word))
        }
        if len(weak) == 1:
            age = weak.pop()
            return AgeFound(age, age, True, False)
        # One lone number in the whole story, not money, a time or a count ("live in Cornwall,
        # 19, a girl on hinge": the comma is gone once folded): probably the age, so read back.
        lone = {c.age for c in found if not c.negated and 10 <= c.age <= 70}
        if len(lone) == 1 and len(found) == 1:
            age = lone.pop()
            return AgeFound(age, age, False, False, "a number in your message")
        if word_hits:
            phrase = word_hits[0].phrase
            return AgeFound(None, self._words[phrase], False, False, phrase)
        return None
