"""Event streams for the source tests: valid events with duplicates and poison, as Kafka records,
the reference state a direct ingest of the valid events reaches, and per-test topic names.
"""

import asyncio
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.formula import FormulaConfig
from mastery_engine.core.instants import parse_as_of
from mastery_engine.service.mastery import MasteryService
from mastery_engine.settings import Settings
from mastery_engine.stores.memory import MemoryStore
from mastery_engine.wiring import open_service
from tests.conftest import fixed_clock
from tests.kafka_broker import Broker, Record

AS_OF = "2026-02-28"
TENANTS = ("school-a", "school-b")
SKILLS = ("basics", "control-flow", "functions", "oop", "errors")
State = dict[tuple[str, str, str], float]


def tenant_of(student: str) -> str:
    """Students alternate between the two tenants."""
    return TENANTS[int(student.rsplit("-", 1)[1]) % len(TENANTS)]


def _data(rng: random.Random, kind: str) -> dict[str, Any]:
    return {
        "exercise.completed": lambda: {"exercise_id": f"e{rng.randrange(14)}"},
        "exercise.attempted": lambda: {
            "exercise_id": f"e{rng.randrange(14)}",
            "passed": rng.random() < 0.6,
            "error_type": rng.choice(["TypeError", "KeyError"]),
        },
        "quiz.graded": lambda: {"quiz_id": f"q{rng.randrange(9)}", "score": round(rng.random(), 3)},
        "code.reviewed": lambda: {
            "submission_id": f"r{rng.randrange(99)}",
            "quality": rng.random(),
        },
        "activity": lambda: {"kind": "study_session", "duration_s": rng.randrange(60, 3600)},
    }[kind]()


def make_events(count: int, students: int = 80, seed: int = 1, prefix: str = "e") -> list[Any]:
    """`count` valid canonical events of February 2026, every type, unique ids."""
    rng = random.Random(seed)
    kinds = ("exercise.completed", "exercise.attempted", "quiz.graded", "code.reviewed", "activity")
    events = []
    for i in range(count):
        kind = rng.choice(kinds)
        second = rng.randrange(27 * 86_400)
        day, rest = divmod(second, 86_400)
        at = f"2026-02-{day + 1:02d}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}Z"
        event = {
            "id": f"{prefix}-{i}",
            "type": kind,
            "student_id": f"s-{rng.randrange(students)}",
            "occurred_at": at,
            "data": _data(rng, kind),
        }
        if kind != "activity" or rng.random() < 0.5:
            event["skill_id"] = rng.choice(SKILLS)
        events.append(event)
    return events


def record(event: dict[str, Any]) -> Record:
    """An event as the platform produces it: keyed by student, tenant in a header."""
    student = event["student_id"]
    return student.encode(), json.dumps(event).encode(), [("tenant", tenant_of(student).encode())]


POISON: list[tuple[str, bytes]] = [
    ("invalid_json", b'{"id": "p-%d", "type": "quiz.graded", '),
    ("invalid_event", b'{"id": "p-%d", "type": "lesson.watched", "student_id": "s-1"}'),
    (
        "invalid_event",
        b'{"id": "p-%d", "type": "quiz.graded", "student_id": "s-1", "skill_id": "basics",'
        b' "occurred_at": "2026-02-02T10:00:00Z", "data": {"quiz_id": "q", "score": 3}}',
    ),
    (
        "invalid_event",
        b'{"id": "p-%d", "type": "exercise.completed", "student_id": "s-1", "skill_id": "basics",'
        b' "occurred_at": "2026-02-02T10:00:00", "data": {"exercise_id": "e1"}}',
    ),
    ("invalid_json", b"\xff\xfe not utf-8 %d"),
    ("invalid_event", b'[{"id": "p-%d"}]'),
]


@dataclass
class MixedStream:
    """Records in send order, the valid events (once each), and poison value -> reason."""

    records: list[Record] = field(default_factory=list)
    valid: list[dict[str, Any]] = field(default_factory=list)
    poison: dict[bytes, str] = field(default_factory=dict)


