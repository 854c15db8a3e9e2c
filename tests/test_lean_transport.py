"""The lean Bot API transport against small real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram.lean import LeanRequest

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/botTOKEN/sendMessage"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _data(text: str = "hi") -> RequestData:
    return RequestData(
        [RequestParameter.from_input("chat_id", 1), RequestParameter.from_input("text", text)]
    )


async def test_form_body_and_chunked_response(serve: Callable[[Handler], Awaitable[str]]) -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'5\r\n{"ok"\r\n6\r\n:true}\r\n0\r\n\r\n'
        )
        await writer.drain()
        writer.close()

    request = LeanRequest()
    await request.initialize()
    status, body = await request.do_request(await serve(handler), "POST", _data("héllo & bye"))
    await request.shutdown()
    assert (status, body) == (200, b'{"ok":true}')
    assert seen == [b"chat_id=1&text=h%C3%A9llo+%26+bye"]


async def test_a_kept_alive_connection_closed_by_the_server_is_replaced(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    count = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        await _read_request(reader)
        count += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # says keep-alive by omission, then closes anyway

    url = await serve(handler)
    request = LeanRequest()
    await request.initialize()
    for _ in range(3):
        assert await request.do_request(url, "POST", _data()) == (200, b"ok")
        await asyncio.sleep(0.05)
    await request.shutdown()
    assert count == 3  # each request reached the server exactly once


async def test_no_answer_is_a_timeout_and_no_server_a_network_error(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await release.wait()  # never answers while the client waits
        writer.close()
        await writer.wait_closed()

    request = LeanRequest(read_timeout=0.2, write_timeout=0.1)
    await request.initialize()
    with pytest.raises(TimedOut):
        await request.do_request(await serve(silent), "POST", _data())
    with pytest.raises(NetworkError):
        await request.do_request("http://127.0.0.1:9/botTOKEN/sendMessage", "POST", _data())
    await request.shutdown()
    release.set()
    await asyncio.sleep(0.05)
