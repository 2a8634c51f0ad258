"""The real server process: demo on first start only, SQLite survives a restart, SIGTERM exits."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent / "mastery-engine"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(db: Path, port: int) -> Iterator[str]:
    env = {
        **os.environ,
        "MASTERY_STORE_URL": f"sqlite:///{db}",
        "MASTERY_DEMO": "1",
        "MASTERY_AUTH": "off",
    }
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not become ready in 30 s")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status shows it.
        assert proc.returncode in (0, -signal.SIGTERM), stderr
        assert "Application shutdown complete" in stderr
        assert "authentication is OFF" in stderr


def test_demo_loads_once_and_data_survives_restart(tmp_path: Path) -> None:
    db, port = tmp_path / "served.db", free_port()
    event = {
        "id": "restart-1",
        "type": "quiz.graded",
        "student_id": "ada",
        "skill_id": "regex",
        "occurred_at": "2026-01-05T10:00:00Z",
        "data": {"quiz_id": "q", "score": 0.75},
    }
    with server(db, port) as base:
        students = httpx.get(f"{base}/v1/students").json()["students"]
        assert len(students) == 6
        before = httpx.get(f"{base}/v1/students/ada/mastery").json()
        assert any(s["mastery"] > 0 for s in before["skills"])
        assert httpx.post(f"{base}/v1/events", json=event).json()["accepted"] == 1
    with server(db, port) as base:
        assert httpx.get(f"{base}/v1/students").json()["students"] == students
        assert httpx.post(f"{base}/v1/events", json=event).json()["duplicates"] == 1
        regex = httpx.get(f"{base}/v1/students/ada/skills/regex/mastery?as_of=2026-01-05").json()
        assert regex["components"]["quiz"] == pytest.approx(0.75)
