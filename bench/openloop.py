"""An open-loop HTTP/1.1 load generator on raw asyncio sockets.

Requests are due on a fixed schedule (`rate` per second) whatever the server does, and each
latency is measured from the request's *scheduled* time, not from when a connection became
free to send it: a server that falls behind shows up as growing latency instead of a quietly
lower request rate (no coordinated omission). Each connection carries one request at a time;
requests due while every connection is busy wait in a queue, and that wait counts.
"""

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Run:
    """What one open-loop run measured; times in seconds."""

    rate: float
    duration: float
    scheduled: int = 0
    latencies: list[float] = field(default_factory=list)
    dues: list[float] = field(default_factory=list)
    service_times: list[float] = field(default_factory=list)
    timer_lags: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unfinished: list[float] = field(default_factory=list)
    first_due: float = 0.0
    last_done: float = 0.0

    @property
    def completed(self) -> int:
        """Responses received."""
        return len(self.latencies)

    @property
    def errors(self) -> int:
        """Responses other than 200, lost connections and requests never answered."""
        return self.completed - self.statuses[200] + len(self.unfinished)

    @property
    def achieved_rate(self) -> float:
        """Responses per second, from the first scheduled send to the last response."""
        span = self.last_done - self.first_due
        return self.completed / span if span > 0 else 0.0


def content_length(head: bytes) -> int:
    """The Content-Length of a response head (the server never sends chunked JSON here)."""
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    raise ValueError(f"response without content-length: {head[:200]!r}")


class Connection(asyncio.Protocol):
    """A keep-alive connection; calls `done(self, status)` when a response is complete."""

    def __init__(self, done: Callable[["Connection", int], None]) -> None:
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.expected = -1
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to write requests on."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, request: bytes) -> None:
        """Write one whole request."""
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        """Accumulate bytes until the head and the announced body are in."""
        self.buffer += data
        if self.expected < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.buffer[9:12])
            self.expected = end + 4 + content_length(bytes(self.buffer[:end]))
        if len(self.buffer) >= self.expected:
            del self.buffer[: self.expected]
            self.expected = -1
            self.done(self, self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        """A lost connection answers its in-flight request with status 0."""
        self.transport = None
        self.done(self, 0)


class OpenLoop:
    """Drives `connections` keep-alive connections to `host:port` on a fixed schedule."""

    def __init__(self, host: str, port: int, connections: int = 32) -> None:
        self.host, self.port, self.size = host, port, connections
        # Taken in turn (first in, first out), so no connection idles past the server's
        # keep-alive timeout while others carry the load and then fails on its next request.
        self.free: deque[Connection] = deque()
        self.queue: deque[tuple[float, bytes]] = deque()
        self.in_flight: dict[Connection, tuple[float, float]] = {}
        self.run: Run | None = None
        self.idle = asyncio.Event()

    async def open(self) -> None:
        """Open every connection before the clock starts."""
        loop = asyncio.get_running_loop()
        for _ in range(self.size):
            _, protocol = await loop.create_connection(
                lambda: Connection(self._done), self.host, self.port
            )
            self.free.append(protocol)

    def close(self) -> None:
        """Close every connection."""
        for connection in [*self.free, *self.in_flight]:
            if connection.transport is not None:
                connection.transport.close()

    def _dispatch(self) -> None:
        while self.queue and self.free:
            connection = self.free.popleft()
            if connection.transport is None:
                continue
            due, request = self.queue.popleft()
            self.in_flight[connection] = (due, time.perf_counter())
            connection.send(request)

    def _done(self, connection: Connection, status: int) -> None:
        if connection not in self.in_flight or self.run is None:
            return
        now = time.perf_counter()
        due, sent = self.in_flight.pop(connection)
        self.run.latencies.append(now - due)
        self.run.dues.append(due - self.run.first_due)
        self.run.service_times.append(now - sent)
        self.run.statuses[status] += 1
        self.run.last_done = now
        if connection.transport is not None:
            self.free.append(connection)
        self._dispatch()
        if not self.queue and not self.in_flight:
            self.idle.set()

    async def drive(
        self, rate: float, duration: float, request: Callable[[], bytes], drain: float
    ) -> Run:
        """Send `rate * duration` requests on schedule, then wait up to `drain` s for answers."""
        run = self.run = Run(rate, duration, int(rate * duration))
        start = run.first_due = time.perf_counter() + 0.05
        for i in range(run.scheduled):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            run.timer_lags.append(time.perf_counter() - due)
            self.queue.append((due, request()))
            self.idle.clear()
            self._dispatch()
        await self._drain(drain)
        return run

    async def _drain(self, seconds: float) -> None:
        assert self.run is not None
        try:
            await asyncio.wait_for(self.idle.wait(), seconds)
        except TimeoutError:
            now = time.perf_counter()
            waiting = [due for due, _ in self.queue] + [d for d, _ in self.in_flight.values()]
            self.run.unfinished = [now - due for due in waiting]
            self.queue.clear()
            self.in_flight.clear()  # closing their connections later is no answer of status 0
