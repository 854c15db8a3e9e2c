"""Details worth keeping from a story: the apps, whether they paid and how much, how they were
told to pay, the deadline, and whether more images are being demanded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.reading.lexicon import Lexicon
from bot.reading.patterns import Patterns
from bot.reading.phrases import CURRENCY, Hit, PhraseSet, phrase_key

# Money and deadlines come early in a story; a message of numbers is looked at this far only.
MAX_NUMBERS = 100
# "paid them", "i sent £200": a phrase this strong for "paid" says they did pay.
_PAID_WEIGHT = 6
_UNIT_MONEY = {
    "pounds": "pounds",
    "pound": "pounds",
    "quid": "pounds",
    "gbp": "pounds",
    "dollars": "dollars",
    "dollar": "dollars",
    "usd": "dollars",
    "euros": "euros",
    "euro": "euros",
    "eur": "euros",
    "grand": "grand",
}
_SUFFIX = {"k": "k", "grand": " grand"}
# "within 48 hours", "gave me 24 hours", "48 hours to pay": a deadline. "for 2 hours" (how long
# they talked) and "10 minutes ago" are not.
_DEADLINE_LEAD = frozenset(
    {"within", "in", "next", "only", "got", "have", "has", "had", "give", "gave", "me", "you"}
)
_DEADLINE_TAIL = frozenset({"to", "or", "before", "otherwise", "else", "left"})
# Tokens are short (a message is split first), so fullmatch on one token is cheap and linear.
_GLUED_TIME = re.compile(r"(\d{1,3})(h|hr|hrs|hours|mins|min)")
_GLUED_MONEY = re.compile(r"(\d{1,6})(k|quid)")


@dataclass(frozen=True, slots=True)
class Facts:
    platforms: tuple[str, ...] = ()
    paid: bool | None = None
    amount: str = ""
    methods: tuple[str, ...] = ()
    deadline: str = ""
    send_more: bool = False


def _canonical(table: Mapping[str, list[str]]) -> dict[str, str]:
    return {phrase_key(alias): name for name, aliases in table.items() for alias in aliases}


def _amount(tokens: Sequence[str], hits: Mapping[str, list[Hit]]) -> str:
    """The first sum of money: "£1,000", "$500", "500 pounds", "2k"."""
    count = len(tokens)
    found: list[tuple[int, str]] = []
    for hit in hits.get("currency", [])[:MAX_NUMBERS]:
        i = hit.start
        if i + 1 < count and tokens[i + 1].isdigit():
            digits = tokens[i + 1]
            # "£1,500" is folded to "£ 1 500": join groups of three back together.
            j = i + 2
            while j < count and len(tokens[j]) == 3 and tokens[j].isdigit() and len(digits) < 7:
                digits += "," + tokens[j]
                j += 1
            unit = tokens[j] if j < count else ""
            found.append((i, f"{tokens[i]}{digits}{_SUFFIX.get(unit, '')}"))
            break
    for hit in hits.get("number", [])[:MAX_NUMBERS]:
        i, token = hit.start, tokens[hit.start]
        following = tokens[i + 1] if i + 1 < count else ""
        if token.isdigit() and following in CURRENCY and not (i and tokens[i - 1] in CURRENCY):
            found.append((i, f"{following}{token}"))
        elif token.isdigit() and following in _UNIT_MONEY:
            found.append((i, f"{token} {_UNIT_MONEY[following]}"))
        elif token[0].isdigit() and (glued := _GLUED_MONEY.fullmatch(token)):
            found.append((i, f"{glued.group(1)}{'k' if glued.group(2) == 'k' else ' pounds'}"))
        else:
            continue
        break
    return min(found)[1] if found else ""


class FactReader:
    def __init__(self, lexicon: Lexicon, patterns: Patterns) -> None:
        self._patterns = patterns
        self._paid_phrases = frozenset(
            phrase
            for phrase, weights in patterns.weights.items()
            if weights.get("paid", 0) >= _PAID_WEIGHT
        )
        self._platform_of = _canonical(lexicon.platforms)
        self._method_of = _canonical(lexicon.methods)
        self._needs_lead = frozenset(map(phrase_key, lexicon.platform_needs_lead))
        self._platform_lead = PhraseSet(lexicon.platform_lead)
        self._units = {phrase_key(k): v for k, v in lexicon.time_units.items()}

    def _platforms(self, tokens: Sequence[str], hits: Sequence[Hit]) -> tuple[str, ...]:
        found: dict[str, None] = {}  # ordered set: first mentioned first
        for hit in hits:
            if hit.phrase in self._needs_lead and not self._platform_lead.ends_at(
                tokens, hit.start
            ):
                continue
            found[self._platform_of[hit.phrase]] = None
        return tuple(found)

    def _paid(self, tokens: Sequence[str], hits: Mapping[str, list[Hit]]) -> bool | None:
        strong = self._paid_phrases
        for hit in hits.get("pattern", ()):
            if hit.phrase in strong and not self._patterns.negated(tokens, hit.start):
                return True
        return False if hits.get("not_paid") else None

    def _deadline(self, tokens: Sequence[str], hits: Mapping[str, list[Hit]]) -> str:
        count = len(tokens)
        for hit in hits.get("number", [])[:MAX_NUMBERS]:
            i, token = hit.start, tokens[hit.start]
            if token.isdigit() and i + 1 < count and tokens[i + 1] in self._units:
                lead = tokens[i - 1] if i else ""
                tail = tokens[i + 2] if i + 2 < count else ""
                if lead in _DEADLINE_LEAD or tail in _DEADLINE_TAIL:
                    return f"{token} {self._units[tokens[i + 1]]}"
            elif token[0].isdigit() and (glued := _GLUED_TIME.fullmatch(token)):
                unit = "minutes" if glued.group(2).startswith("m") else "hours"
                return f"{glued.group(1)} {unit}"
        phrases = hits.get("deadline", ())
        return phrases[0].phrase if phrases else ""

    def read(self, tokens: Sequence[str], hits: Mapping[str, list[Hit]]) -> Facts:
        # Never negated: "unless I send more", "if I don't send more", "I won't send more" all
        # say the same thing, that they are demanding more (the negators are for paid/shared).
        send_more = bool(hits.get("send_more"))
        methods = dict.fromkeys(self._method_of[hit.phrase] for hit in hits.get("method", ()))
        return Facts(
            platforms=self._platforms(tokens, hits.get("platform", ())),
            paid=self._paid(tokens, hits),
            amount=_amount(tokens, hits),
            methods=tuple(methods),
            deadline=self._deadline(tokens, hits),
            send_more=send_more,
        )
