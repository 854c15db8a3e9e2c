"""How well the question ranker answers people's own questions, and how fast.

    .venv/bin/python -m bench.eval_questions

Accuracy counts an item right when the ranker picks its labelled entry, or says nothing for an
item labelled null (the knowledge base has no answer). Dev items may be used to tune the
threshold; test items never are. Timing is for a 4,000-character message, the engine's worst
realistic case, already cleaned and folded as the engine does before calling `match`.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from bot.reading.questions import QuestionBook
from bot.reading.text import clean, normalise

LOCALE = "en-GB"
TIMING_RUNS = 2000


class EvalItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    q: str
    id: str | None
    source: Literal["guidance", "forum-typical", "variant"]
    split: Literal["dev", "test"]


class EvalSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    url: str


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sources: tuple[EvalSource, ...]
    items: tuple[EvalItem, ...]


@dataclass(frozen=True, slots=True)
class Miss:
    item: EvalItem
    got: str | None


def load_eval(eval_dir: Path, locale: str = LOCALE) -> EvalSet:
    raw = yaml.safe_load((eval_dir / locale / "questions.yaml").read_text(encoding="utf-8"))
    return EvalSet.model_validate(raw)


def misses(book: QuestionBook, items: tuple[EvalItem, ...]) -> list[Miss]:
    found = ((item, book.match(normalise(clean(item.q)))) for item in items)
    return [Miss(item, got) for item, got in found if got != item.id]


def long_message(book: QuestionBook) -> str:
    """About 4,000 characters of question-like words from the knowledge base itself: every
    token is in the index, so this is the slow path (long postings), not a cheap miss."""
    words = " ".join(e for entry in book.entries.values() for e in entry.examples)
    text = (words + " ") * (4000 // max(len(words), 1) + 1)
    return text[:4000]


def timing_ms(
    book: QuestionBook,
    text: str,
    runs: int = TIMING_RUNS,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float]:
    """p50 and p99 of `match` in milliseconds. Wall-clock time by default; with
    `time.thread_time` it is CPU time, which other processes on a busy machine can't inflate."""
    folded = normalise(clean(text))
    samples = []
    for _ in range(runs):
        start = clock()
        book.match(folded)
        samples.append((clock() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def _accuracy(book: QuestionBook, items: tuple[EvalItem, ...]) -> float:
    return 1 - len(misses(book, items)) / len(items) if items else 0.0


def evaluate(content_dir: Path, eval_dir: Path, locale: str = LOCALE) -> dict[str, float]:
    book = QuestionBook.load(content_dir / locale / "questions.yaml")
    items = load_eval(eval_dir, locale).items
    dev = tuple(item for item in items if item.split == "dev")
    test = tuple(item for item in items if item.split == "test")
    p50, p99 = timing_ms(book, long_message(book))
    cpu_p50, cpu_p99 = timing_ms(book, long_message(book), clock=time.thread_time)
    return {
        "dev_accuracy": _accuracy(book, dev),
        "test_accuracy": _accuracy(book, test),
        "all_accuracy": _accuracy(book, items),
        "dev_items": float(len(dev)),
        "test_items": float(len(test)),
        "p50_ms_4000_chars": p50,
        "p99_ms_4000_chars": p99,
        "cpu_p50_ms_4000_chars": cpu_p50,
        "cpu_p99_ms_4000_chars": cpu_p99,
    }


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    content_dir, eval_dir = root / "content", root / "bench" / "eval"
    locale = os.environ.get("EVAL_LOCALE", LOCALE)
    for name, value in evaluate(content_dir, eval_dir, locale).items():
        print(f"{name:>22}: {value:.4f}")
    book = QuestionBook.load(content_dir / locale / "questions.yaml")
    print("\nmisses (split, expected -> got: question):")
    for miss in misses(book, load_eval(eval_dir, locale).items):
        item = miss.item
        print(f"  {item.split:<4} {item.id!s:>22} -> {miss.got!s:<22} {item.q}")


if __name__ == "__main__":
    main()
