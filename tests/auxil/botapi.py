"""A stand-in Telegram Bot API server, over real HTTP on loopback, for tests and benchmarks.

It implements what the bot uses (getMe, getUpdates with long polling, setWebhook/deleteWebhook,
sendMessage, sendChatAction, answerCallbackQuery, getFile plus the file download endpoint,
deleteMessage(s), setMyCommands, sendDocument), records every call, and can answer 429.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "123456:TEST-token_for_the_stand_in"


@dataclass
class Sent:
    chat_id: int
    message_id: int
    text: str
    keyboard: list[tuple[str, str]]  # (label, callback data)
    at: float
    kind: str = "text"


@dataclass
class Storm:
    """A flood-control storm: while it lasts, each call to one of `methods` is answered 429 (with
    `retry_after`) with probability `share` (seeded), as Telegram does to a bot sending too much.
    """

    share: float
    seconds: float
    retry_after: int = 1
    methods: tuple[str, ...] = ("sendMessage",)
    seed: int = 0
    started: float = field(default_factory=time.monotonic)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def refuses(self, method: str) -> bool:
        return (
            method in self.methods
            and time.monotonic() - self.started < self.seconds
            and self.rng.random() < self.share
        )


@dataclass
class Refusal:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic()
    retry_after: int


@dataclass
class BotApiStandIn:
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    deleted: set[tuple[int, int]] = field(default_factory=set)
    files: dict[str, bytes] = field(default_factory=dict)
    fail: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # method: [retry]
    webhook: dict[str, Any] = field(default_factory=dict)
    commands: list[dict[str, str]] = field(default_factory=list)
    menus: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # language code -> menu
    language_codes: dict[int, str] = field(default_factory=dict)  # chat -> its person's language
    port: int = 0
    latency: float = 0.0  # seconds each method call takes
    waiters: dict[int, asyncio.Event] = field(default_factory=dict)
    by_chat: dict[int, list[Sent]] = field(default_factory=dict)
    hang_after: int | None = None  # sendMessage hangs once this many messages were sent
    # Called as each sendMessage arrives, before it is recorded: True refuses it (a crash drill
    # kills the bot there, so the message was never sent).
    before_send: Any = None
    storm: Storm | None = None  # 429s to a share of calls for a while
    refused: list[Refusal] = field(default_factory=list)  # every 429 answered
    called_at: list[float] = field(default_factory=list)  # when each of `calls` arrived
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: Any = field(default_factory=lambda: itertools.count(1000))
    _uids: Any = field(default_factory=lambda: itertools.count(1))
    _message_ids: Any = field(default_factory=lambda: itertools.count(50_000))
    _new: asyncio.Event = field(default_factory=asyncio.Event)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    # --- running ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["POST", "GET"]),
                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
            ]
        )
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP.
        # With proto 0 every response's body waited ~40 ms for a delayed ACK (Nagle), as no
        # real server (nor uvicorn binding its own socket) would make it wait.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._new.set()
            self._release.set()
            assert self._task is not None
            await self._task

    # --- making updates --------------------------------------------------------------------------

    def _push(self, body: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._uids), **body}
        self.updates.append(update)
        self._new.set()
        return update

    def _message(self, chat_id: int, **fields: Any) -> dict[str, Any]:
        person: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Sam"}
        if chat_id in self.language_codes:  # the person's Telegram language, if set
            person["language_code"] = self.language_codes[chat_id]
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Sam"},
            "from": person,
            **fields,
        }

    def text(self, chat_id: int, text: str) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if text.startswith("/"):  # as Telegram marks commands
            length = len(text.split()[0])
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._push({"message": self._message(chat_id, text=text, **extra)})

    def tap(self, chat_id: int, data: str, message_id: int | None = None) -> dict[str, Any]:
        keyboard_message = message_id or self.last(chat_id).message_id
        return self._push(
            {
                "callback_query": {
                    "id": str(next(self._ids)),
                    "chat_instance": "ci",
                    "data": data,
                    "from": {"id": chat_id, "is_bot": False, "first_name": "Sam"},
                    "message": {
                        "message_id": keyboard_message,
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"},
                        "text": "…",
                    },
                }
            }
        )

    def tap_label(self, chat_id: int, label_part: str) -> dict[str, Any]:
        message = next(m for m in reversed(self.sent) if m.chat_id == chat_id and m.keyboard)
        matches = [data for label, data in message.keyboard if label_part.lower() in label.lower()]
        assert len(matches) == 1, (label_part, message.keyboard)
        return self.tap(chat_id, matches[0], message.message_id)

    def photo(
        self,
        chat_id: int,
        data: bytes,
        media_group: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        file_id = f"photo-{next(self._ids)}"
        self.files[file_id] = data
        extra: dict[str, Any] = {"media_group_id": media_group} if media_group else {}
        if caption is not None:
            extra["caption"] = caption
        sizes = [
            {
                "file_id": file_id,
                "file_unique_id": file_id,
                "width": 800,
                "height": 600,
                "file_size": len(data),
            }
        ]
        return self._push({"message": self._message(chat_id, photo=sizes, **extra)})

    def document(
        self,
        chat_id: int,
        name: str,
        data: bytes,
        size: int | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        file_id = f"doc-{next(self._ids)}"
        self.files[file_id] = data
        document = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": name,
            "file_size": size if size is not None else len(data),
        }
        extra = {"caption": caption} if caption is not None else {}
        return self._push({"message": self._message(chat_id, document=document, **extra)})

    def voice(self, chat_id: int, caption: str | None = None) -> dict[str, Any]:
        voice = {"file_id": "vo", "file_unique_id": "vo", "duration": 3}
        extra = {"caption": caption} if caption is not None else {}
        return self._push({"message": self._message(chat_id, voice=voice, **extra)})

    def sticker(self, chat_id: int) -> dict[str, Any]:
        sticker = {
            "file_id": "st",
            "file_unique_id": "st",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
        return self._push({"message": self._message(chat_id, sticker=sticker)})

    def location(self, chat_id: int) -> dict[str, Any]:
        return self._push(
            {"message": self._message(chat_id, location={"latitude": 51.5, "longitude": -0.1})}
        )

    def edited(self, chat_id: int, text: str) -> dict[str, Any]:
        message = self._message(chat_id, text=text, edit_date=int(time.time()))
        return self._push({"edited_message": message})

    def edited_location(self, chat_id: int) -> dict[str, Any]:
        """A live location moving: an edit with no words (Telegram sends these every few s)."""
        location = {"latitude": 51.5, "longitude": -0.1, "live_period": 900}
        message = self._message(chat_id, location=location, edit_date=int(time.time()))
        return self._push({"edited_message": message})

    def _record(self, sent: Sent) -> None:
        self.sent.append(sent)
        self.by_chat.setdefault(sent.chat_id, []).append(sent)
        self.notify(sent.chat_id)

    def notify(self, chat_id: int) -> None:
        event = self.waiters.get(chat_id)
        if event is not None:
            event.set()

    async def wait_for(self, chat_id: int, count: int, timeout: float = 600.0) -> None:
        """Until chat_id has received at least `count` messages."""
        event = self.waiters.setdefault(chat_id, asyncio.Event())
        deadline = time.monotonic() + timeout
        while len(self.chat(chat_id)) < count:
            event.clear()
            await asyncio.wait_for(event.wait(), max(0.001, deadline - time.monotonic()))

    # --- reading what the bot did -------------------------------------------------------------

    def chat(self, chat_id: int) -> list[Sent]:
        return self.by_chat.get(chat_id, [])

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.chat(chat_id)]

    def last(self, chat_id: int) -> Sent:
        return self.chat(chat_id)[-1]

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    # --- the API --------------------------------------------------------------------------------

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            body: dict[str, Any] = await request.json()
            return body
        form = await request.form()
        params: dict[str, Any] = {}
        for key, value in form.multi_items():
            if hasattr(value, "read"):
                params[key] = await value.read()
            elif key in ("reply_markup", "message_ids", "commands", "allowed_updates"):
                params[key] = json.loads(value)
            elif key in ("chat_id", "offset", "timeout", "limit", "message_id"):
                params[key] = int(value)
            else:
                params[key] = value
        return params

    async def _method(self, request: Request) -> Response:
        if request.path_params["token"] != TOKEN:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
            )
        method = request.path_params["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        self.called_at.append(time.monotonic())
        if self.latency:
            await asyncio.sleep(self.latency)
        retry = None
        if self.fail.get(method):
            retry = self.fail[method].pop(0)
        elif self.storm is not None and self.storm.refuses(method):
            retry = self.storm.retry_after
        if retry is not None:
            self.refused.append(Refusal(method, params, time.monotonic(), retry))
            return JSONResponse(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry}",
                    "parameters": {"retry_after": retry},
                },
                429,
            )
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return JSONResponse({"ok": True, "result": True})
        # ASCII JSON, as Telegram sends: a lone surrogate in an update ("\\ud800") stays an
        # escape (Starlette's JSONResponse would fail to encode it).
        body = json.dumps({"ok": True, "result": await handler(params)})
        return Response(body, media_type="application/json")

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": 123456, "is_bot": True, "first_name": "Support", "username": "SupportBot"}

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset") or 0
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while not self.updates and time.monotonic() < deadline:
            self._new.clear()
            with_timeout = max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(self._new.wait(), with_timeout)
            except TimeoutError:
                break
        return self.updates[: int(params.get("limit") or 100)]

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.before_send is not None and self.before_send(params):
            return {"message_id": 0}  # the bot is dead: nobody reads this, nothing was sent
        if self.hang_after is not None and len(self.sent) >= self.hang_after:
            await self._release.wait()  # like a connection that stalls while the bot crashes
        markup = params.get("reply_markup") or {}
        keyboard = [
            (b["text"], b["callback_data"])
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]
        message_id = next(self._message_ids)
        self._record(
            Sent(params["chat_id"], message_id, params["text"], keyboard, time.monotonic())
        )
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": params["chat_id"], "type": "private"},
            "text": params["text"],
        }

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        message_id = next(self._message_ids)
        self.files[f"sent-{message_id}"] = params["document"]
        self._record(Sent(params["chat_id"], message_id, "", [], time.monotonic(), "document"))
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": params["chat_id"], "type": "private"},
            "document": {"file_id": f"sent-{message_id}", "file_unique_id": "u"},
        }

    async def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params["file_id"]
        return {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_size": len(self.files[file_id]),
            "file_path": f"files/{file_id}",
        }

    async def _api_deleteMessages(self, params: dict[str, Any]) -> bool:
        for message_id in params["message_ids"]:
            self.deleted.add((params["chat_id"], message_id))
        return True

    async def _api_deleteMessage(self, params: dict[str, Any]) -> bool:
        self.deleted.add((params["chat_id"], params["message_id"]))
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        language = params.get("language_code")
        if not language:
            self.commands = params["commands"]
        self.menus[language or ""] = params["commands"]
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        return True

    async def _file(self, request: Request) -> Response:
        if request.path_params["token"] != TOKEN:
            return Response(status_code=401)
        file_id = request.path_params["path"].removeprefix("files/")
        return Response(self.files[file_id], media_type="application/octet-stream")
