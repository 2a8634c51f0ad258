"""Start the real `mastery-engine serve` process for end-to-end tests."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent / "mastery-engine"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running server process and its base URL."""

    process: subprocess.Popen[str]
    url: str


@contextmanager
def serve(store: Path | str, port: int, **env: str) -> Iterator[Server]:
    """Run the server on a SQLite file (or any store URL) until the block ends or is killed."""
    url = f"sqlite:///{store}" if isinstance(store, Path) else store
    full_env = {**os.environ, "MASTERY_STORE_URL": url, "MASTERY_AUTH": "off", **env}
    command = [str(BIN), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=full_env, stderr=subprocess.PIPE, text=True)
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not become ready in 30 s")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=30)
