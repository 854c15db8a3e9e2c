"""People's own questions: find the closest entry of `content/<locale>/questions.yaml`.

A small BM25 over the example phrasings (one document per example), with an inverted index whose
postings already carry each term's BM25 weight, so a match is a handful of dictionary additions.
It is written here rather than taken from a library to stay numpy-free (memory per worker) and
because the whole knowledge base is a few hundred short documents.

Before ranking, words are folded: text speak and near-synonyms from the yaml ("u" -> "you",
"nudes" -> "picture"), a light suffix stripper, and a one-edit typo repair against the index
vocabulary (SymSpell-style delete keys: dictionary look-ups only, no scanning).

A best match is only returned when it is close enough: the words it shares with the best example
must cover enough of the question *and* of that example (an F1 of idf-weighted coverage); the
threshold was tuned on the dev split of bench/eval/en-GB/questions.yaml only.

Only the first MAX_QUERY_TOKENS words of a message are read: the engine asks this for short
messages or questions, and the cap keeps a 4,000-character message well under a millisecond.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.reading.text import normalise

MAX_QUERY_TOKENS = 40  # words read from a message (the question is rarely longer)
THRESHOLD = 0.38  # F1 of idf-weighted coverage; tuned on the dev split only
UNKNOWN_SHARE = 1.0  # an unseen word weighs this share of the rarest indexed word
MAX_REPAIR = 20  # longer words are never typo-repaired (the repair is O(length^2))
# A question's rank: its best examples' BM25 scores, the 2nd and 3rd weighted down, so several
# phrasings agreeing help, but many one-word overlaps can't beat one close example.
TOP_EXAMPLES, DECAY = 3, 0.7
K1, B = 1.2, 0.75  # the usual BM25 constants
_TOKEN = re.compile(r"[^\W_]+")  # runs of letters or digits: linear time


class _EntryModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    examples: tuple[str, ...] = Field(min_length=6)
    say: tuple[str, ...] = Field(min_length=1)
    sources: tuple[str, ...] = Field(min_length=1)
    checked: dt.date
    verify: bool = False


class _BookModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    openers: tuple[str, ...] = Field(min_length=1)
    fillers: tuple[str, ...] = ()
    synonyms: dict[str, tuple[str, ...]] = {}
    stopwords: tuple[str, ...] = ()
    questions: tuple[_EntryModel, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class QuestionEntry:
    id: str
    examples: tuple[str, ...]
    say: tuple[str, ...]  # text keys
    sources: tuple[str, ...]
    checked: dt.date
    verify: bool = False


def stem(word: str) -> str:
    """A deliberately light suffix stripper: enough to join "posting/posted/posts"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word[-2] in "siu":  # "miss", "this", "bonus" are not plurals
                return word
            return word[: -len(suffix)]
    return word


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class _Index:
    """BM25 postings over example documents, plus the word folding both sides share."""

    def __init__(
        self, docs: list[tuple[str, str]], synonyms: dict[str, tuple[str, ...]], stop: set[str]
    ) -> None:
        self.fold: dict[str, str] = {}
        for canonical, forms in synonyms.items():
            for form in (canonical, *forms):
                self.fold[form] = self.fold[stem(form)] = stem(canonical)
        # Stop words are dropped whether they are typed as listed or arrive through folding.
        self.stop = stop | {self.word(word) for word in stop}
        self.owner: list[str] = [question_id for question_id, _ in docs]
        bags = [Counter(self.terms(text)) for _, text in docs]
        average = sum(sum(bag.values()) for bag in bags) / max(len(bags), 1)
        frequency = Counter(term for bag in bags for term in bag)
        count = len(bags)
        self.idf = {
            term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency.items()
        }
        # A word the index has never seen counts as a rare one: it speaks against a match.
        self.unknown_idf = max(self.idf.values(), default=1.0) * UNKNOWN_SHARE
        self.postings: dict[str, list[tuple[int, float]]] = {}
        self.doc_mass = [0.0] * count  # idf mass of each example, for coverage
        for doc, bag in enumerate(bags):
            length = sum(bag.values())
            for term, tf in bag.items():
                weight = self.idf[term] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
                self.postings.setdefault(term, []).append((doc, weight))
                self.doc_mass[doc] += self.idf[term]
        # Typo repair: every vocabulary word under each of its one-letter deletions.
        self.near: dict[str, str] = {}
        for term in sorted(frequency, key=lambda t: -frequency[t]):  # commonest word wins
            if len(term) >= 4:
                for key in (term, *_deletes(term)):
                    self.near.setdefault(key, term)

    def word(self, token: str) -> str:
        return self.fold.get(token) or self.fold.get(stem(token)) or stem(token)

    def terms(self, folded: str, limit: int | None = None) -> list[str]:
        tokens = (m.group(0) for m in itertools.islice(_TOKEN.finditer(folded), limit))
        words = (self.word(token) for token in tokens if token not in self.stop)
        return [word for word in words if word not in self.stop]

    def repair(self, term: str) -> str:
        """A word not in the index, mapped to a vocabulary word one edit away (if any)."""
        if term in self.idf or not 4 <= len(term) <= MAX_REPAIR:  # long runs: no 6,000 deletes
            return term
        if term.endswith("in") and term[:-2] in self.idf:  # "payin", "sendin", "postin"
            return term[:-2]
        for key in (term, *_deletes(term)):
            found = self.near.get(key)
            if found is not None:
                return found
        return term


