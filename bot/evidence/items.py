"""Building evidence items and reading back what was found (pure: no I/O)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

from bot.model import NewEvidence

MAX_ITEMS = 50  # per conversation
MAX_BYTES = 100 * 1024 * 1024  # per conversation
MAX_INDICATORS = 200


def new_item(
    kind: Literal["file", "text"], media_type: str, name: str, data: bytes, channel: str, at: float
) -> NewEvidence:
    """Hash and time are fixed at arrival; the bytes are kept exactly as received."""
    return NewEvidence(
        id=uuid.uuid4().hex,
        kind=kind,
        media_type=media_type,
        name=name[:200],
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        received_at=at,
        channel=channel,
    )


def short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
