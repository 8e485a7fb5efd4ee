"""A PostgreSQL wire proxy that counts round trips: every frontend Query ('Q') or Sync ('S').

A client waits for the server once per simple query and once per extended-protocol Sync, so
those two messages are exactly the round trips a request costs. The proxy listens on TCP and
forwards to the server's TCP port or unix socket; only client-to-server bytes are parsed.
Connections whose `application_name` is in `apart` (the api's relay waker, whose NOTIFYs are
sent after commits and off the requests' path) are counted in `apart_count`, not `count`.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from urllib.parse import quote

from sqlalchemy.engine import make_url

#: untyped first messages: SSLRequest and GSSENCRequest ask again, a StartupMessage ends them
_NEGOTIATION_CODES = (80877103, 80877104)
_ROUND_TRIP_TYPES = (b"Q", b"S")


class RoundTripCounter:
    """`async with RoundTripCounter(sqlalchemy_url) as proxy:` then `proxy.url`, `proxy.count`."""

    def __init__(self, upstream_url: str, apart: tuple[str, ...] = ("sightline-wake",)) -> None:
        self._upstream = make_url(upstream_url)
        self._apart = apart
        self.count = 0
        self.apart_count = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The upstream URL rewritten to go through the proxy (same user and database)."""
        user = quote(self._upstream.username or "postgres")
        password = f":{quote(self._upstream.password)}" if self._upstream.password else ""
        return (
            f"{self._upstream.drivername}://{user}{password}@127.0.0.1:{self.port}/"
            f"{self._upstream.database}?ssl=disable"
        )

    @property
    def dsn(self) -> str:
        """The same as an asyncpg DSN."""
        plain = self.url.replace("postgresql+asyncpg://", "postgresql://", 1)
        return plain.replace("?ssl=disable", "?sslmode=disable")

    async def __aenter__(self) -> RoundTripCounter:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        socket_dir = self._upstream.query.get("host")
        if isinstance(socket_dir, str) and socket_dir.startswith("/"):
            port = self._upstream.port or 5432
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{port}")
        return await asyncio.open_connection(
            self._upstream.host or "127.0.0.1", self._upstream.port or 5432
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # a client handler that ends cancelled (by `__aexit__`) makes Python 3.11's
        # StreamReaderProtocol log a CancelledError traceback: it ends quietly instead
        with contextlib.suppress(asyncio.CancelledError):
            await self._relay(reader, writer)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await self._open_upstream()
        except OSError:
            writer.close()
            self._tasks.discard(task)
            return
        back = asyncio.create_task(_pipe(up_reader, writer))
        try:
            await self._client_to_server(reader, up_writer)
        finally:
            up_writer.close()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await back
            writer.close()
            self._tasks.discard(task)

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        apart = False
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:  # untyped negotiation and startup messages
                head = await reader.readexactly(8)
                length, code = struct.unpack("!ii", head)
                body = await reader.readexactly(length - 8)
                writer.write(head + body)
                await writer.drain()
                if code not in _NEGOTIATION_CODES:
                    apart = _startup_parameter(body, "application_name") in self._apart
                    break
            while True:
                head = await reader.readexactly(5)
                kind, length = head[:1], struct.unpack("!i", head[1:])[0]
                if kind in _ROUND_TRIP_TYPES:
                    if apart:
                        self.apart_count += 1
                    else:
                        self.count += 1
                writer.write(head + await reader.readexactly(length - 4))
                await writer.drain()


def _startup_parameter(body: bytes, name: str) -> str | None:
    """A parameter of a StartupMessage's body (NUL-separated name, value pairs)."""
    fields = body.split(b"\0")
    for key, value in zip(fields[::2], fields[1::2], strict=False):
        if key.decode(errors="replace") == name:
            return value.decode(errors="replace")
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Server to client, untouched; the server hanging up hangs up on the client too."""
    try:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
    finally:
        writer.close()
