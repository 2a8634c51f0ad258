"""A lean closed-loop HTTP/1.1 load client on asyncio streams.

Requests are encoded whole before the clock starts; each keep-alive connection carries one
request at a time and takes the next from a shared queue as soon as it is answered. Answers
are kept as raw bytes and decoded after the clock stops, so the client's own work stays small
next to the server's (on a small machine both share the same cores).
"""

import asyncio
import time
from dataclasses import dataclass, field

from openloop import content_length


@dataclass
class Load:
    """What a run of requests measured: raw answers, per-request latencies (s), seconds, CPU %."""

    answers: list[bytes] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu_pct: dict[str, float] = field(default_factory=dict)


def post_request(host: str, port: int, path: str, content_type: str, body: bytes) -> bytes:
    """The bytes of one keep-alive POST request."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bytes:
    """Send one request and read its whole answer; raise unless it is a 200."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    body = await reader.readexactly(content_length(head))
    status = int(head[9:12])
    if status != 200:
        line = request.split(b" ", 2)[1].decode()
        raise RuntimeError(f"{line} answered {status}: {body[:500].decode(errors='replace')}")
    return body


async def post_all(host: str, port: int, requests: list[bytes], connections: int) -> Load:
    """Send every request over `connections` concurrent keep-alive connections."""
    load, queue = Load(), list(reversed(requests))
    streams = [await asyncio.open_connection(host, port) for _ in range(connections)]

    async def sender(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while queue:
            request = queue.pop()
            sent = time.perf_counter()
            load.answers.append(await _exchange(reader, writer, request))
            load.latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(sender(reader, writer) for reader, writer in streams))
    finally:
        load.elapsed = time.perf_counter() - started
        for _, writer in streams:
            writer.close()
    return load
