"""`supportbot run`: one process, one event loop: the web app, the Telegram channel (polling or
webhook) and the retention purge all run inside the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from bot.app import channel_store, running_engine
from bot.channels.web import CHANNEL as CHANNEL_WEB
from bot.channels.web import WebChannel
from bot.channels.web.limits import WebLimits
from bot.channels.web.proof import b64decode
from bot.channels.web.store import WebStore
from bot.config import Settings
from bot.console.cases import Case, CaseStore
from bot.console.desk import Desk
from bot.console.signin import Console
from bot.console.web import ConsoleApp, new_login_key
from bot.console.web import routes as console_routes
from bot.engine import Engine
from bot.storage.sqlite import SqliteRepository
from bot.web.security import SecurityHeaders, frame_csp
from bot.web.widget import (
    FRAME_PATH,
    STATIC,
    build_demo,
    build_frame_page,
    build_frame_script,
    build_widget,
    embedding_origin,
    frame_locale,
)

if TYPE_CHECKING:
    from bot.channels.telegram.channel import TelegramChannel

log = logging.getLogger(__name__)
MAX_UPDATE_BYTES = 1024 * 1024
MAX_BEACON_BYTES = 2048
PURGE_EVERY = 6 * 3600.0
WEBHOOK_UPDATES = ["message", "edited_message", "callback_query"]


def webhook_secret(settings: Settings, secret: bytes) -> str:
    """1-256 characters of A-Za-z0-9_- (Bot API); derived from the key unless configured."""
    if settings.webhook_secret:
        return settings.webhook_secret
    return hmac.new(secret, b"telegram-webhook", hashlib.sha256).hexdigest()


async def purge_forever(engine: Engine, settings: Settings, every: float = PURGE_EVERY) -> None:
    while True:
        now = time.time()
        try:
            report = await engine.repository.purge(
                now - settings.retention_days * 86400, now - settings.inbox_days * 86400
            )
            log.info(
                "purge: %d conversation(s), %d file(s)",
                report.conversations,
                report.evidence_files + report.orphan_files,
            )
        except Exception:
            log.exception("scheduled purge failed")
        await asyncio.sleep(every)


def build_console(engine: Engine, repository: SqliteRepository, settings: Settings) -> ConsoleApp:
    cases = CaseStore(repository)
    return ConsoleApp(
        engine=engine,
        repository=repository,
        console=Console.from_settings(repository, settings),
        cases=cases,
        desk=Desk(cases),
        login_key=new_login_key(),
        own_origin=settings.origins()[0],
        secure=settings.own_url().startswith("https://"),
    )


async def notify_moderators(channel: TelegramChannel, chat_id: int, case: Case) -> None:
    """A line in the moderators' Telegram chat: that something urgent waits, nothing personal."""
    text = f"Urgent case waiting ({case.priority}). Open the console."
    await channel.sender.call(chat_id, partial(channel.bot.send_message, chat_id, text))


