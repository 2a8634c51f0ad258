"""A store that cannot be written answers 503 with nothing half-applied, then recovers."""

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.settings import Settings
from tests.conftest import event, fixed_clock


def test_locked_sqlite_answers_503_then_recovers(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    settings = Settings(store_url=f"sqlite:///{db}?busy_timeout_ms=200", auth="off")
    batch = [
        event(f"b{i}", "quiz.graded", "2026-03-19T10:00:00Z", quiz_id="q", score=1.0)
        for i in range(3)
    ]
    with TestClient(create_app(settings, clock=fixed_clock())) as client:
        first = event("a", "quiz.graded", "2026-03-18T10:00:00Z", quiz_id="q", score=0.0)
        assert client.post("/v1/events", json=first).status_code == 200
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            refused = client.post("/v1/events", json=batch)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["code"] == "store_unavailable"
            assert "locked" in refused.json()["detail"]
            # Readers are not blocked by a writer in WAL mode.
            quiz = client.get("/v1/students/s-1/skills/basics/mastery").json()
            assert quiz["components"]["quiz"] == 0.0
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        retried = client.post("/v1/events", json=batch).json()
        assert (retried["accepted"], retried["duplicates"]) == (3, 0)  # nothing half-applied
        assert client.get("/readyz").status_code == 200


def test_bad_sqlite_options_are_refused(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path}/x.db?busy=1", auth="off")
    with (
        pytest.raises(InvalidConfig, match="unknown SQLite URL options"),
        TestClient(create_app(settings)),
    ):
        pass
