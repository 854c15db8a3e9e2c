"""The web widget channel: one WebSocket per open widget, resumable, bound to the browser."""

from bot.channels.web.channel import CHANNEL, WebChannel

__all__ = ["CHANNEL", "WebChannel"]
