"""The Telegram crash drill (issue 11): `supportbot run` as a child process, killed with SIGKILL
at seeded random points of a scripted conversation for several people and restarted each time.
Nothing may be lost or repeated: every person's chat is exactly what the same script gives
without crashes.

`DRILL_POINTS` (default 30) sets how many kills; `DRILL_SEED` picks them. For the long drill:

    DRILL_POINTS=200 .venv/bin/pytest -q -p no:cacheprovider tests/test_drill_telegram.py -s

Each run is self-contained (its own ports, data directory and stand-in server), so it runs in
parallel with anything else under xdist.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from tests.auxil.botapi import BotApiStandIn
from tests.auxil.drill import Drill, converse, kill_points

POINTS = int(os.environ.get("DRILL_POINTS", "30"))
SEED = int(os.environ.get("DRILL_SEED", "11"))
# Enough people that there is a message to kill at for every point.
PEOPLE = [5000 + n for n in range(max(5, POINTS // 12 + 1))]


def _seen(api: BotApiStandIn, person: int) -> list[str]:
    """What the person saw. Which support lines are listed depends on the hour (open now or
    not), and the run without crashes happened minutes earlier: such a list is compared as
    being there, not word for word."""
    return [
        "<support lines>" if "open now" in text or "closed now" in text else text
        for text in api.texts(person)
    ]


async def _run(tmp_path: Path, name: str, kills: list[int] | None, expected: dict[int, int] | None):  # type: ignore[no-untyped-def]
    api = BotApiStandIn()
    await api.start()
    data = tmp_path / name / "data"
    data.mkdir(parents=True)
    drill = Drill(api, data, list(kills or []))
    finished = False
    runner = asyncio.create_task(drill.keep_running(lambda: finished))
    try:
        await converse(api, PEOPLE, expected, timeout=120 + 12 * POINTS)
    finally:
        finished = True
        await runner
        drill.stop()
        await api.stop()
    return api, drill


async def test_kill_at_random_points_loses_and_repeats_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    calm, _ = await _run(tmp_path, "calm", None, None)
    expected = {person: len(calm.chat(person)) for person in PEOPLE}
    assert all(expected.values())
    total = sum(expected.values())
    kills = kill_points(SEED, total, POINTS)
    crashed, drill = await _run(tmp_path, "crashed", kills, expected)
    await asyncio.sleep(0)
    differ = [p for p in PEOPLE if _seen(crashed, p) != _seen(calm, p)]
    lost = sum(max(0, expected[p] - len(crashed.chat(p))) for p in PEOPLE)
    repeated = sum(max(0, len(crashed.chat(p)) - expected[p]) for p in PEOPLE)
    print(
        f"\ndrill: {len(PEOPLE)} people, {len(PEOPLE) * 12} messages in, {total} out, "
        f"{drill.killed} kills, {drill.restarts} restarts, {lost} lost, {repeated} repeated, "
        f"{len(differ)} conversations differ, {time.monotonic() - started:.0f} s"
    )
    for person in differ[:1]:
        pairs = zip(_seen(calm, person), _seen(crashed, person), strict=False)
        index, (want, got) = next((i, p) for i, p in enumerate(pairs) if p[0] != p[1])
        print(f"first difference, message {index}:\n  calm:    {want!r}\n  crashed: {got!r}")
    assert drill.killed == len(kills)
    assert (lost, repeated, differ) == (0, 0, [])
