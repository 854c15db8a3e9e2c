"""Storage behind a small interface: `Repository`, with SQLite and in-memory implementations."""

from bot.storage.base import Decide, Repository

__all__ = ["Decide", "Repository"]