def create_app(settings: Settings) -> Starlette:
    webhook_path = urlparse(settings.webhook_url).path or "/telegram/webhook"

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_engine(settings) as engine:
            app.state.engine = engine
            app.state.channel = None
            app.state.secret = webhook_secret(settings, engine.keyring.webhook_key)
            repository = channel_store(engine)
            assert isinstance(repository, SqliteRepository)
            console = build_console(engine, repository, settings)
            desk = console.desk
            await desk.load()
            repository.on_handoff = desk.handed_over
            repository.on_erase = desk.erased
            engine.staffed = lambda: desk.online > 0
            app.state.console = console
            web = WebChannel(
                engine,
                WebStore(repository),
                origins=settings.origins(),
                desk=desk,
                limits=WebLimits.from_settings(settings),
            )
            desk.register(CHANNEL_WEB, web.deliver)
            await web.recover()
            app.state.web = web
            app.state.widget = build_widget(engine.renderer.texts)
            app.state.frame_script = build_frame_script(engine.renderer.texts)
            app.state.frame_pages = {
                locale: build_frame_page(engine.renderer.texts, locale)
                for locale in engine.renderer.texts.locales
            }
            app.state.demo = build_demo(engine.renderer.texts, settings.own_url())
            if settings.telegram_bot_token:
                from bot.channels.telegram.factory import make_channel

                channel = make_channel(settings, engine, channel_store(engine))
                channel.desk = desk
                desk.register("telegram", channel.deliver)
                if settings.moderators_chat_id is not None:
                    desk.on_urgent = partial(
                        notify_moderators, channel, settings.moderators_chat_id
                    )
                await channel.start(poll=not settings.webhook_url)
                if settings.webhook_url:
                    await channel.bot.set_webhook(
                        settings.webhook_url,
                        secret_token=app.state.secret,
                        allowed_updates=WEBHOOK_UPDATES,
                    )
                app.state.channel = channel
            purge = asyncio.create_task(purge_forever(engine, settings), name="purge")
            try:
                yield
            finally:
                purge.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purge
                if app.state.channel is not None:
                    await app.state.channel.stop()
                await desk.close()

    async def home(request: Request) -> Response:
        return HTMLResponse(request.app.state.demo, headers={"cache-control": "no-store"})

    async def widget(request: Request) -> Response:
        return Response(
            request.app.state.widget,
            media_type="text/javascript; charset=utf-8",
            # Host pages on other sites load it; nothing personal is in it.
            headers={
                "cache-control": "public, max-age=300",
                "cross-origin-resource-policy": "cross-origin",
            },
        )

    async def frame_page(request: Request) -> Response:
        """The chat's own page, framed by the loader. Only the host page's origin, if allowed,
        may frame it (CSP frame-ancestors); any other page, or a page claiming another's origin,
        gets nothing it can show."""
        host = embedding_origin(request.query_params.get("host", ""), settings.origins())
        if host is None:
            return PlainTextResponse(
                "This page may not be shown here.\n",
                status_code=403,
                headers={"content-security-policy": frame_csp("'none'")},
            )
        texts = request.app.state.engine.renderer.texts
        locale = frame_locale(texts, request.query_params.get("locale", ""))
        return HTMLResponse(
            request.app.state.frame_pages[locale],
            headers={"cache-control": "no-store", "content-security-policy": frame_csp(host)},
        )

    async def frame_script(request: Request) -> Response:
        return Response(
            request.app.state.frame_script,
            media_type="text/javascript; charset=utf-8",
            headers={"cache-control": "public, max-age=300"},
        )

    async def frame_css(request: Request) -> Response:
        return Response(
            (STATIC / "frame.css").read_bytes(),
            media_type="text/css; charset=utf-8",
            headers={"cache-control": "public, max-age=300"},
        )

    async def demo_css(request: Request) -> Response:
        return Response((STATIC / "demo.css").read_bytes(), media_type="text/css")

    async def socket(websocket: WebSocket) -> None:
        await websocket.app.state.web.serve(websocket)

    async def forget(request: Request) -> Response:
        """The widget's quick-exit beacon (sent as the page goes away): always 204, so it
        tells a caller nothing about which tokens exist."""
        if int(request.headers.get("content-length") or 0) > MAX_BEACON_BYTES:
            return Response(status_code=204)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BEACON_BYTES:
                return Response(status_code=204)
        if body:
            try:
                data = json.loads(body)
                token, signature = data["token"], b64decode(data["sig"])
            except (ValueError, KeyError, TypeError):
                return Response(status_code=204)
            if isinstance(token, str):
                origin = request.headers.get("origin", "")
                await request.app.state.web.forget(token, signature, origin)
        return Response(status_code=204)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def telegram_webhook(request: Request) -> Response:
        channel = request.app.state.channel
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if channel is None or not hmac.compare_digest(
            given.encode(), request.app.state.secret.encode()
        ):
            return Response(status_code=403)
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return Response(status_code=413)
        try:
            update_id = int(json.loads(body)["update_id"])
        except (ValueError, KeyError, TypeError):
            return Response(status_code=400)
        # 200 only once the update is kept durably: otherwise Telegram delivers it again.
        await channel.accept(update_id, body)
        return Response(status_code=200)

    routes = [
        *console_routes(),
        Route("/", home),
        Route("/healthz", health),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/widget.js", widget),
        Route(FRAME_PATH, frame_page),
        Route(FRAME_PATH + ".js", frame_script),
        Route(FRAME_PATH + ".css", frame_css),
        WebSocketRoute("/ws", socket),
        Route("/api/forget", forget, methods=["POST"]),
        Route("/static/demo.css", demo_css),
        Route(webhook_path, telegram_webhook, methods=["POST"]),
    ]
    middleware = [Middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
