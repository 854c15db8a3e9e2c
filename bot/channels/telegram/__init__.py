"""The Telegram channel, on python-telegram-bot 22 (Bot and types; our own intake and dispatch)."""

import os

# Opt in to PTB's coming behaviour (durations as timedelta) instead of a deprecation warning on
# every 429; the sender accepts both. Must be set before telegram is imported.
os.environ.setdefault("PTB_TIMEDELTA", "1")
