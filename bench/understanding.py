"""How well the bot understands people, and how fast: one table from every evaluation set.

    .venv/bin/python -m bench.understanding

Per locale with an evaluation set in bench/eval/<locale>/: crisis recall and false alarms
(crisis.yaml), age/nation/pattern accuracy (stories.yaml), question-answer accuracy
(questions.yaml), each on the dev and test splits; then the time the whole reader (every part:
crisis, commands, slots, question) takes for a 4,000-character message, wall clock and CPU.
Targets (issue 10): crisis recall 100% with false alarms <= 3%, pattern >= 95%, questions >= 90%,
reading p99 < 1 ms. Each part's own script (bench.eval_crisis, bench.eval_stories,
bench.eval_questions) lists its misses.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

import yaml

from bench import eval_crisis, eval_questions, eval_stories
from bot.app import tune_process
from bot.config import PROJECT_ROOT
from bot.reading.reader import Readers
from bot.reading.text import clean, normalise

CONTENT = PROJECT_ROOT / "content"
EVAL = PROJECT_ROOT / "bench" / "eval"
RUNS = 2000
# Ordinary words of a long pasted story: what a 4,000-character message really looks like.
_STORY = [
    "hi",
    "im",
    "16",
    "and",
    "i",
    "live",
    "near",
    "cardiff",
    "a",
    "girl",
    "added",
    "me",
    "on",
    "instagram",
    "and",
    "we",
    "moved",
    "to",
    "snapchat",
    "she",
    "sent",
    "pics",
    "first",
    "and",
    "asked",
    "for",
    "mine",
    "then",
    "she",
    "said",
    "she",
    "recorded",
    "our",
    "video",
    "call",
    "and",
    "wants",
    "200",
    "pounds",
    "in",
    "gift",
    "cards",
    "by",
    "tonight",
    "or",
    "she",
    "sends",
    "it",
    "to",
    "my",
    "family",
    "and",
    "my",
    "school",
    "friends",
    "on",
    "facebook",
    "i",
    "blocked",
    "her",
    "but",
    "she",
    "made",
    "a",
    "new",
    "account",
    "should",
    "i",
    "pay",
    "what",
    "do",
    "i",
    "do",
    "im",
    "so",
    "scared",
]


def long_message(words: list[str], size: int = 4000) -> str:
    rng = random.Random(11)
    text = ""
    while len(text) < size:
        text += rng.choice(words) + " "
    return text[:size]


def reading_ms(
    readers: Readers, locale: str, text: str, clock: Callable[[], float]
) -> tuple[float, float]:
    # A different message each run: readers may keep the last message's scan, and a real
    # person never sends the same 4,000 characters twice in a row.
    texts = [f"{n} {text}"[: len(text)] for n in range(RUNS)]
    samples = []
    for message in texts:
        start = clock()
        readers.read(locale, message)  # as the engine reads: crisis in every locale's words
        samples.append((clock() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(RUNS * 0.99) - 1]


def language_figures() -> dict[str, tuple[int, int, int]]:
    """Per locale: of its evaluation lines (crisis and ordinary), how many are noticed as that
    language, as another (wrong), or as neither (too short or mixed: the conversation's stays)."""
    readers = Readers(CONTENT, "en-GB")
    figures: dict[str, tuple[int, int, int]] = {}
    for folder in sorted(path for path in EVAL.iterdir() if path.is_dir()):
        if folder.name not in readers.languages.offered or not (folder / "crisis.yaml").exists():
            continue
        items = yaml.safe_load((folder / "crisis.yaml").read_text(encoding="utf-8"))["items"]
        right = wrong = unsure = 0
        for item in items:
            found = readers.languages.written_in(normalise(clean(item["text"])))
            right += found == folder.name
            wrong += found is not None and found != folder.name
            unsure += found is None
        figures[folder.name] = (right, wrong, unsure)
    return figures


def main() -> None:
    for locale, (right, wrong, unsure) in language_figures().items():
        total = right + wrong + unsure
        print(
            f"language {locale}: {right / total:.3f} noticed, {wrong / total:.3f} taken for "
            f"another, {unsure / total:.3f} too short to tell ({total} lines)"
        )
    for folder in sorted(path for path in EVAL.iterdir() if path.is_dir()):
        locale = folder.name
        print(f"== {locale}")
        if (folder / "crisis.yaml").exists():
            crisis = eval_crisis.evaluate(CONTENT / locale, folder)
            for split in ("dev", "test"):
                print(
                    f"crisis {split:4}  recall {crisis[f'{split}_recall_any']:.3f} "
                    f"(clear as clear {crisis[f'{split}_recall_clear']:.3f})  "
                    f"false alarms {crisis[f'{split}_false_alarm_rate']:.3f}"
                )
        if (folder / "stories.yaml").exists():
            stories = eval_stories.evaluate(CONTENT / locale, folder)
            for split in ("dev", "test"):
                print(
                    f"stories {split:4} age {stories[f'{split}_age_accuracy']:.3f}  nation "
                    f"{stories[f'{split}_nation_accuracy']:.3f}  pattern "
                    f"{stories[f'{split}_pattern_accuracy']:.3f}  "
                    f"({stories[f'{split}_stories']:.0f} openings)"
                )
        if (folder / "questions.yaml").exists():
            questions = eval_questions.evaluate(CONTENT, EVAL, locale)
            print(
                f"questions  dev {questions['dev_accuracy']:.3f}  test "
                f"{questions['test_accuracy']:.3f}  all {questions['all_accuracy']:.3f}"
            )
        readers = Readers(CONTENT, locale)
        tune_process()  # as the service does once its content is loaded (bot/app.py)
        text = long_message(_STORY)
        wall = reading_ms(readers, locale, text, time.perf_counter)
        cpu = reading_ms(readers, locale, text, time.thread_time)
        print(
            f"reading 4,000 chars  p50 {wall[0]:.3f} ms  p99 {wall[1]:.3f} ms  "
            f"(CPU p50 {cpu[0]:.3f} ms  p99 {cpu[1]:.3f} ms)"
        )


if __name__ == "__main__":
    main()
