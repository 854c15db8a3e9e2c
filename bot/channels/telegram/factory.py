"""Building the PTB Bot from settings."""

from __future__ import annotations

from telegram import Bot
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.lean import LeanRequest
from bot.channels.telegram.sender import Sender
from bot.config import Settings
from bot.engine import Engine
from bot.storage.base import ChannelStore


def make_bot(token: str, api_base_url: str, *, lean: bool = True) -> Bot:
    """`api_base_url` is the server's root; /bot<token>/ and /file/bot<token>/ derive from it.
    `lean`: calls go through the lean keep-alive transport (lean.py); False: PTB's httpx one
    (e.g. to reach Telegram through an HTTP proxy). Long polling always uses httpx."""
    root = api_base_url.rstrip("/")
    request: BaseRequest = (
        LeanRequest(connections=16, read_timeout=15.0, write_timeout=30.0)
        if lean
        else HTTPXRequest(connection_pool_size=16, read_timeout=15.0, write_timeout=30.0)
    )
    polling = HTTPXRequest(connection_pool_size=1, read_timeout=60.0)
    return Bot(
        token,
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        request=request,
        get_updates_request=polling,
    )


def make_channel(settings: Settings, engine: Engine, store: ChannelStore) -> TelegramChannel:
    sender = Sender(
        global_rate=settings.telegram_global_rate,
        chat_rate=settings.telegram_chat_rate,
        chat_burst=settings.telegram_chat_burst,
    )
    bot = make_bot(
        settings.telegram_bot_token,
        settings.telegram_api_base_url,
        lean=settings.telegram_lean_transport,
    )
    return TelegramChannel(engine, store, bot, pace=settings.telegram_pace, sender=sender)
