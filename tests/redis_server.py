"""A private redis-server for tests that stop and restart the store."""

import subprocess
import time
from pathlib import Path

import redis


def start_server(port: int, directory: Path) -> "subprocess.Popen[bytes]":
    """A private redis-server that fsyncs every write to its append-only file."""
    server = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "yes", "--appendfsync", "always", "--dir", str(directory)),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with redis.Redis(port=port) as client:
                client.ping()
            return server
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.02)
