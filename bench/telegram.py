"""Telegram benchmark: simulated users through a stand-in Bot API server over HTTP.

The stand-in server and the simulated users run in this process; each bot runs in a child
process that long-polls the stand-in, so each bot's peak memory is its own. The same
conversation is run by supportbot's Telegram channel (durable, encrypted, exactly once) and by
the textbook bot (PTB ConversationHandler, default settings, state in memory), and the ratios
are printed.

    python -m bench.telegram [--users 200] [--pace 1.0]

Scenario "no pacing": every user walks 7 steps (each waits for its reply); prints updates/s
and time to first reply. Scenario "paced": every user sends /start at the same moment and the
first reply is two messages with a `--pace` second pause between; prints time to first reply.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.auxil.botapi import TOKEN, BotApiStandIn

STEPS: list[tuple[str, str]] = [
    ("text", "/start"),
    ("tap", "begin"),
    ("text", "I'm 30"),
    ("tap", "england"),
    ("tap", "webcam"),
    ("tap", "next"),
    ("tap", "next"),
]


# --- the bots (child processes) ------------------------------------------------------------------


def _report_peak(path: str) -> None:
    with open(path, "w") as report:
        report.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def serve_ours(api: str, pace: float, report: str) -> None:
    from bot.app import channel_store, running_engine
    from bot.channels.telegram.channel import TelegramChannel
    from bot.channels.telegram.factory import make_bot
    from bot.channels.telegram.sender import Sender
    from bot.config import Settings
    from bot.engine import Pacing

    async def main() -> None:
        settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-tg-")))
        async with running_engine(settings) as engine:
            engine.pacing = Pacing(base=pace, per_char=0.0, most=pace)
            # The stand-in does not rate-limit; Telegram's limits would cap both bots alike.
            sender = Sender(global_rate=100_000, chat_rate=100_000, chat_burst=100_000)
            channel = TelegramChannel(
                engine,
                channel_store(engine),
                make_bot(TOKEN, api),
                pace=pace > 0,
                sender=sender,
            )
            await channel.start(poll=True, poll_timeout=10)
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()
            await channel.stop()

    asyncio.run(main())
    _report_peak(report)


def serve_textbook(api: str, pace: float, report: str) -> None:
    """The way the PTB docs teach it: one ConversationHandler, default Application settings."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import (
        Application,
        CallbackQueryHandler,
        CommandHandler,
        ContextTypes,
        ConversationHandler,
        MessageHandler,
        filters,
    )

    welcome, age, nation, what, advice = range(5)

    def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(t, callback_data=d)] for t, d in buttons]
        )

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None
        await update.message.reply_text("Hi. I'm a support bot.")
        if pace:
            await context.bot.send_chat_action(update.message.chat_id, "typing")
            await asyncio.sleep(pace)
        await update.message.reply_text("You're not alone.", reply_markup=keyboard(("OK", "begin")))
        return welcome

    def context_bot(update: Update):  # type: ignore[no-untyped-def]
        return update.get_bot()

    async def tapped(update: Update, text: str, markup: InlineKeyboardMarkup) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await query.answer()
        await context_bot(update).send_message(query.message.chat.id, text, reply_markup=markup)

    async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        await tapped(update, "How old are you?", keyboard(("25 to 34", "age_25_34")))
        return age

    async def got_age(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None
        await update.message.reply_text(
            "Where do you live?", reply_markup=keyboard(("England", "england"))
        )
        return nation

    async def got_nation(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        await tapped(update, "What happened?", keyboard(("Recorded", "webcam")))
        return what

    async def got_what(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        await tapped(update, "Thank you for telling me.", keyboard(("Go on", "next")))
        return advice

    async def next_step(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        await tapped(update, "Please don't pay.", keyboard(("Go on", "next")))
        return advice

    conversation = ConversationHandler(
        entry_points=[CommandHandler("start", start)],
        states={
            welcome: [CallbackQueryHandler(begin)],
            age: [MessageHandler(filters.TEXT, got_age)],
            nation: [CallbackQueryHandler(got_nation)],
            what: [CallbackQueryHandler(got_what)],
            advice: [CallbackQueryHandler(next_step)],
        },
        fallbacks=[],
        per_message=False,
    )
    application = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .build()
    )
    application.add_handler(conversation)
    application.run_polling(timeout=10, stop_signals=(signal.SIGTERM,))
    _report_peak(report)


# --- the users (this process) --------------------------------------------------------------------


@dataclass
class Result:
    updates: int
    seconds: float
    first_reply: list[float]
    peak_mb: float

    def row(self) -> tuple[float, float, float, float]:
        ordered = sorted(self.first_reply)
        return (
            self.updates / self.seconds,
            statistics.median(ordered) * 1000,
            ordered[int(len(ordered) * 0.99)] * 1000,
            self.peak_mb,
        )


async def _user(
    api: BotApiStandIn, chat: int, steps: list[tuple[str, str]], first: list[float]
) -> None:
    for kind, value in steps:
        seen = len(api.chat(chat))
        pushed = time.monotonic()
        if kind == "text":
            api.text(chat, value)
        else:
            api.tap(chat, value)
        await api.wait_for(chat, seen + 1)
        first.append(api.chat(chat)[seen].at - pushed)
        # The step is over when a message with buttons has arrived.
        while not api.chat(chat)[-1].keyboard:
            await api.wait_for(chat, len(api.chat(chat)) + 1)


async def run(role: str, users: int, pace: float, steps: list[tuple[str, str]]) -> Result:
    api = BotApiStandIn()
    await api.start()
    report = tempfile.mktemp(prefix="bench-tg-peak-")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.telegram",
        "--serve",
        role,
        "--api",
        api.base_url,
        "--pace",
        str(pace),
        "--report",
        report,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    while not api.method_calls("getUpdates"):
        await asyncio.sleep(0.05)
    first: list[float] = []
    started = time.monotonic()
    await asyncio.gather(*(_user(api, 10_000 + n, steps, first) for n in range(users)))
    seconds = time.monotonic() - started
    child.send_signal(signal.SIGTERM)
    await child.wait()
    await api.stop()
    with open(report) as peak:
        peak_mb = float(peak.read())
    os.unlink(report)
    return Result(users * len(steps), seconds, first, peak_mb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--pace", type=float, default=1.0)
    parser.add_argument("--serve", choices=["ours", "textbook"])
    parser.add_argument("--api")
    parser.add_argument("--report")
    parser.add_argument(
        "--scenario", choices=["all", "unpaced", "paced"], default="all", help="which to run"
    )
    parser.add_argument(
        "--bots", choices=["both", "ours"], default="both", help="skip the textbook bot"
    )
    args = parser.parse_args()
    if args.serve:
        serve = serve_ours if args.serve == "ours" else serve_textbook
        serve(args.api, args.pace, args.report)
        return
    print(
        f"telegram benchmark: {args.users} users, stand-in Bot API over HTTP on loopback, "
        f"{os.cpu_count()} cores"
    )
    header = (
        f"{'scenario':<22}{'bot':<10}{'updates/s':>10}{'p50 ms':>9}{'p99 ms':>10}{'peak MB':>9}"
    )
    scenarios = [
        ("unpaced", "no pacing, 7 steps", STEPS, 0.0),
        ("paced", f"paced {args.pace:g}s, /start", STEPS[:1], args.pace),
    ]
    for key, name, steps, pace in scenarios:
        if args.scenario not in ("all", key):
            continue
        print(header)
        rows = {}
        for role in ("ours", "textbook") if args.bots == "both" else ("ours",):
            rows[role] = asyncio.run(run(role, args.users, pace, steps)).row()
            rate, p50, p99, peak = rows[role]
            print(f"{name:<22}{role:<10}{rate:>10.0f}{p50:>9.1f}{p99:>10.1f}{peak:>9.0f}")
        if "textbook" not in rows:
            continue
        ours, textbook = rows["ours"], rows["textbook"]
        print(
            f"{'':<22}{'ratio':<10}{ours[0] / textbook[0]:>10.2f}{ours[1] / textbook[1]:>9.2f}"
            f"{ours[2] / textbook[2]:>10.3f}{ours[3] / textbook[3]:>9.2f}   (ours / textbook)"
        )


if __name__ == "__main__":
    main()
