"""A lean HTTP/1.1 transport for python-telegram-bot's Bot API calls (PTB's `BaseRequest`).

Why: profiling 200 people starting at once showed most of the bot's CPU inside httpx/httpcore
(per request: building the request model, and the pool re-checking every connection with a
socket poll). Bot API calls are small form POSTs to one host, so a few keep-alive connections
and a plain request line do the same job in a fraction of the time. Anything with files
(multipart uploads) still goes through PTB's `HTTPXRequest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

MAX_RESPONSE_BYTES = 32 * 1024 * 1024
USER_AGENT = "supportbot (python-telegram-bot)"


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class LeanRequest(BaseRequest):
    def __init__(
        self,
        *,
        connections: int = 16,
        read_timeout: float = 15.0,
        write_timeout: float = 30.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()  # every connection, idle or busy (for shutdown)
        self._slots = asyncio.Semaphore(connections)
        self._files = HTTPXRequest(
            connection_pool_size=4, read_timeout=read_timeout, write_timeout=write_timeout
        )
        self._tls = ssl.create_default_context()

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        await self._files.initialize()

    async def shutdown(self) -> None:
        for connection in list(self._open):
            self._discard(connection)
        self._idle.clear()
        await self._files.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None and request_data.contains_files:
            return await self._files.do_request(
                url,
                method,
                request_data,
                read_timeout,  # type: ignore[arg-type]
                write_timeout,  # type: ignore[arg-type]
                connect_timeout,  # type: ignore[arg-type]
                pool_timeout,  # type: ignore[arg-type]
            )
        timeout = read_timeout if isinstance(read_timeout, int | float) else self._read_timeout
        # Form-encoded, exactly as PTB's own transport sends parameters.
        body = request_data.url_encoded_parameters().encode() if request_data is not None else b""
        parts = urlsplit(url)
        async with self._slots:
            try:
                return await asyncio.wait_for(
                    self._exchange(parts.scheme, parts.netloc, _target(parts), method, body),
                    timeout + self._write_timeout,
                )
            except TimeoutError as exc:
                raise TimedOut from exc
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                raise NetworkError(f"lean transport: {type(exc).__name__}") from exc

    async def _exchange(
        self, scheme: str, netloc: str, target: str, method: str, body: bytes
    ) -> tuple[int, bytes]:
        # A kept-alive connection may have been closed by the server meanwhile: one fresh retry.
        for fresh in (False, True):
            connection = None if fresh else self._take_idle()
            if connection is None:
                connection = await self._connect(scheme, netloc)
            try:
                status, payload, keep = await self._roundtrip(
                    connection, netloc, target, method, body
                )
            except (OSError, asyncio.IncompleteReadError):
                self._discard(connection)
                if fresh:
                    raise
                continue
            except BaseException:  # cancelled or timed out mid-exchange: the stream is unusable
                self._discard(connection)
                raise
            if keep:
                self._idle.append(connection)
            else:
                self._discard(connection)
            return status, payload
        raise NetworkError("unreachable")

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof():  # the server closed it while idle: skip
                return connection
            self._discard(connection)
        return None

    def _discard(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()

    async def _connect(self, scheme: str, netloc: str) -> _Connection:
        host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
        secure = scheme == "https"
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host or netloc,
                int(port) if port else (443 if secure else 80),
                ssl=self._tls if secure else None,
            ),
            self._connect_timeout,
        )
        connection = _Connection(reader, writer)
        self._open.add(connection)
        return connection

    async def _roundtrip(
        self, connection: _Connection, netloc: str, target: str, method: str, body: bytes
    ) -> tuple[int, bytes, bool]:
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {netloc}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n"
        )
        connection.writer.write(head.encode("latin-1") + body)
        await connection.writer.drain()
        reader = connection.reader
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        chunked = False
        keep = True
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.lower() == "close":
                keep = False
        if chunked:
            payload = await _read_chunked(reader)
        elif length is not None:
            if length > MAX_RESPONSE_BYTES:
                raise ValueError("response too large")
            payload = await reader.readexactly(length)
        else:  # no length: the body runs to the end of the connection
            payload = await reader.read(MAX_RESPONSE_BYTES)
            keep = False
        return status, payload, keep


def _target(parts: object) -> str:
    path = getattr(parts, "path", "") or "/"
    query = getattr(parts, "query", "")
    return f"{path}?{query}" if query else path


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(out) > MAX_RESPONSE_BYTES:
            raise ValueError("response too large")
