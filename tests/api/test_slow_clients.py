"""Slow clients are cut off after MASTERY_CLIENT_TIMEOUT_SECONDS; prompt ones are served."""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx
import pytest

from tests.serving import BIN, Server, free_port, serve

BOUND = 10.0  # seconds: only so that a broken server fails the test instead of hanging it
EVENT = {
    "id": "slow-1",
    "type": "quiz.graded",
    "student_id": "ada",
    "skill_id": "regex",
    "occurred_at": "2026-01-05T10:00:00Z",
    "data": {"quiz_id": "q", "score": 0.75},
}
BODY = json.dumps(EVENT).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module, giving each request 1 s to arrive."""
    db = tmp_path_factory.mktemp("slow") / "slow.db"
    with serve(db, free_port(), MASTERY_CLIENT_TIMEOUT_SECONDS="1") as running:
        yield running


def connect(server: Server) -> socket.socket:
    """A raw TCP connection to the server."""
    return socket.create_connection(("127.0.0.1", urlsplit(server.url).port or 80), timeout=BOUND)


def post_head(length: int, *extra: str) -> bytes:
    """The request line and headers of POST /v1/events with a body of `length` bytes."""
    lines = ["POST /v1/events HTTP/1.1", "Host: test", "Content-Type: application/json"]
    lines += [f"Content-Length: {length}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(stream: BinaryIO) -> tuple[int, bytes]:
    """The status and body of the next response on the stream."""
    status = int(stream.readline().split()[1])
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, stream.read(length)


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes the connection (fails at the deadline)."""
    received = b""
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(65536)  # raises TimeoutError past the deadline
        if not chunk:
            return received
        received += chunk


@pytest.mark.slow
def test_a_stalled_request_line_is_answered_408_and_closed(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /heal")
        reply = read_until_closed(sock, time.monotonic() + BOUND)
    assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close" in reply


@pytest.mark.slow
def test_a_connection_that_sends_nothing_is_closed_without_an_answer(server: Server) -> None:
    with connect(server) as sock:
        assert read_until_closed(sock, time.monotonic() + BOUND) == b""


@pytest.mark.slow
def test_a_stalled_body_is_answered_408_in_the_error_shape(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(post_head(100) + b'{"id": "slow-')
        status, body = read_response(stream)
        assert stream.read() == b""  # closed after the answer
    assert status == 408
    assert json.loads(body) == {
        "detail": "request headers and body must arrive within 1 s",
        "code": "request_timeout",
        "field": None,
    }


@pytest.mark.slow
def test_many_stalled_connections_are_closed_while_others_are_served(server: Server) -> None:
    stalled = [connect(server) for _ in range(50)]
    try:
        for i, sock in enumerate(stalled):  # half stall in the headers, half in a body
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHo" if i % 2 else post_head(100) + b"{")
        assert httpx.get(f"{server.url}/healthz", timeout=BOUND).status_code == 200
        deadline = time.monotonic() + BOUND
        replies = [read_until_closed(sock, deadline) for sock in stalled]
    finally:
        for sock in stalled:
            sock.close()
    assert all(reply.startswith(b"HTTP/1.1 408 ") for reply in replies)
    assert httpx.get(f"{server.url}/healthz", timeout=BOUND).status_code == 200
    # The app saw the cut-off bodies as clients that left, not as errors of its own.
    metrics = httpx.get(f"{server.url}/metrics", timeout=BOUND).text
    assert 'status="500"' not in metrics


@pytest.mark.slow
def test_a_slow_body_within_the_limit_is_served(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(post_head(len(BODY), "Connection: close") + BODY[:20])
        time.sleep(0.2)
        sock.sendall(BODY[20:])
        status, body = read_response(stream)
    assert status == 200, body
    assert json.loads(body)["accepted"] + json.loads(body)["duplicates"] == 1


@pytest.mark.slow
def test_expect_100_continue_gets_its_go_ahead_and_an_answer(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(post_head(len(BODY), "Expect: 100-continue", "Connection: close"))
        assert read_response(stream) == (100, b"")
        sock.sendall(BODY)
        status, body = read_response(stream)
    assert status == 200, body


@pytest.mark.slow
def test_a_keep_alive_connection_serves_requests_back_to_back(server: Server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
    with connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(request)
        assert read_response(stream)[0] == 200
        sock.sendall(request)
        assert read_response(stream)[0] == 200
        # Idle between requests is uvicorn's keep-alive (5 s), not the client timeout.
        time.sleep(1.5)
        sock.sendall(request)
        assert read_response(stream)[0] == 200


@pytest.mark.slow
def test_pipelined_requests_are_answered_in_order_then_a_stalled_one_gets_408(
    server: Server,
) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
    with connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(request * 2 + b"GET /healthz HTTP/1.1\r\nHo")
        statuses = [read_response(stream)[0] for _ in range(3)]
        assert stream.read() == b""
    assert statuses == [200, 200, 408]


@pytest.mark.slow
def test_worker_processes_cut_off_slow_clients_too(tmp_path: Path) -> None:
    # `serve --workers N` hands uvicorn's config, the protocol included, to new processes.
    port = free_port()
    env = {
        **os.environ,
        "MASTERY_STORE_URL": f"sqlite:///{tmp_path}/workers.db",
        "MASTERY_AUTH": "off",
        "MASTERY_CLIENT_TIMEOUT_SECONDS": "1",
    }
    command = [str(BIN), "serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, text=True)
    try:
        running = Server(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while not _ready(running.url):
            assert time.monotonic() < deadline and process.poll() is None, "no worker came up"
            time.sleep(0.2)
        with connect(running) as sock:
            sock.sendall(b"GET /heal")
            reply = read_until_closed(sock, time.monotonic() + BOUND)
        assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