def mixed_stream(total: int, duplicates: float, poison: float, seed: int = 7) -> MixedStream:
    """`total` records: unique valid events, re-sent copies of some, and poison messages."""
    rng = random.Random(seed)
    n_dup, n_poison = round(total * duplicates), round(total * poison)
    stream = MixedStream(valid=make_events(total - n_dup - n_poison, seed=seed))
    stream.records = [record(e) for e in stream.valid]
    for _ in range(n_dup):  # a re-send lands after the original
        original = rng.randrange(len(stream.valid))
        where = rng.randrange(original + 1, len(stream.records) + 1)
        stream.records.insert(where, record(stream.valid[original]))
    for i in range(n_poison):
        reason, template = POISON[i % len(POISON)]
        value = template.replace(b"%d", str(i).encode())
        stream.poison[value] = reason
        stream.records.insert(rng.randrange(len(stream.records) + 1), (b"s-1", value, []))
    return stream


async def state_of(service: MasteryService) -> State:
    """Mastery of every skill of every student of both tenants at AS_OF."""
    at = parse_as_of(AS_OF)
    state: State = {}
    for tenant in TENANTS:
        for student in await service.students(tenant):
            for skill in (await service.mastery(tenant, student, at)).skills:
                state[(tenant, student, skill.skill_id)] = skill.mastery
    return state


def reference(events: list[dict[str, Any]]) -> State:
    """The state a direct ingest of the events reaches (memory store)."""

    async def run() -> State:
        store = MemoryStore()
        service = MasteryService(store, DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock())
        for tenant in TENANTS:
            mine = [e for e in events if tenant_of(e["student_id"]) == tenant]
            for start in range(0, len(mine), 1000):
                await service.ingest(tenant, mine[start : start + 1000])
        return await state_of(service)

    return asyncio.run(run())


def stored_state(store_url: str) -> State:
    """The state a store holds (read through a fresh service)."""

    async def run() -> State:
        async with open_service(Settings(store_url=store_url, auth="off")) as service:
            return await state_of(service)

    return asyncio.run(run())


def assert_same_state(actual: State, expected: State) -> None:
    """Same students and skills; mastery equal up to floating-point summation order."""
    assert actual.keys() == expected.keys()
    different = {k: (actual[k], v) for k, v in expected.items() if abs(actual[k] - v) > 1e-9}
    assert not different, f"{len(different)} skills differ, e.g. {list(different.items())[:3]}"


@dataclass
class Topics:
    """Topic and group names of one test, on the shared broker."""

    broker: Broker
    topic: str
    dlq: str
    out: str
    group: str

    @classmethod
    def fresh(cls, broker: Broker, partitions: int = 4) -> "Topics":
        """New names, topics created."""
        name = f"t{uuid.uuid4().hex[:10]}"
        topics = cls(broker, name, f"{name}.dlq", f"{name}.out", f"{name}-group")
        broker.create_topics(topics.topic, topics.dlq, topics.out, partitions=partitions)
        return topics

    def env(self, store_url: str, **extra: str) -> dict[str, str]:
        """MASTERY_* variables of a consumer on these topics."""
        return {
            "MASTERY_STORE_URL": store_url,
            "MASTERY_AUTH": "off",
            "MASTERY_KAFKA_BOOTSTRAP": self.broker.bootstrap,
            "MASTERY_KAFKA_TOPIC": self.topic,
            "MASTERY_KAFKA_DLQ_TOPIC": self.dlq,
            "MASTERY_KAFKA_OUT_TOPIC": self.out,
            "MASTERY_KAFKA_GROUP": self.group,
            "MASTERY_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "MASTERY_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
            **extra,
        }

    def settings(self, store_url: str, **extra: Any) -> Settings:
        """The same, as settings for an in-process consumer."""
        base: dict[str, Any] = {
            key.removeprefix("MASTERY_").lower(): value
            for key, value in self.env(store_url).items()
        }
        return Settings(**(base | extra))
