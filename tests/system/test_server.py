"""The real server process: demo on first start only, SQLite survives a restart, SIGTERM exits."""

import signal
from pathlib import Path

import httpx
import pytest

from tests.serving import free_port, serve

EVENT = {
    "id": "restart-1",
    "type": "quiz.graded",
    "student_id": "ada",
    "skill_id": "regex",
    "occurred_at": "2026-01-05T10:00:00Z",
    "data": {"quiz_id": "q", "score": 0.75},
}


def test_demo_loads_once_and_data_survives_restart(tmp_path: Path) -> None:
    db, port = tmp_path / "served.db", free_port()
    with serve(db, port, MASTERY_DEMO="1") as server:
        students = httpx.get(f"{server.url}/v1/students").json()["students"]
        assert len(students) == 6
        before = httpx.get(f"{server.url}/v1/students/ada/mastery").json()
        assert any(s["mastery"] > 0 for s in before["skills"])
        assert httpx.post(f"{server.url}/v1/events", json=EVENT).json()["accepted"] == 1
        server.process.send_signal(signal.SIGTERM)
        _, stderr = server.process.communicate(timeout=30)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status shows it.
        assert server.process.returncode in (0, -signal.SIGTERM), stderr
        assert "Application shutdown complete" in stderr
        assert "authentication is OFF" in stderr
    with serve(db, port, MASTERY_DEMO="1") as server:
        assert httpx.get(f"{server.url}/v1/students").json()["students"] == students
        assert httpx.post(f"{server.url}/v1/events", json=EVENT).json()["duplicates"] == 1
        url = f"{server.url}/v1/students/ada/skills/regex/mastery?as_of=2026-01-05"
        assert httpx.get(url).json()["components"]["quiz"] == pytest.approx(0.75)
