"""Effects <-> JSON, so effects can wait durably in the outbox until delivered."""

from __future__ import annotations

import json
from typing import Any

from bot.model import (
    Choices,
    DeliverPack,
    Effect,
    End,
    Handoff,
    Option,
    Pause,
    RequestUpload,
    Say,
)


def effect_to_json(effect: Effect) -> dict[str, Any]:
    match effect:
        case Say(text, kind):
            return {"t": "say", "text": text, "kind": kind}
        case Choices(options, leave):
            return {"t": "choices", "options": [[o.id, o.label] for o in options], "leave": leave}
        case Pause(seconds):
            return {"t": "pause", "seconds": seconds}
        case RequestUpload(prompt):
            return {"t": "upload", "prompt": prompt}
        case Handoff(priority, reason):
            return {"t": "handoff", "priority": priority, "reason": reason}
        case DeliverPack():
            return {"t": "pack"}
        case End(forget):
            return {"t": "end", "forget": forget}
    raise TypeError(f"unknown effect {type(effect).__name__}")


def effect_from_json(data: dict[str, Any]) -> Effect:
    kind = data["t"]
    if kind == "say":
        return Say(data["text"], data["kind"])
    if kind == "choices":
        options = tuple(Option(i, label) for i, label in data["options"])
        return Choices(options, str(data.get("leave", "")))  # older rows have no "leave"
    if kind == "pause":
        return Pause(float(data["seconds"]))
    if kind == "upload":
        return RequestUpload(data["prompt"])
    if kind == "handoff":
        return Handoff(data["priority"], data["reason"])
    if kind == "pack":
        return DeliverPack()
    if kind == "end":
        return End(bool(data["forget"]))
    raise ValueError(f"unknown effect {kind!r}")


def dumps(address: str, effects: tuple[Effect, ...] | list[Effect]) -> bytes:
    return json.dumps(
        {"address": address, "effects": [effect_to_json(e) for e in effects]},
        separators=(",", ":"),
    ).encode()


def loads(blob: bytes) -> tuple[str, tuple[Effect, ...]]:
    data = json.loads(blob)
    return data["address"], tuple(effect_from_json(e) for e in data["effects"])
