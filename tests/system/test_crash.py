"""A server killed mid-ingest loses nothing and double-counts nothing once clients retry."""

import asyncio
import random
import signal
import threading
from pathlib import Path
from typing import Any

import httpx

from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.formula import FormulaConfig
from mastery_engine.core.instants import parse_as_of
from mastery_engine.service.mastery import MasteryService
from mastery_engine.stores.memory import MemoryStore
from tests.conftest import fixed_clock
from tests.serving import free_port, serve

STUDENTS = [f"s{i}" for i in range(40)]
AS_OF = "2026-02-28"


def batches(count: int = 30, size: int = 400) -> list[list[dict[str, Any]]]:
    rng = random.Random(3)
    out = []
    for b in range(count):
        batch = []
        for i in range(size):
            day, second = rng.randrange(1, 28), rng.randrange(86_400)
            at = (
                f"2026-02-{day:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
            )
            skill = rng.choice(["basics", "functions", "oop"])
            kind = rng.choice(["quiz.graded", "exercise.completed", "code.reviewed"])
            data = {
                "quiz.graded": {"quiz_id": "q", "score": rng.random()},
                "exercise.completed": {"exercise_id": f"e{rng.randrange(12)}"},
                "code.reviewed": {"submission_id": "s", "quality": rng.random()},
            }[kind]
            batch.append(
                {
                    "id": f"b{b}-{i}",
                    "type": kind,
                    "student_id": rng.choice(STUDENTS),
                    "skill_id": skill,
                    "occurred_at": at,
                    "data": data,
                }
            )
        out.append(batch)
    return out


def reference(all_batches: list[list[dict[str, Any]]]) -> dict[str, list[float]]:
    async def run() -> dict[str, list[float]]:
        service = MasteryService(
            MemoryStore(), DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock()
        )
        for batch in all_batches:
            await service.ingest("default", batch)
        out = {}
        for student in STUDENTS:
            result = await service.mastery("default", student, parse_as_of(AS_OF))
            out[student] = [s.mastery for s in result.skills]
        return out

    return asyncio.run(run())


def test_sigkill_mid_ingest_then_retry_everything(tmp_path: Path) -> None:
    db, port = tmp_path / "crash.db", free_port()
    all_batches = batches()
    posted = 0
    with serve(db, port) as server:

        def post_until_killed() -> None:
            nonlocal posted
            with httpx.Client(base_url=server.url, timeout=10) as client:
                for batch in all_batches:
                    try:
                        client.post("/v1/events", json=batch)
                    except httpx.TransportError:
                        return
                    posted += 1

        sender = threading.Thread(target=post_until_killed)
        sender.start()
        while posted < 8:
            threading.Event().wait(0.01)
        server.process.send_signal(signal.SIGKILL)
        sender.join(timeout=30)
    assert 8 <= posted < len(all_batches), "the kill should land mid-ingest"
    with serve(db, port) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        totals = {"accepted": 0, "duplicates": 0}
        for batch in all_batches:  # at-least-once: the client re-sends everything
            body = client.post("/v1/events", json=batch).json()
            totals["accepted"] += body["accepted"]
            totals["duplicates"] += body["duplicates"]
        assert totals["accepted"] + totals["duplicates"] == sum(len(b) for b in all_batches)
        assert totals["duplicates"] >= 8 * 400  # what was acknowledged before the kill stayed
        expected = reference(all_batches)
        for student in STUDENTS:
            skills = client.get(f"/v1/students/{student}/mastery", params={"as_of": AS_OF}).json()
            got = [s["mastery"] for s in skills["skills"]]
            assert all(abs(a - b) < 1e-9 for a, b in zip(got, expected[student], strict=True))
