"""How well the slot reader reads story openings: `python -m bench.eval_stories`.

Accuracy of age, nation and primary pattern on the dev and test splits of
`bench/eval/<locale>/stories.yaml`, and the time to read every slot of a 4,000-character message.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from bot.reading.slots import SlotReader
from bot.reading.text import clean, normalise

ROOT = Path(__file__).resolve().parent.parent
TIMING_RUNS = 400
LONG_MESSAGE = 4000


class Story(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    source: Literal["guidance", "forum-typical", "variant"]
    split: Literal["dev", "test"]
    text: str
    age: int | None
    age_band: str
    nation: str | None
    pattern: str
    patterns: tuple[str, ...] = ()
    platform: str | None = None
    paid: bool | None = None
    amount: str | None = None
    correction: bool | None = None
    send_more: bool | None = None


@dataclass(frozen=True, slots=True)
class Miss:
    story: str
    slot: str
    expected: object
    got: object


def load_stories(eval_dir: Path) -> list[Story]:
    raw = yaml.safe_load((eval_dir / "stories.yaml").read_text(encoding="utf-8"))
    return [Story.model_validate(item) for item in raw["stories"]]


def _checks(reader: SlotReader, story: Story) -> list[Miss]:
    folded = normalise(clean(story.text))
    misses: list[Miss] = []
    age = reader.age(folded)
    got_age = (age.age, age.band) if age else (None, "unknown")
    if got_age != (story.age, story.age_band):
        misses.append(Miss(story.id, "age", (story.age, story.age_band), got_age))
    place = reader.place(folded)
    got_nation = place.nation if place else None
    if got_nation != story.nation:
        misses.append(Miss(story.id, "nation", story.nation, got_nation))
    pattern = reader.pattern(folded)
    got_pattern = pattern.ranked[0] if pattern else "other"
    if got_pattern != story.pattern:
        misses.append(Miss(story.id, "pattern", story.pattern, got_pattern))
    return misses


def long_message(stories: list[Story]) -> str:
    """About 4,000 characters of real story text: the worst case a person could send."""
    text = " ".join(story.text for story in stories)
    return text[:LONG_MESSAGE]


def timing(reader: SlotReader, folded: str) -> tuple[float, float]:
    """p50 and p99 milliseconds to read every slot of one message, with no cached scan."""
    durations: list[float] = []
    for run in range(TIMING_RUNS):
        # A different message each run (the last characters changed), so the scan cache never
        # helps: this is the cost of reading a new message.
        text = f"{folded[: LONG_MESSAGE - 4]}{run:04d}"
        start = time.perf_counter()
        reader.age(text)
        reader.place(text)
        reader.pattern(text)
        reader.facts(text)
        reader.agreement(text)
        reader.done(text)
        durations.append((time.perf_counter() - start) * 1000)
    durations.sort()
    return statistics.median(durations), durations[int(len(durations) * 0.99) - 1]


def evaluate(content_dir: Path, eval_dir: Path) -> dict[str, float]:
    results, _ = _evaluate(content_dir, eval_dir)
    return results


def _evaluate(content_dir: Path, eval_dir: Path) -> tuple[dict[str, float], list[Miss]]:
    reader = SlotReader.load(content_dir / "understanding.yaml")
    stories = load_stories(eval_dir)
    results: dict[str, float] = {}
    all_misses: list[Miss] = []
    for split in ("dev", "test"):
        chosen = [s for s in stories if s.split == split]
        misses = [m for story in chosen for m in _checks(reader, story)]
        all_misses += misses
        results[f"{split}_stories"] = float(len(chosen))
        for slot in ("age", "nation", "pattern"):
            wrong = sum(1 for m in misses if m.slot == slot)
            results[f"{split}_{slot}_accuracy"] = 1 - wrong / len(chosen) if chosen else 0.0
    p50, p99 = timing(reader, normalise(clean(long_message(stories))))
    results["read_all_slots_4000_chars_p50_ms"] = p50
    results["read_all_slots_4000_chars_p99_ms"] = p99
    return results, all_misses


def main() -> int:
    locale = sys.argv[1] if len(sys.argv) > 1 else "en-GB"
    results, misses = _evaluate(ROOT / "content" / locale, ROOT / "bench" / "eval" / locale)
    for name, value in results.items():
        print(f"{name:40} {value:.3f}")
    if misses:
        print("\nmisses:")
    for miss in misses:
        print(f"  {miss.story:6} {miss.slot:8} expected {miss.expected!r:28} got {miss.got!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
