"""The widget's WebSocket: handshake, durable replies, resume, uploads, quick exit.

Nothing lost, nothing twice: each thing the widget sends carries its own id, and the engine
stores the decision with its effects in the outbox in one transaction (a resent id is a
duplicate). The effects then become numbered frames in the conversation's sealed log, in the
same write that releases the outbox entry; the live socket gets them at once. A widget that
reconnects says which number it saw last and receives the rest, so a dropped connection or a
restarted server loses and repeats nothing.

Two crash windows need care (the widget crash drill, tests/test_drill_widget.py, found both):
- A new session's welcome is decided and logged, then the session stored, then its token sent.
  (Before, the session was stored and its token sent first: a crash before the welcome was
  decided left a session with no conversation, which the start-up purge deletes as left over
  from an erasure, so the widget's resume was refused and the person started again from
  nothing; a purge running between the two writes did the same without any crash.)
- A crash after a decision was stored but before its frames were logged leaves the reply in the
  outbox; what the person sent (the "you" frame) is stored nowhere else. `recover` keeps such a
  reply until the widget resends the event (it resends everything unacknowledged), then logs
  [what they sent, *the reply] in their order. A widget that has nothing to resend (a reloaded
  page) gets the reply alone, RESEND_GRACE_SECONDS after it resumes, or before anything newer.

Crisis first, even when storage fails: if deciding (and so storing) what the person sent raises,
the crisis answer is computed without storage (`Engine.crisis_fallback`) and sent to the socket
at once, unnumbered (it is not in the log). The socket then closes as before; the widget
reconnects and resends what was not acknowledged. Which events already had that answer is kept
in memory, so a resend neither sends it again nor, once the decision succeeds, shows its lines
twice live (they are still logged, so a reloaded page shows them). After a restart a resend may
repeat the crisis lines: better twice than not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from bot.channels.web.frames import Frame, client_id, frames_for
from bot.channels.web.limits import Budget, SlidingWindow, WebLimits, address_key
from bot.channels.web.proof import b64decode, connect_message, forget_message, verify
from bot.channels.web.store import WebSession, WebStore
from bot.console.desk import Desk, relayed
from bot.console.folding import source_id
from bot.engine import Engine
from bot.evidence.sniff import MAX_FILE_BYTES
from bot.model import Attachment, End, EventKind, Inbound, OutboxEntry, Profile, Say
from bot.predicates import young
from bot.reading.text import clean
from bot.textkeys import SYS_LIMITED
from bot.turn import SYS_EXIT

log = logging.getLogger(__name__)
CHANNEL = "web"
HELLO_SECONDS = 15.0
MAX_TEXT_FRAME = 64 * 1024  # JSON frames; files come in binary chunks of at most CHUNK_BYTES
CHUNK_BYTES = 256 * 1024
MAX_TOKEN_CHARS = 128
MAX_NAME_CHARS = 200
MAX_SHOWN_CHARS = 6000
CLOSE_DENIED = 4401
CLOSE_REPLACED = 4409
CLOSE_FORGOTTEN = 4000
CLOSE_LIMITED = 4429
LIMITED_FRAMES = 20  # messages a limited socket is answered before it closes
# For a client that started too many sessions; the crisis lines open now follow it.
IDLE_SECONDS = 1800.0  # a silent socket is closed; the widget reconnects when it needs to
UPLOADING_BUDGET = 256 * 1024 * 1024  # bytes of files being received at once, whole server
PACK_EVERY_SECONDS = 10.0  # per conversation, across reconnects
PACKS_AT_ONCE = 2  # packs being built at once, whole server (each is built in memory)
REMEMBERED_FALLBACKS = 10_000  # events whose crisis answer went out without storage
RESEND_GRACE_SECONDS = 3.0  # after a resume, how long a reply decided before a crash waits


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Upload:
    id: str
    name: str
    size: int
    address: str
    data: bytearray = field(default_factory=bytearray)


@dataclass
class _Link:
    """One open widget: the socket, its session and any file half received."""

    websocket: WebSocket
    session: WebSession
    address: str = ""
    upload: _Upload | None = None


class WebChannel:
    def __init__(
        self,
        engine: Engine,
        store: WebStore,
        *,
        origins: Iterable[str],
        desk: Desk | None = None,
        limits: WebLimits | None = None,
    ) -> None:
        if limits is None:
            from bot.config import Settings

            limits = WebLimits.from_settings(Settings())
        self.limits = limits
        self._new_sessions = SlidingWindow(
            limits.sessions_per_address, limits.sessions_window_seconds
        )
        self._openings = SlidingWindow(limits.connections_per_minute, 60.0)
        self._upload_space = Budget(limits.upload_bytes_per_address)
        self._last_pack: OrderedDict[str, float] = OrderedDict()  # conversation id -> when
        self._packing = asyncio.Semaphore(PACKS_AT_ONCE)
        self.engine = engine
        self.desk = desk
        self.store = store
        self.origins = frozenset(o.rstrip("/") for o in origins)
        # The support directory's numbers: the widget turns only these into tel:/sms: links.
        self.numbers = service_numbers(engine)
        self._live: dict[str, _Link] = {}  # conversation id -> its open socket
        self._uploading = 0  # bytes promised by uploads in progress (a memory budget)
        # One lock per conversation keeps its frame numbers in the order they are sent.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # event key -> the crisis lines sent for it without storage (see the module docstring).
        self._fallen_back: OrderedDict[str, frozenset[str]] = OrderedDict()
        # conversation id -> replies decided before a crash, waiting to be logged (`recover`).
        self._unlogged: dict[str, list[OutboxEntry]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    @property
    def connections(self) -> int:
        return len(self._live)

    def origin_allowed(self, origin: str) -> bool:
        return origin.rstrip("/") in self.origins

    async def recover(self) -> None:
        """Replies decided before a crash but not yet logged. The reply to something the widget
        sent waits for the widget's resend (`_unlogged`): what the person sent is logged only
        with the reply, and is in no stored decision, so only the resend can put it back in
        its place, before the reply. Anything else (a welcome, a crisis answer given while a
        moderator had the conversation) is logged now."""
        for entry in await self.store.repository.outbox(CHANNEL):
            if any(isinstance(e, End) and e.forget for e in entry.effects):
                await self.store.repository.finish(CHANNEL, None, entry.event_key)
            elif _resent(entry.event_key):
                self._unlogged.setdefault(entry.conversation_id, []).append(entry)
            else:
                await self.store.append(
                    entry.conversation_id, frames_for(entry.effects), release=entry.event_key
                )

    async def _proven(
        self, token: str, origin: str, signature: bytes | None, message: str
    ) -> WebSession | None:
        """The session for `token`, if this request also proves it: the same origin, and a
        signature over `message` by the key that started the session. The token alone opens
        nothing."""
        if len(token) > MAX_TOKEN_CHARS:
            return None
        found = await self.store.find(token_hash(token))
        if (
            found is None
            or found.origin != origin.rstrip("/")
            or not verify(found.public_key, signature, message)
        ):
            return None
        return found

    # --- frames out --------------------------------------------------------------------------

    async def post(
        self, conversation_id: str, frames: list[Frame], *, release: str | None = None
    ) -> None:
        """Log frames for a conversation and send them to its widget if one is open."""
        async with self._lock(conversation_id):
            await self._log_unlogged(conversation_id)
            numbered = await self.store.append(conversation_id, frames, release=release)
            link = self._live.get(conversation_id)
            if link is not None:
                await self._send_numbered(link, numbered)

    async def _send_live(self, link: _Link, numbered: list[tuple[int, Frame]]) -> None:
        """To the conversation's socket now: a reconnect may have replaced `link` meanwhile."""
        await self._send_numbered(self._live.get(link.session.conversation_id, link), numbered)

    async def _send_numbered(self, link: _Link, numbered: list[tuple[int, Frame]]) -> None:
        for seq, frame in numbered:
            if not await _send(link.websocket, {**frame, "seq": seq}):
                return

    # --- the socket ----------------------------------------------------------------------------

    async def serve(self, websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin", "")
        address = address_key(websocket.client.host if websocket.client else None)
        if not self.origin_allowed(origin) or not self._openings.allow(address):
            # Closing before accepting answers the handshake with 403: the cheapest refusal,
            # for another origin, or a flood of sockets from one address.
            await websocket.close(code=1008)
            return
        await websocket.accept()
        nonce = secrets.token_urlsafe(24)
        await websocket.send_json({"t": "hello", "nonce": nonce, "numbers": self.numbers})
        link: _Link | None = None
        try:
            first = await asyncio.wait_for(_receive_frame(websocket), HELLO_SECONDS)
            if (
                isinstance(first, dict)
                and first.get("t") == "new"
                and _signed_new(first, nonce)  # only real new sessions count
                and not self._new_sessions.allow(address)
            ):
                await self._limited(websocket)
                return
            link = await self._open(websocket, first, nonce, origin, address)
            if link is None:
                await _send(websocket, {"t": "denied"})
                await websocket.close(code=CLOSE_DENIED)
                return
            link.address = address
            await self._conversation(link)
        except (WebSocketDisconnect, TimeoutError):
            pass
        except Exception as exc:  # the type only: a message could carry what the person wrote
            log.error("widget connection failed (%s)", type(exc).__name__)
            with contextlib.suppress(Exception):
                await websocket.close(code=1011)
        finally:
            if link is not None:
                self._drop_upload(link)
                if self._live.get(link.session.conversation_id) is link:
                    del self._live[link.session.conversation_id]

    def _note_source(self, conversation_id: str, address: str) -> None:
        """Tell the console where this conversation connects from: a keyed hash, never the
        address (urgent cases from one source are folded into one alert)."""
        if self.desk is not None:
            self.desk.note_source(conversation_id, source_id(self.engine.keyring, address))

    async def _open(
        self,
        websocket: WebSocket,
        first: Frame | bytes | None,
        nonce: str,
        origin: str,
        address: str,
    ) -> _Link | None:
        if not isinstance(first, dict):
            return None
        signature = b64decode(first.get("sig"))
        if first.get("t") == "new":
            key = b64decode(first.get("key"))
            if key is None or not verify(key, signature, connect_message(nonce)):
                return None
            token = secrets.token_urlsafe(32)
            session_id = secrets.token_urlsafe(16)
            cid = self.engine.keyring.conversation_id(f"{CHANNEL}:{session_id}")
            session = WebSession(session_id, cid, key, origin.rstrip("/"))
            link = _Link(websocket, session)
            payload = first.get("start")
            hint = first.get("locale")  # the page's data-locale, as the widget resolved it
            start = Inbound(
                CHANNEL,
                session_id,
                f"{session_id}:start",
                EventKind.START,
                payload=payload[:64] if isinstance(payload, str) else "",
                locale=hint[:35] if isinstance(hint, str) else "",
            )
            # Before the start is decided: it can carry crisis words, and the console folds
            # urgent cases by where they come from.
            self._note_source(cid, address)
            # The welcome is decided and logged, then the session kept, then its token sent: a
            # crash before the token goes out leaves the widget without one, so it simply starts
            # again; once it has one, its welcome is in the log for the resume (nothing re-runs
            # a lost start). The conversation exists before its session does: the purge deletes
            # sessions whose conversation does not exist (as after an erasure).
            async with self._lock(cid):
                welcome = await self._decide(link, start, None)
                await self.store.create(token_hash(token), session)
                self._live[cid] = link
                await websocket.send_json({"t": "session", "token": token})
                await self._send_numbered(link, welcome or [])
            return link
        if first.get("t") == "resume":
            given = first.get("token")
            if not isinstance(given, str):
                return None
            found = await self._proven(given, origin, signature, connect_message(nonce))
            if found is None:
                return None
            after = first.get("after")
            after = after if isinstance(after, int) and after >= 0 else 0
            link = _Link(websocket, found)
            self._note_source(found.conversation_id, address)
            async with self._lock(found.conversation_id):
                previous = self._live.get(found.conversation_id)
                self._live[found.conversation_id] = link
                if previous is not None:
                    with contextlib.suppress(Exception):
                        await previous.websocket.close(code=CLOSE_REPLACED)
                await websocket.send_json({"t": "resumed"})
                await self._send_numbered(
                    link, await self.store.after(found.conversation_id, after)
                )
            self._log_soon(found.conversation_id)
            await self.store.touch(token_hash(given))
            return link
        return None

    async def _conversation(self, link: _Link) -> None:
        websocket = link.websocket
        while True:
            waiting = link.upload
            try:
                frame = await asyncio.wait_for(
                    _receive_frame(websocket),
                    IDLE_SECONDS if waiting is None else self.limits.upload_chunk_seconds,
                )
            except TimeoutError:
                if waiting is None:
                    raise
                # A file that stopped arriving gives its reserved space back.
                self._drop_upload(link)
                await _send(websocket, {"t": "error", "code": "upload_timeout", "id": waiting.id})
                continue
            if frame is None:
                await _send(websocket, {"t": "error", "code": "bad_frame"})
                continue
            if isinstance(frame, bytes):
                if await self._chunk(link, frame) is False:
                    await _send(websocket, {"t": "error", "code": "unexpected_data"})
                continue
            kind = frame.get("t")
            if kind == "ping":
                await _send(websocket, {"t": "pong"})
                continue
            if kind == "getpack":
                if self._pack_due(link.session.conversation_id):  # each is built in memory
                    await self._send_pack(link)
                continue
            cid = client_id(frame)
            if cid is None:
                await _send(websocket, {"t": "error", "code": "bad_frame"})
                continue
            session_id = link.session.session_id
            event_id = f"{session_id}:{cid}"
            # What the person sent is logged too (sealed), so a reloaded page shows both sides.
            you: Frame | None = None
            if kind == "text" and isinstance(frame.get("text"), str):
                event = Inbound(CHANNEL, session_id, event_id, EventKind.TEXT, frame["text"])
                you = {"t": "you", "id": cid, "text": frame["text"][:MAX_SHOWN_CHARS]}
            elif kind == "choice" and isinstance(frame.get("option"), str):
                event = Inbound(CHANNEL, session_id, event_id, EventKind.CHOICE, frame["option"])
                label = frame.get("label")
                shown = label[:MAX_NAME_CHARS] if isinstance(label, str) else ""
                you = {"t": "you", "id": cid, "text": shown}
            elif kind == "exit":
                event = Inbound(CHANNEL, session_id, event_id, EventKind.CHOICE, SYS_EXIT)
            elif kind == "file":
                await self._file(link, cid, frame)
                continue
            else:
                await _send(websocket, {"t": "error", "code": "bad_frame"})
                continue
            if (
                self.desk is not None
                and relayed(event, self.engine.command_in(event))
                and await self._relay(link, event, cid, you)
            ):
                continue
            await self._handle(link, event, cid, you)

    async def _relay(self, link: _Link, event: Inbound, cid: str, you: Frame | None) -> bool:
        """While a moderator owns the conversation the person's words go to them, not the bot.
        False if nobody owns it (then the bot answers)."""
        desk = self.desk
        assert desk is not None
        conversation_id = link.session.conversation_id
        words = clean(str(you.get("text", ""))) if you else ""
        async with self._lock(conversation_id):
            # Decided under the lock, so a claim or release in between can't split a message.
            if not desk.owned(conversation_id):
                return False
            await self._log_unlogged(conversation_id)
            key = f"{CHANNEL}:{event.event_id}"
            if await desk.from_person(conversation_id, words, key) and you is not None:
                await self._send_live(link, await self.store.append(conversation_id, [you]))
        if self.engine.crisis_in(event):
            # Safety first even with a person present: the crisis lines go out at once.
            words = " ".join(part for part in (event.text, event.payload) if part)
            crisis = Inbound(
                CHANNEL, event.user_key, f"{event.event_id}:crisis", EventKind.TEXT, words
            )
            await self._handle(link, crisis, None, None)
        await _send(link.websocket, {"t": "ack", "id": cid})
        return True

    async def deliver(self, conversation_id: str, text: str, kind: str) -> None:
        """A moderator's message (or a notice about them) to the person's widget."""
        await self.post(conversation_id, [{"t": "say", "text": text, "kind": kind, "pause": 0}])

    async def _file(self, link: _Link, cid: str, frame: Frame) -> None:
        size, name = frame.get("size"), frame.get("name")
        if not isinstance(size, int) or size < 0 or not isinstance(name, str):
            await _send(link.websocket, {"t": "error", "code": "bad_frame"})
            return
        name = name[:MAX_NAME_CHARS]
        if size == 0 or size > MAX_FILE_BYTES:
            # Never read: the engine answers from the declared size.
            await self._handle_upload(link, cid, Attachment(name, b"", declared_size=size))
            return
        self._drop_upload(link)
        # Space is reserved only when the bot has asked for evidence, so idle sockets that
        # declare files elsewhere hold nothing; and per address, so one client can't take it all.
        if not await self._asked_for_files(link.session.conversation_id):
            await _send(link.websocket, {"t": "error", "code": "not_now", "id": cid})
            return
        if self._uploading + size > UPLOADING_BUDGET or not self._upload_space.reserve(
            link.address, size
        ):
            await _send(link.websocket, {"t": "error", "code": "busy", "id": cid})
            return
        self._uploading += size
        link.upload = _Upload(cid, name, size, link.address)

    async def _asked_for_files(self, conversation_id: str) -> bool:
        """Whether the conversation is at a step that asks for files (never for under-18s)."""
        conversation = await self.engine.repository.load(conversation_id)
        if conversation is None:
            return False
        try:
            spec = self.engine.flows[conversation.flow].state(conversation.state)
        except (KeyError, ValueError):
            return False
        return bool(spec.upload and spec.collect) and not young(conversation.profile)

    def _drop_upload(self, link: _Link) -> None:
        if link.upload is not None:
            self._uploading -= link.upload.size
            self._upload_space.release(link.upload.address, link.upload.size)
            link.upload = None

    def _pack_due(self, conversation_id: str) -> bool:
        """At most one pack per conversation every PACK_EVERY_SECONDS, whichever socket asks."""
        now = asyncio.get_running_loop().time()
        while self._last_pack:
            oldest, at = next(iter(self._last_pack.items()))
            if now - at < PACK_EVERY_SECONDS:
                break
            del self._last_pack[oldest]
        if conversation_id in self._last_pack:
            return False
        self._last_pack[conversation_id] = now
        return True

    async def _limited(self, websocket: WebSocket) -> None:
        """Too many new sessions from this address: nothing is stored and no case is opened,
        but the person is answered kindly, and crisis words still get the crisis answer."""
        await _send(websocket, {"t": "limited"})
        await _send(websocket, {**self._limited_say(), "seq": 0})
        for _ in range(LIMITED_FRAMES):
            frame = await asyncio.wait_for(_receive_frame(websocket), HELLO_SECONDS * 4)
            if not isinstance(frame, dict):
                continue
            if frame.get("t") == "ping":
                await _send(websocket, {"t": "pong"})
                continue
            text = frame.get("text")
            cid = client_id(frame)
            if frame.get("t") != "text" or not isinstance(text, str) or cid is None:
                continue
            words = text[: self.engine.max_text_chars]  # read as the engine would, no further
            event = Inbound(CHANNEL, "limited", f"limited:{cid}", EventKind.TEXT, words)
            try:
                effects = self.engine.crisis_fallback(event)
            except Exception as exc:  # the type only: never the person's words
                log.error("crisis check failed (%s)", type(exc).__name__)
                effects = ()
            frames = frames_for(effects) if effects else [self._limited_say()]
            for out in frames:
                await _send(websocket, {**out, "pause": 0, "seq": 0})
            await _send(websocket, {"t": "ack", "id": cid})
        await websocket.close(code=CLOSE_LIMITED)

    def _limited_say(self) -> Frame:
        locale = self.engine.default_locale
        lines = self.engine.presenter.lines(
            ("crisis",),
            locale,
            Profile(),
            self.engine.clock(),
            open_only=True,
            limit=2,
        )
        return {
            "t": "say",
            "text": "\n".join([self.engine.renderer.text(locale, SYS_LIMITED, Profile()), *lines]),
            "kind": "notice",
            "pause": 0,
        }

    async def _chunk(self, link: _Link, data: bytes) -> bool:
        upload = link.upload
        if upload is None:
            return False
        if len(upload.data) + len(data) > upload.size:
            # More than it said: never buffered, answered as too big.
            self._drop_upload(link)
            attachment = Attachment(upload.name, b"", declared_size=len(upload.data) + len(data))
            await self._handle_upload(link, upload.id, attachment)
            return True
        upload.data += data
        if len(upload.data) < upload.size:
            return True
        self._drop_upload(link)
        received = bytes(upload.data)
        if len(received) > upload.size:  # more than it said: never trusted, answered as too big
            attachment = Attachment(upload.name, b"", declared_size=len(received))
        else:
            attachment = Attachment(upload.name, received, declared_size=upload.size)
        await self._handle_upload(link, upload.id, attachment)
        return True

    async def _handle_upload(self, link: _Link, cid: str, attachment: Attachment) -> None:
        session_id = link.session.session_id
        event = Inbound(
            CHANNEL, session_id, f"{session_id}:{cid}", EventKind.UPLOAD, attachment=attachment
        )
        you = {"t": "you", "id": cid, "file": attachment.name}
        await self._handle(link, event, cid, you)

    async def _handle(
        self,
        link: _Link,
        event: Inbound,
        cid: str | None,
        you: Frame | None,
    ) -> None:
        """Decide an event, log what it shows and send it to the open socket, then acknowledge
        it."""
        async with self._lock(link.session.conversation_id):
            numbered = await self._decide(link, event, you)
            if numbered is None:
                return  # forgotten: the socket is closed and nothing is acknowledged
            await self._send_live(link, numbered)
        if cid is not None:
            await _send(link.websocket, {"t": "ack", "id": cid})

    async def _decide(
        self, link: _Link, event: Inbound, you: Frame | None
    ) -> list[tuple[int, Frame]] | None:
        """Under the conversation's lock: decide, then log [what they sent, *the reply]. None if
        the conversation was forgotten (its socket is then closed)."""
        conversation_id = link.session.conversation_id
        key = f"{CHANNEL}:{event.event_id}"
        # Replies decided before a crash come first, in their order (see `recover`).
        await self._log_unlogged(conversation_id, until=key)
        try:
            outcome = await self.engine.handle(event, durable=True)
        except Exception:
            await self._crisis_without_storage(link, event)
            raise  # the socket closes; the widget resends what was not acknowledged
        said = self._fallen_back.pop(key, frozenset())
        effects = outcome.effects
        if any(isinstance(e, End) and e.forget for e in effects):
            # Everything about the conversation is gone, its session and log with it:
            # the neutral line goes out unnumbered and the socket closes.
            self._unlogged.pop(conversation_id, None)
            await self.store.repository.finish(CHANNEL, None, key)
            for frame in frames_for(effects):
                await _send(link.websocket, {**frame, "seq": 0})
            self._live.pop(conversation_id, None)
            with contextlib.suppress(Exception):
                await link.websocket.close(code=CLOSE_FORGOTTEN)
            return None
        if outcome.duplicate:
            # Decided before. Usually its frames are logged already (the answer got out, the
            # acknowledgement did not); if a crash came between deciding and logging, its reply
            # waits in `_unlogged` for this resend, to be logged after what they sent.
            entry = self._take_unlogged(conversation_id, key)
            if entry is None:
                return []
            effects = entry.effects
        frames = frames_for(effects)
        numbered = await self.store.append(
            conversation_id, [you, *frames] if you else frames, release=key
        )
        if said:  # already on the screen, sent without storage: logged, not re-sent
            numbered = [
                (seq, frame)
                for seq, frame in numbered
                if not (frame.get("t") == "say" and frame.get("text") in said)
            ]
        return numbered

    # --- replies decided before a crash ----------------------------------------------------------

    def _take_unlogged(self, conversation_id: str, key: str) -> OutboxEntry | None:
        entries = self._unlogged.get(conversation_id, [])
        for index, entry in enumerate(entries):
            if entry.event_key == key:
                del entries[index]
                if not entries:
                    self._unlogged.pop(conversation_id, None)
                return entry
        return None

    async def _log_unlogged(self, conversation_id: str, *, until: str | None = None) -> None:
        """Under the conversation's lock: log (and send, if its widget is open) the replies
        decided before a crash that are still waiting for their resend, oldest first, without
        what the person sent (not stored anywhere else); `until`: stop at that event's own."""
        entries = self._unlogged.get(conversation_id)
        while entries and entries[0].event_key != until:
            entry = entries[0]
            numbered = await self.store.append(
                conversation_id, frames_for(entry.effects), release=entry.event_key
            )
            entries.pop(0)
            link = self._live.get(conversation_id)
            if link is not None:
                await self._send_numbered(link, numbered)
        if not entries:
            self._unlogged.pop(conversation_id, None)

    def _log_soon(self, conversation_id: str) -> None:
        """After a resume: replies still waiting are logged once the widget had time to resend
        what it has (a reloaded page has nothing to resend, and must still get them)."""
        if conversation_id not in self._unlogged:
            return

        async def later() -> None:
            await asyncio.sleep(RESEND_GRACE_SECONDS)
            async with self._lock(conversation_id):
                await self._log_unlogged(conversation_id)

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _crisis_without_storage(self, link: _Link, event: Inbound) -> None:
        """Send the crisis answer for an event that could not be decided or kept, once."""
        key = f"{CHANNEL}:{event.event_id}"
        if key in self._fallen_back:
            return
        try:
            effects = self.engine.crisis_fallback(event)
        except Exception as exc:  # the type only: never the person's words
            log.error("crisis fallback failed (%s)", type(exc).__name__)
            return
        if not any(isinstance(e, Say) for e in effects):
            return
        self._fallen_back[key] = frozenset(e.text for e in effects if isinstance(e, Say))
        while len(self._fallen_back) > REMEMBERED_FALLBACKS:
            self._fallen_back.popitem(last=False)
        log.warning("widget event: crisis answer sent without storage")
        for frame in frames_for(effects):
            # Unnumbered: it is not in the log, and a resume must not skip what is.
            await _send(link.websocket, {**frame, "pause": 0, "seq": 0})

    async def _send_pack(self, link: _Link) -> None:
        async with self._packing:
            pack = await self.engine.export_pack(link.session.conversation_id)
        if pack is None:
            await _send(link.websocket, {"t": "error", "code": "no_pack"})
            return
        if await _send(link.websocket, {"t": "packfile", "size": len(pack)}):
            with contextlib.suppress(Exception):
                await link.websocket.send_bytes(pack)

    # --- quick exit without a socket (the widget's beacon) ---------------------------------------

    async def forget(self, token: str, signature: bytes | None, origin: str) -> bool:
        """Forget a session whose page is going away: the token, signed by the session's key."""
        found = await self._proven(token, origin, signature, forget_message(token))
        if found is None:
            return False
        event = Inbound(
            CHANNEL,
            found.session_id,
            f"{found.session_id}:forget",
            EventKind.CHOICE,
            SYS_EXIT,
        )
        async with self._lock(found.conversation_id):
            if await self.store.find(token_hash(token)) is None:
                return True  # the socket's own exit got there first
            await self.engine.handle(event)
            self._unlogged.pop(found.conversation_id, None)
            link = self._live.pop(found.conversation_id, None)
        if link is not None:
            with contextlib.suppress(Exception):
                await link.websocket.close(code=CLOSE_FORGOTTEN)
        return True


def service_numbers(engine: Engine) -> dict[str, list[str]]:
    """The directory's phone and SMS numbers as written in its texts ("116 123", "85258").
    The widget links only these, so a number the person typed (read back to them with their
    evidence) never becomes a link someone could tap by mistake."""
    tel: set[str] = set()
    sms: set[str] = set()
    for service in engine.renderer.directory.services.values():
        for kind, value in service.contacts.items():
            # Only plain numbers ("REGISTER to 999" and "18001 101" are ways to use a number,
            # not numbers; their parts are linked where they are numbers of their own).
            if not value.replace(" ", "").replace("-", "").lstrip("+").isdigit():
                continue
            if kind.startswith("phone"):
                tel.add(value)
            elif kind.startswith("sms"):
                sms.add(value)
    return {"tel": sorted(tel), "sms": sorted(sms)}


def _resent(event_key: str) -> bool:
    """Whether an event is one the widget resends until acknowledged ("web:<session>:<id>"),
    not the session's start nor a crisis answer given beside a relay ("...:<id>:crisis")."""
    parts = event_key.split(":")
    return len(parts) == 3 and parts[2] != "start"


def _signed_new(frame: Frame, nonce: str) -> bool:
    key = b64decode(frame.get("key"))
    return key is not None and verify(key, b64decode(frame.get("sig")), connect_message(nonce))


async def _receive_frame(websocket: WebSocket) -> Frame | bytes | None:
    """The next frame: a JSON object, binary data, or None for anything malformed."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("bytes") is not None:
        data: bytes = message["bytes"]
        return data if len(data) <= CHUNK_BYTES else None
    text = message.get("text")
    if not isinstance(text, str) or len(text) > MAX_TEXT_FRAME:
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


async def _send(websocket: WebSocket, frame: Frame) -> bool:
    """Send if the socket is still open; a closed one resumes from the log later."""
    if websocket.application_state != WebSocketState.CONNECTED:
        return False
    try:
        await websocket.send_text(json.dumps(frame, separators=(",", ":")))
    except Exception:  # the peer went away mid-send
        return False
    return True
