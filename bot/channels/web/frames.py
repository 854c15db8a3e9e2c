"""Engine effects as widget frames (JSON objects), and the client frames the server accepts."""

from __future__ import annotations

from typing import Any

from bot.model import Choices, DeliverPack, Effect, End, Pause, RequestUpload, Say

Frame = dict[str, Any]
MAX_ID_CHARS = 64


def frames_for(effects: tuple[Effect, ...] | list[Effect]) -> list[Frame]:
    """What the widget shows, in order. `pause`: seconds of typing indicator before a message
    (the widget paces; the server sends at once, so nobody's pacing holds up anyone else)."""
    out: list[Frame] = []
    pause = 0.0
    for effect in effects:
        if isinstance(effect, Pause):
            pause += effect.seconds
        elif isinstance(effect, Say):
            out.append({"t": "say", "text": effect.text, "kind": effect.kind, "pause": pause})
            pause = 0.0
        elif isinstance(effect, RequestUpload):
            out.append({"t": "upload", "text": effect.prompt, "pause": pause})
            pause = 0.0
        elif isinstance(effect, Choices):
            out.append(
                {
                    "t": "choices",
                    "options": [{"id": o.id, "label": o.label} for o in effect.options],
                }
            )
        elif isinstance(effect, DeliverPack):
            out.append({"t": "pack", "pause": pause})
            pause = 0.0
        elif isinstance(effect, End):
            out.append({"t": "end"})
    return out


def client_id(frame: Frame) -> str | None:
    """The widget's id for something it sent: 1-64 URL-safe characters, or None."""
    value = frame.get("id")
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        return None
    if not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
        return None
    return value
