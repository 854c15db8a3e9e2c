"""The Telegram channel: durable intake, one ordered worker per chat, paced flood-safe delivery.

Exactly once: every update is sealed into the channel inbox before it is acknowledged (the next
getUpdates offset, or the webhook's 200). A chat's worker then hands it to the engine, which
stores the decision and its effects (the outbox) in one transaction, delivers them, and records
progress after every message. After a crash, `recover()` finishes half-delivered replies from
where they stopped and re-runs updates that were kept but not handled (the engine knows which
ones it already decided, so nothing happens twice).

Crisis first, even when storage fails: if keeping an update or deciding it raises (a full disk,
a locked database), the crisis answer is computed without storage (`Engine.crisis_fallback`)
and sent at once, straight to the chat, not through the outbox; the update is then retried:
intake by the next getUpdates (or Telegram's webhook retry), handling in the chat's worker with
backoff (the chat's later updates wait behind it, so its order holds). While storage is down the
retries go on until it comes back; an update that fails for any other reason (something in it
that cannot be stored) is tried `POISON_ATTEMPTS` times, then the person is told kindly that it
could not be taken in, and the chat moves on (the update stays kept for the restart's
`recover`). Which updates
already had that answer is remembered in memory, so an in-process retry neither sends it twice
nor repeats its lines when the real decision is delivered. After a restart that memory is gone:
the crisis lines may then come twice, which is better than not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import RetryAfter, TelegramError

from bot.channels.telegram.sender import CRISIS, FIRST, LATER, TYPING, Sender, seconds_of
from bot.channels.telegram.translate import CHANNEL, Incoming, translate
from bot.console.desk import Desk, relayed
from bot.engine import Engine
from bot.evidence.sniff import MAX_FILE_BYTES
from bot.model import (
    Attachment,
    Choices,
    DeliverPack,
    Effect,
    End,
    EventKind,
    Inbound,
    Pause,
    Profile,
    RequestUpload,
    Say,
)
from bot.reading.text import clean
from bot.storage.base import ChannelStore
from bot.textkeys import (
    SYS_LEAVE_QUICKLY,
    SYS_NOT_KEPT,
    SYS_STORAGE_DOWN,
    TELEGRAM_COMMANDS,
    command_text,
)
from bot.turn import SYS_EXIT

log = logging.getLogger(__name__)
# The bot's menu of commands; each description is a text (sys.command_<name>) per language.
COMMANDS = TELEGRAM_COMMANDS
IDLE_WORKER_SECONDS = 30.0
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
RETRY_INTAKE_SECONDS = 1.0
REMEMBERED_FALLBACKS = 10_000  # updates whose crisis answer went out without storage
STORAGE_DOWN_NOTICE_SECONDS = 600.0  # one "something is wrong on my side" per chat this often
STORAGE_DOWN_AFTER_SECONDS = 1.0  # ...once an update has failed for this long
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # seconds between tries; then the last
POISON_ATTEMPTS = 3


class TelegramChannel:
    def _not_taken_in_text(self) -> str:
        """Said when an update failed every try for a reason other than storage being down."""
        return self.engine.renderer.text(self.engine.default_locale, SYS_NOT_KEPT, Profile())

    def __init__(
        self,
        engine: Engine,
        store: ChannelStore,
        bot: Bot,
        *,
        pace: bool = True,
        sender: Sender | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.engine = engine
        self.store = store
        self.bot = bot
        self.pace = pace
        self.sender = sender or Sender()
        self.sleep = sleep
        self.desk: Desk | None = None  # set when the moderator console runs
        self._queues: dict[int, asyncio.Queue[Incoming]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._polling: asyncio.Task[None] | None = None
        # update id -> the crisis lines sent for it without storage (see the module docstring).
        self._fallen_back: OrderedDict[int, frozenset[str]] = OrderedDict()
        self._told_down: OrderedDict[int, float] = OrderedDict()  # chat -> when told
        self._failing_since: OrderedDict[int, float] = OrderedDict()  # update -> first failure
        self.retry_delays = RETRY_DELAYS
        self._side_tasks: set[asyncio.Task[None]] = set()  # button answers (see `_handle`)

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, poll: bool = True, poll_timeout: int = 25) -> None:
        while True:
            try:
                await self.bot.initialize()  # getMe
                break
            except RetryAfter as exc:
                # Flood control at start-up is a wait, not a reason not to start (other
                # errors, such as a token Telegram rejects, still end the start).
                log.warning("getMe refused (RetryAfter); starting as soon as told")
                await asyncio.sleep(seconds_of(exc.retry_after))
        await self._set_commands()
        await self.recover()
        if poll:
            self._polling = asyncio.create_task(self._poll(poll_timeout), name="telegram-poll")

    async def stop(self) -> None:
        tasks = [
            t for t in (self._polling, *self._workers.values(), *self._side_tasks) if t is not None
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._polling = None
        self._workers.clear()
        self._queues.clear()
        await self.bot.shutdown()

    async def idle(self) -> None:
        """Wait until every chat's queued work is finished (for tests and benchmarks)."""
        while True:
            queues = list(self._queues.values())
            await asyncio.gather(*(queue.join() for queue in queues))
            if list(self._queues.values()) == queues and all(q.empty() for q in queues):
                return

    async def recover(self) -> None:
        """Finish replies a crash interrupted, then handle updates kept but not handled."""
        for entry in await self.store.outbox(CHANNEL):
            chat_id = int(entry.address)
            await self._deliver(
                chat_id, entry.conversation_id, entry.event_key, entry.effects, entry.delivered
            )
            await self.store.finish(CHANNEL, None, entry.event_key)
        for update_id, raw in await self.store.inbox_pending(CHANNEL):
            self._dispatch(update_id, raw)

    # --- intake ----------------------------------------------------------------------------------

    async def _poll(self, timeout: int) -> None:
        offset: int | None = None
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES
                )
            except RetryAfter as exc:
                # Flood control: the wait Telegram asks for, not our own (a 429 storm on
                # getUpdates, tests/test_storm_telegram.py, saw it asked again after 1 s of 2).
                log.warning("getUpdates refused (RetryAfter); retrying as told")
                await asyncio.sleep(seconds_of(exc.retry_after))
                continue
            except TelegramError as exc:
                log.warning("getUpdates failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            if not updates:
                continue
            raw = {u.update_id: json.dumps(u.to_dict()).encode() for u in updates}
            # One write keeps the whole batch; only then does the next call acknowledge it.
            try:
                kept = await self.store.inbox_put_many(CHANNEL, list(raw.items()))
            except Exception as exc:
                # Not acknowledged: the same updates come again with the next call.
                log.error("keeping updates failed (%s); retrying", type(exc).__name__)
                for update_id, body in raw.items():
                    await self._crisis_without_storage(update_id, self._translate(body))
                await asyncio.sleep(RETRY_INTAKE_SECONDS)
                continue
            for update_id in kept:
                self._dispatch(update_id, raw[update_id])
            offset = updates[-1].update_id + 1

    async def accept(self, update_id: int, raw: bytes) -> None:
        """Keep an update durably, then queue it for its chat (webhook and polling both).
        Raises if it could not be kept (the webhook then answers 500 and Telegram retries), after
        sending the crisis answer if the update needs one."""
        try:
            kept = await self.store.inbox_put_many(CHANNEL, [(update_id, raw)])
        except Exception:
            await self._crisis_without_storage(update_id, self._translate(raw))
            raise
        if kept:
            self._dispatch(update_id, raw)

    def _translate(self, raw: bytes) -> Incoming | None:
        try:
            return translate(Update.de_json(json.loads(raw), self.bot), self.engine.max_text_chars)
        except (ValueError, KeyError, TypeError):
            return None

    def _dispatch(self, update_id: int, raw: bytes) -> None:
        incoming = self._translate(raw)
        if incoming is None:
            asyncio.get_running_loop().create_task(self.store.inbox_done(CHANNEL, update_id))
            return
        queue = self._queues.setdefault(incoming.chat_id, asyncio.Queue())
        queue.put_nowait(incoming)
        worker = self._workers.get(incoming.chat_id)
        if worker is None or worker.done():
            self._workers[incoming.chat_id] = asyncio.create_task(
                self._worker(incoming.chat_id, queue)
            )

    async def _worker(self, chat_id: int, queue: asyncio.Queue[Incoming]) -> None:
        """One chat's updates, strictly in order; other chats run in their own workers. An update
        that fails is tried again here, with backoff, before the chat's next one; while it waits
        it no longer counts as queued work (`idle`), as it is kept in the inbox either way."""
        retry: Incoming | None = None
        attempts = 0
        while True:
            if retry is not None:
                await asyncio.sleep(self.retry_delays[min(attempts, len(self.retry_delays)) - 1])
                incoming, retry, counted = retry, None, False
            else:
                try:
                    incoming = await asyncio.wait_for(queue.get(), IDLE_WORKER_SECONDS)
                except TimeoutError:
                    if queue.empty():
                        self._workers.pop(chat_id, None)
                        self._queues.pop(chat_id, None)
                        return
                    continue
                attempts, counted = 0, True
            try:
                await self._handle(incoming)
            except Exception as exc:  # keep the chat's worker alive; the update stays kept
                attempts += 1
                # The type only: a traceback's message could carry what the person wrote.
                kind = type(exc).__name__
                if _storage_down(exc) or attempts < POISON_ATTEMPTS:
                    log.warning(
                        "update %d failed (%s, try %d); trying again",
                        incoming.update_id,
                        kind,
                        attempts,
                    )
                    retry = incoming
                else:
                    log.error(
                        "update %d failed %d times (%s); it is kept for a restart",
                        incoming.update_id,
                        attempts,
                        kind,
                    )
                    await self._not_taken_in(incoming)
            finally:
                if counted:
                    queue.task_done()

    async def _answer_tap(self, chat_id: int, callback_id: str) -> None:
        with contextlib.suppress(TelegramError):
            await self.sender.call(
                chat_id,
                partial(self.bot.answer_callback_query, callback_id),
                limited=False,
                priority=FIRST,
            )

    def _beside(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on its own (kept until done; cancelled by `stop`)."""
        task = asyncio.get_running_loop().create_task(work)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _not_taken_in(self, incoming: Incoming) -> None:
        chat_id = incoming.chat_id
        try:
            await self.sender.call(
                chat_id,
                partial(self.bot.send_message, chat_id, self._not_taken_in_text()),
                priority=FIRST,
            )
        except Exception as exc:  # the type only
            log.error("telling a chat its update failed did not work (%s)", type(exc).__name__)

    async def _handle(self, incoming: Incoming) -> None:
        chat_id = incoming.chat_id
        if incoming.callback_id is not None:
            # Beside the reply, not before it: the answer only stops the button's spinner, and a
            # 429 on it (waited out, as told) must not hold what the person is waiting for.
            self._beside(self._answer_tap(chat_id, incoming.callback_id))
        event = incoming.event
        cid = self.engine.conversation_id(event)
        theirs = [incoming.person_message_id] if incoming.person_message_id is not None else []
        try:
            if incoming.file is not None:
                event = await self._with_file(incoming)
            if (
                self.desk is not None
                and relayed(event, self.engine.command_in(event))
                and await self._relay(incoming, event, cid, theirs)
            ):
                return
            outcome = await self.engine.handle(event, durable=True)
        except Exception:
            # Nothing was decided (or kept): the crisis answer goes out now, without storage;
            # the update stays in the inbox and is retried on restart.
            await self._crisis_without_storage(incoming.update_id, incoming)
            raise
        key = f"{event.channel}:{event.event_id}"
        said = self._fallen_back.pop(incoming.update_id, frozenset())
        if outcome.duplicate:
            # Decided before (a retry after a failure mid-delivery): finish its stored reply
            # from where it stopped.
            for entry in await self.store.outbox(CHANNEL):
                if entry.event_key == key:
                    await self._deliver(
                        chat_id, cid, key, entry.effects, entry.delivered, theirs, said
                    )
                    theirs = []
        elif outcome.effects:
            await self._deliver(chat_id, cid, key, outcome.effects, 0, theirs, said)
        elif theirs:
            await self.store.messages_add(cid, theirs)
        # One write releases both the delivered outbox entry and the handled update.
        await self.store.finish(CHANNEL, incoming.update_id, key)

    async def _relay(self, incoming: Incoming, event: Inbound, cid: str, theirs: list[int]) -> bool:
        """While a moderator owns the conversation the person's words go to them, not the bot.
        False if nobody owns it (then the bot answers). A chat's updates are handled one at a
        time, so no other message of theirs can slip between this check and the relay."""
        if self.desk is None or not self.desk.owned(cid):
            return False
        words = clean(event.text) if event.kind is EventKind.TEXT else f"(tapped {event.text})"
        await self.desk.from_person(cid, words, f"{CHANNEL}:{event.event_id}")
        if theirs:
            await self.store.messages_add(cid, theirs)
        if self.engine.crisis_in(event):
            # Safety first even with a person present: the crisis lines go out at once. The
            # caption, edit or /start words are passed on as text, so the engine reads them.
            words = " ".join(part for part in (event.text, event.payload) if part)
            crisis = Inbound(
                CHANNEL, event.user_key, f"{event.event_id}:crisis", EventKind.TEXT, words
            )
            outcome = await self.engine.handle(crisis, durable=True)
            key = f"{CHANNEL}:{crisis.event_id}"
            said = self._fallen_back.pop(incoming.update_id, frozenset())
            if outcome.effects:
                await self._deliver(incoming.chat_id, cid, key, outcome.effects, 0, said=said)
            # Delivered: should a later write fail, the fallback must not send it all again.
            self._remember(incoming.update_id, _said(outcome.effects))
            await self.store.finish(CHANNEL, None, key)
        await self.store.inbox_done(CHANNEL, incoming.update_id)
        self._fallen_back.pop(incoming.update_id, None)
        return True

    async def deliver(self, conversation_id: str, text: str, kind: str) -> None:
        """A moderator's message (or a notice about them) to the person's chat."""
        conversation = await self.engine.repository.load(conversation_id)
        if conversation is None or not conversation.address:
            return
        chat_id = int(conversation.address)
        message = await self.sender.call(chat_id, partial(self.bot.send_message, chat_id, text))
        if message is not None:
            await self.store.messages_add(conversation_id, [message.message_id])

    async def _with_file(self, incoming: Incoming) -> Inbound:
        ref = incoming.file
        assert ref is not None
        if ref.size > MAX_FILE_BYTES:
            data = b""  # never downloaded; the engine answers "too big" from the declared size
        else:
            file = await self.sender.call(
                incoming.chat_id, lambda: self.bot.get_file(ref.file_id), limited=False
            )
            data = bytes(await file.download_as_bytearray())
        event = incoming.event
        attachment = Attachment(ref.name, data, declared_size=max(ref.size, len(data)))
        # The caption stays with the file: the engine reads it (crisis first).
        return dataclasses.replace(event, attachment=attachment)

    async def _set_commands(self) -> None:
        """The command menu in the default language, and in each other offered language for
        people whose Telegram is set to it (Telegram picks by the person's language_code)."""
        engine = self.engine
        languages = engine.readers.languages
        menus: list[tuple[str, str | None]] = [(engine.default_locale, None)]
        for locale in languages.offered:
            code = languages.code_of(locale)
            if locale != engine.default_locale and code is not None:
                menus.append((locale, code))
        for locale, code in menus:
            commands = [
                BotCommand(name, engine.renderer.text(locale, command_text(name), Profile()))
                for name in COMMANDS
            ]

            async def call(commands: list[BotCommand] = commands, code: str | None = code) -> bool:
                return await self.bot.set_my_commands(commands, language_code=code)

            await self.sender.call(0, call, limited=False)

    # --- crisis without storage --------------------------------------------------------------

    async def _crisis_without_storage(self, update_id: int, incoming: Incoming | None) -> None:
        """Send the crisis answer for an update that could not be kept or decided, once."""
        if incoming is None or update_id in self._fallen_back:
            return
        try:
            effects = self.engine.crisis_fallback(incoming.event)
        except Exception as exc:  # the type only: never the person's words
            log.error("crisis fallback failed (%s)", type(exc).__name__)
            return
        lines = [e.text for e in effects if isinstance(e, Say)]
        if not lines:
            await self._tell_storage_down(update_id, incoming)
            return
        self._remember(update_id, frozenset(lines))
        chat_id = incoming.chat_id
        log.warning("update %d: crisis answer sent without storage", update_id)
        for text in lines:
            # Straight to the chat, highest priority: there is no outbox to come back to.
            with contextlib.suppress(TelegramError):
                await self.sender.call(
                    chat_id, partial(self.bot.send_message, chat_id, text), priority=CRISIS
                )

    async def _tell_storage_down(self, update_id: int, incoming: Incoming) -> None:
        """Not a crisis, but nothing could be kept for a while: a kind word, once per update and
        at most once per chat every STORAGE_DOWN_NOTICE_SECONDS, so nobody waits in silence.
        (Their message is kept by Telegram, or in the inbox, and answered when storage is back.)"""
        now = time.monotonic()
        since = self._failing_since.setdefault(update_id, now)
        while len(self._failing_since) > REMEMBERED_FALLBACKS:
            self._failing_since.popitem(last=False)
        if now - since < STORAGE_DOWN_AFTER_SECONDS:
            return  # a passing hiccup (a busy database) is retried within moments: no alarm
        self._remember(update_id, frozenset())
        told = self._told_down.get(incoming.chat_id)
        if told is not None and now - told < STORAGE_DOWN_NOTICE_SECONDS:
            return
        self._told_down[incoming.chat_id] = now
        while len(self._told_down) > REMEMBERED_FALLBACKS:
            self._told_down.popitem(last=False)
        locale = self.engine.readers.languages.from_hint(incoming.event.locale)
        text = self.engine.renderer.text(
            locale or self.engine.default_locale, SYS_STORAGE_DOWN, Profile()
        )
        with contextlib.suppress(TelegramError):
            await self.sender.call(
                incoming.chat_id, partial(self.bot.send_message, incoming.chat_id, text)
            )

    def _remember(self, update_id: int, said: frozenset[str]) -> None:
        self._fallen_back[update_id] = said
        while len(self._fallen_back) > REMEMBERED_FALLBACKS:
            self._fallen_back.popitem(last=False)

    # --- delivery --------------------------------------------------------------------------------

    async def _deliver(
        self,
        chat_id: int,
        cid: str,
        key: str,
        effects: tuple[Effect, ...],
        skip: int,
        theirs: list[int] | None = None,
        said: frozenset[str] = frozenset(),
    ) -> None:
        """Send effects in order; `skip` messages were already delivered before a crash.
        `theirs`: the person's message that led here (kept for a later quick exit).
        `said`: texts the chat already got for this update (the crisis answer sent without
        storage): counted as delivered, not sent again."""
        if any(isinstance(e, End) and e.forget for e in effects):
            await self._clear_chat(chat_id, cid, theirs or [])
            for effect in effects:  # one neutral line is all that is left
                if isinstance(effect, Say):
                    await self.sender.call(
                        chat_id, partial(self.bot.send_message, chat_id, effect.text)
                    )
            return
        leave = self.engine.renderer.text(self.engine.default_locale, SYS_LEAVE_QUICKLY, Profile())
        messages = _messages(effects, leave)  # `leave`: for effects kept before Choices had it
        sent = 0
        for text, markup, pause, document, crisis in messages:
            if sent < skip:
                sent += 1
                continue
            if text in said and markup is None and not document:
                sent += 1
                await self.store.outbox_progress(key, sent, cid, [])
                continue
            if pause and self.pace:
                with contextlib.suppress(TelegramError):
                    await self.sender.call(
                        chat_id,
                        lambda: self.bot.send_chat_action(chat_id, "typing"),
                        limited=False,
                        priority=TYPING,
                    )
                await self.sleep(pause)
            if document:
                message = await self._send_pack(chat_id, cid)
            else:
                message = await self.sender.call(
                    chat_id,
                    partial(self.bot.send_message, chat_id, text, reply_markup=markup),
                    priority=CRISIS if crisis else FIRST if sent == 0 else LATER,
                )
            sent += 1
            ids = [message.message_id] if message is not None else []
            if theirs:
                ids, theirs = [*theirs, *ids], None
            # Recorded before the next message: after a crash, nothing already seen is resent.
            await self.store.outbox_progress(key, sent, cid, ids)
        if theirs:
            await self.store.messages_add(cid, theirs)

    async def _send_pack(self, chat_id: int, cid: str):  # type: ignore[no-untyped-def]
        pack = await self.engine.export_pack(cid)
        if pack is None:
            return None
        return await self.sender.call(
            chat_id,
            lambda: self.bot.send_document(
                chat_id, io.BytesIO(pack), filename="evidence-pack.zip", protect_content=True
            ),
        )

    async def _clear_chat(self, chat_id: int, cid: str, theirs: list[int]) -> None:
        ids = sorted({*await self.store.messages_take(cid), *theirs})
        for start in range(0, len(ids), 100):  # deleteMessages takes up to 100 ids
            chunk = ids[start : start + 100]
            with contextlib.suppress(TelegramError):  # older than 48 h: Telegram refuses
                await self.sender.call(
                    chat_id, partial(self.bot.delete_messages, chat_id, chunk), limited=False
                )


def _storage_down(exc: BaseException) -> bool:
    """The database or the disk failed (full, locked, I/O): trying again later will work."""
    return isinstance(exc, sqlite3.OperationalError | OSError)


def _said(effects: tuple[Effect, ...]) -> frozenset[str]:
    return frozenset(e.text for e in effects if isinstance(e, Say))


def _keyboard(choices: Choices, leave: str) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(o.label, callback_data=o.id)] for o in choices.options]
    rows.append([InlineKeyboardButton(choices.leave or leave, callback_data=SYS_EXIT)])
    return InlineKeyboardMarkup(rows)


def _messages(
    effects: tuple[Effect, ...], leave: str
) -> list[tuple[str, InlineKeyboardMarkup | None, float, bool, bool]]:
    """Effects as Telegram messages: (text, keyboard, pause before, is the evidence pack, is a
    crisis line). A keyboard rides on the message just before it; each Pause delays the next
    message."""
    out: list[tuple[str, InlineKeyboardMarkup | None, float, bool, bool]] = []
    pause = 0.0
    for effect in effects:
        if isinstance(effect, Say | RequestUpload):
            text = effect.text if isinstance(effect, Say) else effect.prompt
            crisis = isinstance(effect, Say) and effect.kind == "crisis"
            out.append((text, None, pause, False, crisis))
            pause = 0.0
        elif isinstance(effect, Pause):
            pause += effect.seconds
        elif isinstance(effect, Choices):
            if out and out[-1][1] is None and not out[-1][3]:
                text, _, before, _, crisis = out[-1]
                out[-1] = (text, _keyboard(effect, leave), before, False, crisis)
            else:
                out.append(("…", _keyboard(effect, leave), pause, False, False))
                pause = 0.0
        elif isinstance(effect, DeliverPack):
            out.append(("", None, pause, True, False))
            pause = 0.0
    return out
