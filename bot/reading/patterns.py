"""What happened, from weighted keywords in the lexicon (after the voice guide's
"Recognising the pattern"). Images already shared and money already paid change the advice most,
so when either is clearly said it comes first; "other" is never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.reading.lexicon import Lexicon
from bot.reading.phrases import Hit, PhraseSet, phrase_key

# Score at which "shared" or "paid" is clearly said (one strong phrase such as "i paid").
_OUTRANK = {"shared": 5, "paid": 6}
# Patterns whose phrases a negation turns round ("they haven't posted it", "if I paid").
_NEGATABLE = frozenset({"shared", "paid"})
# Ties go to the more specific story.
_TIE_ORDER = ("shared", "paid", "impersonation", "hacked", "phishing", "webcam", "fake_profile")
# A clear winner: at least this score and at least twice the next one.
_CLEAR_SCORE = 4


@dataclass(frozen=True, slots=True)
class PatternFound:
    ranked: tuple[str, ...]
    certain: bool


class Patterns:
    def __init__(self, lexicon: Lexicon) -> None:
        self.weights: dict[str, dict[str, int]] = {}
        for pattern, phrases in lexicon.patterns.items():
            for phrase, weight in phrases.items():
                self.weights.setdefault(phrase_key(phrase), {})[pattern] = weight
        self._negators = PhraseSet(lexicon.negators)

    def negated(self, tokens: Sequence[str], start: int) -> bool:
        """A negator just before (allowing one word between: "haven't actually paid")."""
        return bool(
            self._negators.ends_at(tokens, start)
            or (start > 0 and self._negators.ends_at(tokens, start - 1))
        )

    def scores(self, tokens: Sequence[str], hits: Sequence[Hit]) -> dict[str, int]:
        scores: dict[str, int] = {}
        seen: set[str] = set()  # each phrase counts once: a long pasted email can't flood it
        for hit in hits:
            if hit.phrase in seen:
                continue
            seen.add(hit.phrase)
            for pattern, weight in self.weights.get(hit.phrase, {}).items():
                if pattern in _NEGATABLE and self.negated(tokens, hit.start):
                    continue
                scores[pattern] = scores.get(pattern, 0) + weight
        return scores

    def read(self, tokens: Sequence[str], hits: Sequence[Hit]) -> PatternFound | None:
        scores = self.scores(tokens, hits)
        if not scores:
            return None

        def rank(pattern: str) -> tuple[int, ...]:
            order = _TIE_ORDER.index(pattern)
            if scores[pattern] >= _OUTRANK.get(pattern, 10**6):
                return (0, order)  # images out before money paid, both before the rest
            return (1, -scores[pattern], order)

        ranked = tuple(sorted(scores, key=rank))
        top = scores[ranked[0]]
        runner_up = scores[ranked[1]] if len(ranked) > 1 else 0
        outranks = top >= _OUTRANK.get(ranked[0], 10**6)
        clear = top >= _CLEAR_SCORE and top >= 2 * runner_up
        return PatternFound(ranked, outranks or clear)
