"""The dashboard: anonymous aggregates only (per day, by pattern, age band, nation, priority and
outcome; waits before a claim). Kept in `daily` and `waits`, apart from conversations, so they
survive erasure and name nobody.
"""

from __future__ import annotations

import statistics
from typing import Any

from bot.console.cases import day_of
from bot.storage.sqlite import SqliteRepository


async def dashboard(repository: SqliteRepository, now: float, days: int = 30) -> dict[str, Any]:
    """The last `days` days in numbers: per day, by category, outcomes, waits for a claim."""
    since = day_of(now - days * 86400)
    rows = await repository.fetch(
        "SELECT day, metric, key, count FROM daily WHERE day >= ? ORDER BY day", (since,)
    )
    per_day: dict[str, dict[str, int]] = {}
    totals: dict[str, dict[str, int]] = {}
    for day, metric, key, count in rows:
        if metric in ("conversations", "handoffs"):
            per_day.setdefault(day, {"conversations": 0, "handoffs": 0})
            per_day[day][metric] += count
        totals.setdefault(metric, {})
        totals[metric][key] = totals[metric].get(key, 0) + count
    waits = [
        float(row[0])
        for row in await repository.fetch(
            "SELECT seconds FROM waits WHERE day >= ? ORDER BY seconds", (since,)
        )
    ]
    return {
        "days": [{"day": day, **counts} for day, counts in sorted(per_day.items())],
        "by_pattern": totals.get("pattern", {}),
        "by_age_band": totals.get("age_band", {}),
        "by_nation": totals.get("nation", {}),
        "by_priority": totals.get("handoffs", {}),
        "outcomes": totals.get("outcome", {}),
        "wait_median": statistics.median(waits) if waits else None,
        "wait_p90": _percentile(waits, 0.9) if waits else None,
        "claims": len(waits),
    }


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]
