"""Logging that cannot carry what people write.

Our own log calls pass ids and counts only. As a second line of defence, records from libraries
that could echo message content (HTTP clients logging request bodies, PTB logging updates) are
capped at WARNING unless explicitly allowed.
"""

from __future__ import annotations

import logging

NOISY = ("httpx", "httpcore", "telegram", "aiosqlite", "transitions", "asyncio")


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
