"""The whole app served by uvicorn in a thread of the test process, on a loopback port: real HTTP
(and real browsers) from outside, and, from the test, work awaited on the app's own event loop
(where its repository's writer and the moderators' desk live)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from bot.config import Settings
from bot.console.routing import ConsoleApp
from bot.engine import Engine
from bot.web.app import create_app
from tests.auxil.browser import Server, free_port
from tests.auxil.console import add_moderator


@dataclass
class Running:
    url: str
    app: Starlette
    loop: asyncio.AbstractEventLoop
    data_dir: Path

    @property
    def console(self) -> ConsoleApp:
        console: ConsoleApp = self.app.state.console
        return console

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.engine
        return engine

    @property
    def server(self) -> Server:
        """For the sign-in helpers, which take a Server."""
        return Server(self.data_dir, int(self.url.rsplit(":", 1)[1]), {})

    async def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        """Await `work` on the app's event loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))


@contextmanager
def served(data: Path, moderators: dict[str, str]) -> Iterator[Running]:
    """Accounts made with the real CLI (email -> role), then the app, until the block ends."""
    for email, role in moderators.items():
        add_moderator(Server(data, 0, {}), email, role)
    port = free_port()
    app = create_app(Settings(data_dir=data, port=port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield Running(f"http://127.0.0.1:{port}", app, server.servers[0].get_loop(), data)
    finally:
        server.should_exit = True
        thread.join(30)
