"""A lean HTTP/1.1 keep-alive load generator on raw asyncio streams.

httpx costs several times more CPU per request than this, and the load generator shares the
machine with the server under test: the leaner the client, the less it distorts the figures.
The same code drives every target, so ratios between targets stay fair.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bench.stats import Summary, summarize

REQUEST_TIMEOUT_S = 30.0
MAX_HEADER_BYTES = 64 * 1024
#: a pooled connection idle longer than this is not reused: uvicorn closes idle keep-alive
#: connections after 5 s, and a request written as the server closes fails unanswered
MAX_IDLE_S = 2.0


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 as this client understands it."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def build_request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection; reopened transparently when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        #: time.monotonic() of the last answer
        self.last_used = time.monotonic()

    async def request(self, raw: bytes) -> Answer:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=MAX_HEADER_BYTES
            )
        assert self._reader is not None
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                self._writer.write(raw)
                answer, keep_alive = await _read_answer(self._reader)
        except BaseException:
            self.close()
            raise
        if not keep_alive:
            self.close()
        self.last_used = time.monotonic()
        return answer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _read_answer(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {status_line!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    keep_alive = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
    return Answer(int(parts[1]), headers, body), keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


@dataclass
class LoadResult:
    """A closed-loop run: what completed inside the measurement window."""

    target: str
    concurrency: int
    duration_s: float
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    #: 2xx answers per whole second of the window (shows drift, e.g. growing streams)
    per_second: list[int] = field(default_factory=list)
    first_error: str | None = None

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def latency(self) -> Summary:
        return summarize(self.latencies_ms)

    def _error(self, kind: str, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if self.first_error is None:
            self.first_error = detail[:500]


def merge(results: list[LoadResult]) -> LoadResult:
    """Several runs against the same target as one: counts and samples pooled."""
    first = results[0]
    merged = LoadResult(first.target, first.concurrency, sum(r.duration_s for r in results))
    for r in results:
        merged.ok += r.ok
        for kind, n in r.errors.items():
            merged.errors[kind] = merged.errors.get(kind, 0) + n
        merged.latencies_ms += r.latencies_ms
        merged.per_second += r.per_second
        merged.first_error = merged.first_error or r.first_error
    return merged


async def closed_loop(
    target: str,
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    concurrency: int,
    warmup_s: float,
    duration_s: float,
) -> LoadResult:
    """`concurrency` connections each send the next request as soon as the previous answers.

    Request `i` (a global counter) comes from `make_request(i)`. Answers that complete inside
    [warm-up end, warm-up end + duration) are counted; non-2xx answers and failures are errors.
    """
    result = LoadResult(target, concurrency, duration_s)
    result.per_second = [0] * max(1, int(duration_s + 0.999))
    counter = itertools.count()
    clock = time.perf_counter
    start = clock() + warmup_s
    end = start + duration_s

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            while clock() < end:
                raw = make_request(next(counter))
                sent = clock()
                try:
                    answer = await conn.request(raw)
                except (OSError, asyncio.IncompleteReadError, ProtocolError, TimeoutError) as exc:
                    if start <= clock() < end:
                        result._error(type(exc).__name__, repr(exc))
                    await asyncio.sleep(0.05)
                    continue
                done = clock()
                if not start <= done < end:
                    continue
                if 200 <= answer.status < 300:
                    result.ok += 1
                    result.latencies_ms.append((done - sent) * 1000.0)
                    result.per_second[min(int(done - start), len(result.per_second) - 1)] += 1
                else:
                    result._error(str(answer.status), answer.body.decode(errors="replace"))
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


async def counted_loop(
    target: str,
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    concurrency: int,
    warmup: int,
    count: int,
) -> LoadResult:
    """Closed loop over a fixed number of requests: `warmup` unmeasured, then `count` measured.

    Request `i` (a global counter, warm-up included) comes from `make_request(i)`; the
    result's duration runs from the first measured send to the last measured answer.
    """
    result = LoadResult(target, concurrency, 1e-9)
    counter = itertools.count()
    clock = time.perf_counter
    first_sent: list[float] = []
    last_done = 0.0

    async def worker() -> None:
        nonlocal last_done
        conn = Connection(host, port)
        try:
            while (i := next(counter)) < warmup + count:
                measured = i >= warmup
                raw = make_request(i)
                sent = clock()
                if measured and not first_sent:
                    first_sent.append(sent)
                try:
                    answer = await conn.request(raw)
                except (OSError, asyncio.IncompleteReadError, ProtocolError, TimeoutError) as exc:
                    if measured:
                        result._error(type(exc).__name__, repr(exc))
                    await asyncio.sleep(0.05)
                    continue
                done = clock()
                if not measured:
                    continue
                last_done = max(last_done, done)
                if 200 <= answer.status < 300:
                    result.ok += 1
                    result.latencies_ms.append((done - sent) * 1000.0)
                else:
                    result._error(str(answer.status), answer.body.decode(errors="replace"))
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if first_sent:
        result.duration_s = max(1e-9, last_done - first_sent[0])
    return result


@dataclass(frozen=True)
class Sent:
    """One open-loop request: wall-clock send and answer times (time.time())."""

    index: int
    sent_at: float
    answered_at: float
    answer: Answer | None
    error: str | None = None


async def open_loop(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    rate: float,
    duration_s: float,
    max_connections: int = 64,
) -> list[Sent]:
    """Send request `i` at start + i/rate regardless of how earlier ones fare (no coordinated
    omission); each rides an idle pooled connection, or a new one up to `max_connections`."""
    idle: list[Connection] = []
    slots = asyncio.Semaphore(max_connections)
    results: list[Sent] = []
    loop = asyncio.get_running_loop()
    count = int(rate * duration_s)
    begin = loop.time() + 0.05

    def connection() -> Connection:
        while idle:
            conn = idle.pop()  # the most recently used first
            if time.monotonic() - conn.last_used <= MAX_IDLE_S:
                return conn
            conn.close()
        return Connection(host, port)

    async def one(i: int) -> None:
        async with slots:
            conn = connection()
            raw = make_request(i)
            sent = time.time()
            try:
                answer = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError, ProtocolError, TimeoutError) as exc:
                results.append(Sent(i, sent, time.time(), None, repr(exc)))
                conn.close()
                return
            results.append(Sent(i, sent, time.time(), answer))
            idle.append(conn)

    tasks = []
    for i in range(count):
        delay = begin + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return sorted(results, key=lambda s: s.index)
