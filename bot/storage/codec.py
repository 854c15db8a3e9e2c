"""Conversation <-> plain dict, for sealing into the database."""

from __future__ import annotations

import json
from typing import Any

from bot.model import Conversation, Profile, TranscriptEntry


def conversation_to_dict(conversation: Conversation) -> dict[str, Any]:
    profile = conversation.profile
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "flow": conversation.flow,
        "state": conversation.state,
        "locale": conversation.locale,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "profile": {
            "age_band": profile.age_band,
            "age": profile.age,
            "nation": profile.nation,
            "pattern": profile.pattern,
            "crisis": profile.crisis,
        },
        "answers": conversation.answers,
        "pending": conversation.pending,
        "address": conversation.address,
        "turns": conversation.turns,
        "indicators": conversation.indicators,
        "evidence_count": conversation.evidence_count,
        "evidence_bytes": conversation.evidence_bytes,
        "memo": conversation.memo,
    }


def conversation_from_dict(data: dict[str, Any]) -> Conversation:
    return Conversation(
        id=data["id"],
        channel=data["channel"],
        flow=data["flow"],
        state=data["state"],
        locale=data["locale"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        profile=Profile(**data["profile"]),
        answers=dict(data["answers"]),
        pending=dict(data["pending"]) if data["pending"] is not None else None,
        address=data["address"],
        turns=data["turns"],
        indicators=[dict(item) for item in data.get("indicators", [])],
        evidence_count=data.get("evidence_count", 0),
        evidence_bytes=data.get("evidence_bytes", 0),
        memo=dict(data.get("memo") or {}),
    )


def secret_part(data: dict[str, Any]) -> bytes:
    """The fields that are sealed at rest (everything but the category columns)."""
    keep = (
        "profile",
        "answers",
        "pending",
        "address",
        "turns",
        "indicators",
        "evidence_count",
        "evidence_bytes",
        "memo",
    )
    return json.dumps(
        {name: data[name] for name in keep if name in data}, separators=(",", ":")
    ).encode()


def transcript_bytes(entry: TranscriptEntry) -> bytes:
    data = {"in": entry.inbound, "out": entry.outbound, "k": entry.kinds}
    return json.dumps(data, separators=(",", ":")).encode()


def transcript_from(at: float, blob: bytes) -> TranscriptEntry:
    data = json.loads(blob)
    return TranscriptEntry(at, data["in"], tuple(data["out"]), tuple(data.get("k", ())))
