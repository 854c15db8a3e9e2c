"""Measure the crisis reader on its evaluation set: recall, false alarms, and speed.

    .venv/bin/python -m bench.eval_crisis

Figures are given for the whole set, for each split (dev, test) and for each later batch, so
overfitting shows up as a gap (the set's header records each batch's first-look figures, taken
before any rule was changed for it). Misses are listed with their text: the lines were written
for the set, never real people's words.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.reading.crisis import CrisisReader, CrisisSignal
from bot.reading.text import clean, normalise

_ROOT = Path(__file__).resolve().parents[1]
LOCALE = "en-GB"


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    label: str  # "clear" | "possible" | "none"
    source: str
    split: str  # "dev" | "test"
    about_other: bool
    batch: int  # 2 and later: written after the rules of the time were frozen, to measure them


def load_items(eval_dir: Path) -> list[Item]:
    with (eval_dir / "crisis.yaml").open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return [
        Item(
            text=str(raw["text"]),
            label=str(raw["label"]),
            source=str(raw["source"]),
            split=str(raw["split"]),
            about_other=bool(raw.get("about_other", False)),
            batch=int(raw.get("batch", 1)),
        )
        for raw in data["items"]
    ]


def _score(reader: CrisisReader, items: Iterable[Item]) -> tuple[dict[str, float], list[str]]:
    counts = {"clear": 0, "clear_hit": 0, "crisis": 0, "any_hit": 0, "ordinary": 0, "alarms": 0}
    counts |= {"other": 0, "other_hit": 0}
    misses: list[str] = []
    for item in items:
        signal: CrisisSignal = reader.assess(normalise(clean(item.text)))
        if item.label == "none":
            counts["ordinary"] += 1
            if signal.level != "none":
                counts["alarms"] += 1
                misses.append(f"false alarm ({signal.level}): {item.text}")
            continue
        counts["crisis"] += 1
        counts["any_hit"] += signal.level != "none"
        if item.label == "clear":
            counts["clear"] += 1
            counts["clear_hit"] += signal.level == "clear"
        if item.about_other:
            counts["other"] += 1
            counts["other_hit"] += signal.about_other
        if signal.level == "none":
            misses.append(f"missed ({item.label}): {item.text}")
        elif item.label == "clear" and signal.level != "clear":
            misses.append(f"clear read as possible: {item.text}")

    def ratio(hit: int, total: int) -> float:
        return hit / total if total else 1.0

    figures = {
        "recall_clear": ratio(counts["clear_hit"], counts["clear"]),
        "recall_any": ratio(counts["any_hit"], counts["crisis"]),
        "false_alarm_rate": counts["alarms"] / max(counts["ordinary"], 1),
        "about_other_recall": ratio(counts["other_hit"], counts["other"]),
        "n_crisis": float(counts["crisis"]),
        "n_clear": float(counts["clear"]),
        "n_ordinary": float(counts["ordinary"]),
        "n_missed": float(counts["crisis"] - counts["any_hit"]),
        "n_false_alarms": float(counts["alarms"]),
    }
    return figures, misses


def evaluate(content_dir: Path, eval_dir: Path) -> dict[str, float]:
    """Figures over the whole set, plus `dev_` and `test_` prefixed figures per split.

    content_dir and eval_dir are the locale folders (content/en-GB, bench/eval/en-GB).
    """
    reader = CrisisReader.load(content_dir / "crisis.yaml")
    items = load_items(eval_dir)
    figures, _ = _score(reader, items)
    for split in ("dev", "test"):
        part, _ = _score(reader, (i for i in items if i.split == split))
        figures |= {f"{split}_{k}": v for k, v in part.items()}
    return figures


_ORDINARY_WORDS = (
    "they said they will post it my mum will kill me im so scared what do i do i paid "
    "them already and they want more money by tonight i cant tell my dad this is killing me "
    "i blocked them on instagram should i take screenshots i dont want to go to school"
)


def timing(reader: CrisisReader, runs: int = 2000) -> dict[str, float]:
    """p50/p99 of assess in microseconds on a 4,000-character ordinary message.

    The message mixes ordinary blackmail wording with idioms that touch the lexicon ("my mum
    will kill me"), so the slow path (rewrite and anchor walk) is what gets measured.
    """
    rng = random.Random(7)
    words = _ORDINARY_WORDS.split()
    text = ""
    while len(text) < 4000:
        text += rng.choice(words) + " "
    folded = normalise(clean(text[:4000]))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        reader.assess(folded)
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return {
        "p50_us": statistics.median(samples),
        "p99_us": samples[int(runs * 0.99) - 1],
        "max_us": samples[-1],
        "chars": float(len(folded)),
    }


def main() -> None:
    content_dir = _ROOT / "content" / LOCALE
    eval_dir = _ROOT / "bench" / "eval" / LOCALE
    reader = CrisisReader.load(content_dir / "crisis.yaml")
    items = load_items(eval_dir)
    for name, part in (
        ("all", items),
        ("dev", [i for i in items if i.split == "dev"]),
        ("test", [i for i in items if i.split == "test"]),
        *(
            (f"batch {b}", [i for i in items if i.batch == b])
            for b in sorted({i.batch for i in items} - {1})
        ),
    ):
        figures, misses = _score(reader, part)
        print(f"[{name}]")
        for key, value in figures.items():
            print(f"  {key:20} {value:.3f}" if key[0] != "n" else f"  {key:20} {int(value)}")
        if name == "all":
            for line in misses:
                print(f"    {line}")
    # Other work on the machine shows up in p99; the load average says how busy it was.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"[timing] assess on a 4,000-character ordinary message, 2,000 runs (load {load})")
    for key, value in timing(reader).items():
        print(f"  {key:20} {value:.1f}")


if __name__ == "__main__":
    main()
