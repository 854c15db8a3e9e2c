"""Logging that cannot carry what people write.

Our own log calls pass ids and counts only. As a second line of defence, records from libraries
that could echo message content (HTTP clients logging request bodies, PTB logging updates) are
capped at WARNING unless explicitly allowed.
"""

from __future__ import annotations

import logging

NOISY = (
    "httpx",
    "httpcore",
    "telegram",
    "aiosqlite",
    "transitions",
    "asyncio",
    "uvicorn.access",
    "websockets",
)


class _NoConnectionLines(logging.Filter):
    """uvicorn logs every WebSocket with the client's address ('"WebSocket /ws" [accepted]',
    'connection open'); who connects to a support service is not ours to keep. At DEBUG it also
    hands `uvicorn.error` to the websockets protocol, which logs every frame ('< TEXT
    '{"t":"text","text":...}'', '> TEXT '{"t":"session","token":...}''): people's words and
    session tokens. Nothing below INFO from uvicorn is let through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return False
        message = str(record.msg)
        return "WebSocket" not in message and not message.startswith("connection ")


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoConnectionLines) for f in logger.filters):
            logger.addFilter(_NoConnectionLines())
