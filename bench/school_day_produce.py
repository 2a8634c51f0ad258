"""The school day's messages: written once to a file, then produced to Kafka on the day's clock.

The file is made before the clock starts (generating and encoding the events is the
benchmark's own work, not the platform's), so during the replay the producer only reads lines
and hands them to librdkafka. Some of its lines are freshness probes: an original
`exercise.completed` of a new exercise by one of every `probe_every` students, with the
completion count it makes (events of one student stay in order on their partition, so the
probe's effect is visible once the student's completion reaches that count).
"""

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import Producer

import school_day_data
from school_day_data import Plan

Probe = tuple[float, str, str, int]  # (produced at, student, skill, completed exercises)


class ProbeSink(Protocol):
    """Where the producer reports its probes (a multiprocessing queue, or any queue)."""

    def put(self, item: Probe | None) -> None:
        """Take one probe; None when production is over."""


def write_day(
    plan: Plan, path: Path, probe_every: int, frontier_step: int = 1000
) -> dict[str, Any]:
    """Write `second \\t again \\t probe \\t event` lines in time order; the mix and counts."""
    done: dict[tuple[str, str], set[str]] = {}
    types: Counter[str] = Counter()
    probes = 0
    frontier = []  # the day second of every `frontier_step`-th message
    with path.open("w") as out:
        for n, (second, again, event) in enumerate(school_day_data.stream(plan)):
            if n % frontier_step == 0:
                frontier.append(second)
            probe = ""
            index = int(event["student_id"][2:])
            if not again and index % probe_every == 0 and event["type"] == "exercise.completed":
                key = (event["student_id"], event["skill_id"])
                seen = done.setdefault(key, set())
                exercise = event["data"]["exercise_id"]
                if exercise not in seen:
                    seen.add(exercise)
                    probe = f"{event['skill_id']}:{len(seen)}"
                    probes += 1
            types[event["type"]] += not again
            body = json.dumps(event, separators=(",", ":"))
            out.write(f"{second}\t{int(again)}\t{probe}\t{body}\n")
    return {"mix": dict(types), "probes": probes, "frontier": frontier}


def produce_day(
    bootstrap: str,
    topic: str,
    path: Path,
    *,
    tenant: str,
    clock: tuple[float, float, int],
    probes: ProbeSink,
) -> dict[str, Any]:
    """Produce every line when its day second comes up on the compressed clock.

    `clock` is (monotonic start, replay seconds, first day second) and the day's last second
    is read from the file's last line: a day second maps linearly onto the replay window.
    """
    start, seconds, first = clock
    last = _last_second(path)
    scale = seconds / max(1, last - first)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    failures: list[str] = []
    headers: list[tuple[str, str | bytes | None]] = [("tenant", tenant.encode())]
    per_second: Counter[int] = Counter()
    sent, behind = 0, 0.0

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    with path.open() as lines:
        for line in lines:
            second, _, probe, body = line.rstrip("\n").split("\t", 3)
            due = start + (int(second) - first) * scale
            now = time.monotonic()
            if due > now + 0.002:  # sleep in slices of at least 2 ms, not per message
                producer.poll(0)
                time.sleep(due - now)
            else:
                behind = max(behind, now - due)
            key = body.split('"student_id":"', 1)[1].split('"', 1)[0].encode()
            while True:
                try:
                    producer.produce(
                        topic, body.encode(), key, headers=headers, on_delivery=delivered
                    )
                    break
                except BufferError:  # librdkafka's queue is full: let deliveries drain it
                    producer.poll(0.05)
            sent += 1
            per_second[int(time.monotonic() - start)] += 1
            if probe:
                skill, count = probe.split(":")
                probes.put((time.monotonic(), key.decode(), skill, int(count)))
            if sent % 1000 == 0:
                producer.poll(0)
    ended = time.monotonic()
    left = producer.flush(120)
    probes.put(None)
    if left or failures:
        raise RuntimeError(f"produce to {topic}: {left} unsent, failures {failures[:3]}")
    return {
        "produced": sent,
        "seconds": ended - start,
        "most_behind_schedule_s": behind,
        "per_second": [per_second[s] for s in range(max(per_second) + 1)],
    }


def _last_second(path: Path) -> int:
    """The day second of the file's last line (read from its end)."""
    with path.open("rb") as lines:
        lines.seek(max(0, path.stat().st_size - 65536))
        return int(lines.read().rstrip(b"\n").rsplit(b"\n", 1)[-1].split(b"\t", 1)[0])
