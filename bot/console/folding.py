"""Many urgent cases from one source: every case kept, one alert.

One client can open many cases: a flood of made-up crises, or a school where everyone shares one
address. Safety first: no case is hidden, merged or dropped, since several real people can share
a source; each stays in the queue with its own priority. What folds is the alerting: moderators
hear of the first urgent case from a source at once; the urgent cases from that source in the
next FOLD_SECONDS are counted instead, and when that window ends one summary says how many came
("3 more urgent cases from the same source"). The queue shows them as one group that expands.

A source is never an address. The channel that knows a client (the widget knows its address, an
IPv6 /64) gives its client key to `source_id`, which returns a keyed hash of it: an HMAC with a
key derived from the app secret (the conversation-id key, under its own "source:" prefix, which
no channel's conversation key can take). Only that hash reaches the console, in memory and on
the open case (cleared when the case closes, erased with the conversation).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.console.cases import Case
from bot.crypto import Keyring

FOLD_SECONDS = 300.0
MAX_WINDOWS = 10_000  # sources folded at once; beyond it every urgent case alerts (never fewer)

Summary = Callable[[Case, int], None]  # (the most urgent case folded, how many were folded)


def source_id(keyring: Keyring, client_key: str) -> str | None:
    """The keyed hash that stands for a client (None when the channel doesn't know it)."""
    return keyring.conversation_id(f"source:{client_key}") if client_key else None


@dataclass
class _Window:
    timer: asyncio.TimerHandle | None = None
    folded: int = 0
    lead: Case | None = None  # the most urgent, first-come case folded so far
    ids: set[int] = field(default_factory=set)  # cases alerted or folded in this window


class UrgentFolds:
    """Per source, one alert now and one summary at the end of the window."""

    def __init__(self, summary: Summary, seconds: float = FOLD_SECONDS) -> None:
        self.summary = summary
        self.seconds = seconds
        self._windows: dict[str, _Window] = {}

    def admit(self, source: str | None, case: Case) -> bool:
        """True: alert for this urgent case now. False: it is folded into its source's window
        and counted in the summary that ends it."""
        if source is None or self.seconds <= 0:
            return True
        window = self._windows.get(source)
        if window is None:
            if len(self._windows) >= MAX_WINDOWS:
                return True
            window = self._windows[source] = _Window(ids={case.id})
            loop = asyncio.get_running_loop()
            window.timer = loop.call_later(self.seconds, self._end, source)
            return True
        if case.id not in window.ids:  # a case raised again in its window counts once
            window.ids.add(case.id)
            window.folded += 1
            if window.lead is None or case.priority_rank < window.lead.priority_rank:
                window.lead = case
        return False

    def _end(self, source: str) -> None:
        window = self._windows.pop(source, None)
        if window is not None and window.folded and window.lead is not None:
            self.summary(window.lead, window.folded)

    def close(self) -> None:
        for window in self._windows.values():
            if window.timer is not None:
                with contextlib.suppress(Exception):
                    window.timer.cancel()
        self._windows.clear()
