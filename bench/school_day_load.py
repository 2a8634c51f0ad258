"""Queries during the school day: an open-loop mix over both replicas, and freshness probes.

The load runs in a process of its own (its timers must not wait on anything else): per
endpoint and replica, one `openloop.OpenLoop` at its share of the rate. Students are drawn
among those whose first event the consumers have settled (a teacher looks at students the
service knows; asking for the others would time 404s); answers other than 200 are counted
by status. The freshness prober runs in the orchestrating process: it polls a probe's
student until its completion count shows the probe's exercise.
"""

import asyncio
import bisect
import queue
import random
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

import httpx

import report
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from openloop import OpenLoop, Run
from school_day_produce import Probe

# endpoint: (share of the requests, path template, token role)
MIX = {
    "mastery": (0.6, "/v1/students/{student}/mastery", "teacher"),
    "recommendations": (0.3, "/v1/students/{student}/recommendations", "service"),
    "class matrix": (0.1, "/v1/classes/{klass}/mastery", "teacher"),
}
CONNECTIONS = {"mastery": 32, "recommendations": 16, "class matrix": 8}  # per replica
MARGIN = 0.01
FRONTIER_STEP = 1000


@dataclass(frozen=True)
class LoadSpec:
    """What the load process needs: where, who, how fast, and how far ingestion has got."""

    replicas: list[int]
    tokens: dict[str, str]
    first_seconds: list[int]  # per student, the day second of the first event
    class_size: int
    rate: float
    duration: float
    start: float  # monotonic time the load starts
    frontier: list[int]  # day second of every FRONTIER_STEP-th message of the day
    settled: Any  # a shared count of the messages the consumers have settled
    seed: int


class Picker:
    """Random students whose first event the consumers have settled (the first one until then).

    The messages are produced in time order, so the day second of the message numbered
    `settled` (less a margin of `MARGIN` of the day) is how far ingestion has got.
    """

    def __init__(self, spec: LoadSpec, seed: int) -> None:
        self.order = sorted(range(len(spec.first_seconds)), key=spec.first_seconds.__getitem__)
        self.firsts = sorted(spec.first_seconds)
        self.frontier, self.settled = spec.frontier, spec.settled
        self.margin = int(MARGIN * len(spec.frontier))
        self.rng = random.Random(seed)

    def student(self) -> int:
        """A student the service has events of (most likely)."""
        step = self.settled.value // FRONTIER_STEP - self.margin
        now = self.frontier[min(step, len(self.frontier) - 1)] if step >= 0 else -1
        started = bisect.bisect_right(self.firsts, now)
        return self.order[self.rng.randrange(max(1, started))]


def requests(spec: LoadSpec, endpoint: str, port: int, seed: int) -> Any:
    """A function making the bytes of one request of `endpoint` to the replica on `port`."""
    _, template, role = MIX[endpoint]
    picker = Picker(spec, seed)
    head = (
        f" HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n"
        f"Authorization: Bearer {spec.tokens[role]}\r\n\r\n"
    )
    classes = -(-len(spec.first_seconds) // spec.class_size)

    def make() -> bytes:
        index = picker.student()
        path = template.format(student=f"s-{index:05d}", klass=f"class-{index % classes:04d}")
        return f"GET {path}{head}".encode()

    return make


async def drive_all(spec: LoadSpec) -> dict[str, list[Run]]:
    """Every endpoint on every replica at once, until the duration is over."""
    loops: list[tuple[str, OpenLoop]] = []
    for endpoint in MIX:
        for port in spec.replicas:
            loop = OpenLoop("127.0.0.1", port, CONNECTIONS[endpoint])
            await loop.open()
            loops.append((endpoint, loop))
    await asyncio.sleep(max(0.0, spec.start - time.monotonic()))
    runs = []
    for i, (endpoint, loop) in enumerate(loops):
        rate = spec.rate * MIX[endpoint][0] / len(spec.replicas)
        make = requests(spec, endpoint, loop.port, spec.seed + i)
        runs.append(loop.drive(rate, spec.duration, make, drain=30.0))
    done = await asyncio.gather(*runs)
    for _, loop in loops:
        loop.close()
    found: dict[str, list[Run]] = {}
    for (endpoint, _), run in zip(loops, done, strict=True):
        found.setdefault(endpoint, []).append(run)
    return found


def figures(runs: list[Run]) -> dict[str, Any]:
    """One endpoint's figures over both replicas."""
    latencies = [x for r in runs for x in r.latencies + r.unfinished]
    statuses: Counter[int] = Counter()
    for r in runs:
        statuses.update(r.statuses)
    return {
        "target_rate": sum(r.rate for r in runs),
        "achieved_rate": sum(r.achieved_rate for r in runs),
        "scheduled": sum(r.scheduled for r in runs),
        "completed": sum(r.completed for r in runs),
        "unfinished": sum(len(r.unfinished) for r in runs),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "lost_connections": statuses[0],
        "latency_ms": report.summary_ms(latencies),
        "timer_lag_ms": report.summary_ms([x for r in runs for x in r.timer_lags]),
    }


def run_load(spec: LoadSpec) -> dict[str, Any]:
    """In the load process: drive the mix, return the figures per endpoint."""
    runs = asyncio.run(drive_all(spec))
    return {endpoint: figures(found) for endpoint, found in runs.items()}


async def probe_freshness(
    url: str, token: str, probes: "Queue[Probe | None]", deadline: float
) -> dict[str, Any]:
    """Poll each probe's student until its completion shows it; the delays, in seconds.

    A student is polled again after max(0.2 s, a tenth of its oldest probe's age), so the
    delays are upper bounds, at most 0.2 s or 10 % above the true ones.
    """
    waiting: dict[str, list[tuple[float, str, int]]] = {}
    due: dict[str, float] = {}
    delays: list[float] = []
    polls, finished = 0, False
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        while (not finished or waiting) and time.monotonic() < deadline:
            while not finished:
                try:
                    item = probes.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    finished = True
                    continue
                produced, student, skill, count = item
                waiting.setdefault(student, []).append((produced, skill, count))
                due.setdefault(student, produced + 0.2)
            now = time.monotonic()
            ready = [s for s in waiting if due[s] <= now]
            answers = await asyncio.gather(
                *(client.get(f"/v1/students/{s}/mastery") for s in ready)
            )
            polls += len(ready)
            for student, answer in zip(ready, answers, strict=True):
                done = _completions(answer) if answer.status_code == 200 else {}
                seen = time.monotonic()
                left = []
                for produced, skill, count in waiting[student]:
                    exercises = DEFAULT_CURRICULUM.exercise_count(skill)
                    if done.get(skill, 0.0) >= min(1.0, count / exercises) - 1e-9:
                        delays.append(seen - produced)
                    else:
                        left.append((produced, skill, count))
                if left:
                    waiting[student] = left
                    due[student] = seen + max(0.2, 0.1 * (seen - left[0][0]))
                else:
                    del waiting[student], due[student]
            await asyncio.sleep(0.02)
    unseen = sum(len(left) for left in waiting.values())
    return {"probes": len(delays), "unseen": unseen, "polls": polls, **report.summary_ms(delays)}


def _completions(answer: httpx.Response) -> dict[str, float]:
    return {s["skill_id"]: s["components"]["completion"] for s in answer.json()["skills"]}