class QuestionBook:
    def __init__(self, model: _BookModel) -> None:
        self.entries: dict[str, QuestionEntry] = {
            q.id: QuestionEntry(q.id, q.examples, q.say, q.sources, q.checked, q.verify)
            for q in model.questions
        }
        if len(self.entries) != len(model.questions):
            raise ValueError("question ids must be unique")
        docs = [(q.id, normalise(example)) for q in model.questions for example in q.examples]
        stop = {normalise(word) for word in model.stopwords}
        self._index = _Index(docs, model.synonyms, stop)
        self._openers = tuple(
            tuple(self._index.word(token) for token in _TOKEN.findall(normalise(opener)))
            for opener in model.openers
        )
        self._fillers = frozenset(normalise(word) for word in model.fillers)
        self.threshold = THRESHOLD

    @classmethod
    def load(cls, path: Path) -> QuestionBook:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(_BookModel.model_validate(raw))

    def best(self, folded: str) -> tuple[float, str] | None:
        """(confidence, question id) of the best-ranked question sharing a word, if any."""
        index = self._index
        query = {index.repair(term) for term in index.terms(folded, MAX_QUERY_TOKENS)}
        if not query:
            return None
        # Sorted: float sums in a set's order would differ with the hash seed, and so would ties.
        terms = sorted(query)
        query_mass = sum(index.idf.get(term, index.unknown_idf) for term in terms)
        bm25: dict[int, float] = {}
        shared: dict[int, float] = {}
        for term in terms:
            idf = index.idf.get(term)
            if idf is None:
                continue
            for doc, weight in index.postings[term]:
                bm25[doc] = bm25.get(doc, 0.0) + weight
                shared[doc] = shared.get(doc, 0.0) + idf
        if not bm25:
            return None
        # Ranked by its best examples together (see DECAY).
        per_question: dict[str, list[tuple[float, int]]] = {}
        for doc, score in bm25.items():
            per_question.setdefault(index.owner[doc], []).append((score, doc))
        ranks: dict[str, float] = {}
        for question_id, found in per_question.items():
            found.sort(reverse=True)
            ranks[question_id] = sum(
                score * DECAY**n for n, (score, _) in enumerate(found[:TOP_EXAMPLES])
            )
        top = max(ranks.values())

        def f1(doc: int) -> float:
            covers_query = shared[doc] / query_mass
            covers_doc = shared[doc] / index.doc_mass[doc]
            return 2 * covers_query * covers_doc / (covers_query + covers_doc)

        # Confidence: the best example's F1 (of the top-ranked questions only; it breaks ties).
        return max(
            (max(f1(doc) for _, doc in per_question[question_id]), question_id)
            for question_id, rank in ranks.items()
            if rank == top
        )

    def match(self, folded: str) -> str | None:
        """The best question id, or None if nothing is close enough."""
        best = self.best(folded)
        if best is None or best[0] < self.threshold:
            return None
        return best[1]

    def looks_like_question(self, folded: str, raw: str) -> bool:
        """A question mark, or a sentence that opens like a question ("shud i", "wat if")."""
        if "?" in raw[:8000]:
            return True
        for sentence in folded[:2000].split(".")[:20]:
            tokens = list(itertools.islice(_TOKEN.finditer(sentence), 8))
            # "ok so wat if..." still opens like a question once the fillers are skipped.
            words = [m.group(0) for m in tokens]
            while words and words[0] in self._fillers:
                words.pop(0)
            start = tuple(self._index.word(word) for word in words[:4])
            if any(start[: len(opener)] == opener for opener in self._openers):
                return True
        return False
