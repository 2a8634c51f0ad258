"""A school day of learning events: who studies when, in time order, with re-deliveries.

Every student has a few study sessions in one UTC day (yesterday), their start times drawn
from a day with a morning and an afternoon peak and a smaller evening one. Each session
studies one of 10 skills and holds the events of one study day of `dataset.py` (the mix of
every other benchmark: failed and passed attempts, completions, a quiz, a code review, a
session), four minutes apart. A session's events are a pure function of (seed, student,
session), so the correctness check regenerates any student's events without keeping the day.
"""

import heapq
import math
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dataset
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM

# (weight, mean hour, spread in hours) of the session start times, in UTC.
PEAKS = ((0.45, 9.5, 1.0), (0.40, 14.5, 1.2), (0.15, 19.5, 1.3))
FIRST_HOUR, LAST_HOUR = 7.0, 21.5
GAP_S = int(dataset.EVENT_GAP.total_seconds())
MEAN_SESSION_EVENTS = 5.4  # of dataset.day_items, measured: sessions per student follow it
REDELIVERY_DELAY_S = 300  # a re-delivery comes up to 5 minutes (of the day) after the original
HALF_LIFE_S = 30 * 86400
WINDOW_DAYS = 14


@dataclass(frozen=True, slots=True)
class Session:
    """One study session: when it starts (seconds after the day's midnight), whose, how big."""

    start_s: int
    index: int
    number: int
    events: int


@dataclass(frozen=True)
class Plan:
    """Every session of the day, in start order, and the totals the run must reproduce."""

    seed: int
    students: int
    day: datetime
    sessions: list[Session]
    distinct: int
    produced: int  # distinct events plus re-deliveries

    @property
    def redeliveries(self) -> int:
        """Events sent a second time."""
        return self.produced - self.distinct

    def first_event_s(self) -> list[int]:
        """Per student, the day second of their first event (a day long for none)."""
        first = [86400] * self.students
        for s in self.sessions:
            first[s.index] = min(first[s.index], s.start_s)
        return first

    def span_s(self) -> tuple[int, int]:
        """Day seconds of the first event and of the last original one."""
        last = max(s.start_s + (s.events - 1) * GAP_S for s in self.sessions)
        return self.sessions[0].start_s, last


def start_second(rng: random.Random) -> int:
    """A session start, from the day's three peaks, within school hours and the evening."""
    weights = [share for share, _, _ in PEAKS]
    _, hour, spread = rng.choices(PEAKS, weights)[0]
    moment = min(LAST_HOUR, max(FIRST_HOUR, rng.gauss(hour, spread)))
    return int(moment * 3600)


def session_items(seed: int, index: int, number: int) -> tuple[str, list[dataset.Item]]:
    """The skill and (type, data) items of one session."""
    rng = random.Random(f"{seed}:{index}:{number}")
    who = dataset.profile(seed, index)
    progress = random.Random(f"{seed}:{index}").random()
    skill = dataset.skill_for(rng, who, progress, dataset.TEN_SKILLS)
    return skill, dataset.day_items(rng, who, skill)


def make_plan(seed: int, students: int, events: int, redelivery: float = 0.02) -> Plan:
    """Sessions for `students` with about `events` messages in all, `redelivery` of them again."""
    distinct_goal = events / (1 + redelivery)
    per_student = distinct_goal / students / MEAN_SESSION_EVENTS
    sessions = []
    for index in range(students):
        rng = random.Random(f"{seed}:{index}:sessions")
        count = max(1, round(rng.gauss(per_student, per_student / 3))) + 1
        for number in range(count):
            size = len(session_items(seed, index, number)[1])
            sessions.append(Session(start_second(rng), index, number, size))
    # Leave some sessions out (at random) so the originals are `events / (1 + redelivery)`.
    random.Random(seed).shuffle(sessions)
    distinct = sum(s.events for s in sessions)
    while sessions and distinct > distinct_goal:
        distinct -= sessions.pop().events
    sessions.sort(key=lambda s: (s.start_s, s.index, s.number))
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    produced = max(events, distinct)  # the re-deliveries make up the difference
    return Plan(seed, students, day, sessions, distinct, produced)


def session_events(plan: Plan, session: Session) -> list[tuple[int, dict[str, Any]]]:
    """(day second, canonical event) of one session."""
    skill, items = session_items(plan.seed, session.index, session.number)
    sid = dataset.student_id(session.index)
    out = []
    for k, (kind, data) in enumerate(items):
        second = session.start_s + k * GAP_S
        event: dict[str, Any] = {"id": f"{sid}-{session.number}-{k}", "type": kind}
        event["student_id"] = sid
        if kind != "activity":
            event["skill_id"] = skill
        moment = plan.day + timedelta(seconds=second)
        event |= {"occurred_at": dataset.stamp(moment), "data": data}
        out.append((second, event))
    return out


def student_events(plan: Plan, index: int) -> list[dict[str, Any]]:
    """Every distinct event of one student that day."""
    mine = [s for s in plan.sessions if s.index == index]
    return [event for s in mine for _, event in session_events(plan, s)]


def stream(plan: Plan) -> Iterator[tuple[int, bool, dict[str, Any]]]:
    """(day second, is a re-delivery, event) of the whole day in time order."""
    pending: list[tuple[int, int, bool, dict[str, Any]]] = []
    order = 0  # ties keep generation order
    sent = 0
    for session in plan.sessions:
        while pending and pending[0][0] < session.start_s:
            second, _, again, event = heapq.heappop(pending)
            yield second, again, event
        for second, event in session_events(plan, session):
            heapq.heappush(pending, (second, order, False, event))
            # Spread the re-deliveries evenly over the originals, exactly as many as planned.
            if _share(sent + 1, plan) > _share(sent, plan):
                later = second + 1 + zlib.crc32(event["id"].encode()) % REDELIVERY_DELAY_S
                heapq.heappush(pending, (later, order + 1, True, event))
            order += 2
            sent += 1
    while pending:
        second, _, again, event = heapq.heappop(pending)
        yield second, again, event


def _share(sent: int, plan: Plan) -> int:
    return sent * plan.redeliveries // plan.distinct


def reference(events: list[dict[str, Any]], as_of_us: int) -> dict[str, float]:
    """Mastery per skill straight from the formula of the contract, over distinct events."""
    unique = {e["id"]: e for e in events}.values()
    seen = [(e, _us(e["occurred_at"])) for e in unique]
    seen = [(e, t) for e, t in seen if t <= as_of_us]
    today = as_of_us // 86_400_000_000
    days = {t // 86_400_000_000 for _, t in seen}
    consistency = len([d for d in days if today - WINDOW_DAYS < d <= today]) / WINDOW_DAYS
    extra = sorted({e["skill_id"] for e, _ in seen if "skill_id" in e} - set(SKILLS))
    found = {}
    for skill in (*SKILLS, *extra):
        mine = [(e, t) for e, t in seen if e.get("skill_id") == skill]
        done = {e["data"]["exercise_id"] for e, _ in mine if e["type"] == "exercise.completed"}
        completion = min(1.0, len(done) / DEFAULT_CURRICULUM.exercise_count(skill))
        quiz = _recency_mean([(t, e["data"]["score"]) for e, t in mine if "score" in e["data"]])
        quality = _recency_mean(
            [(t, e["data"]["quality"]) for e, t in mine if "quality" in e["data"]]
        )
        total = 0.4 * completion + 0.3 * quiz + 0.2 * quality + 0.1 * consistency
        found[skill] = min(1.0, max(0.0, total))
    return found


SKILLS = DEFAULT_CURRICULUM.skill_ids


def _recency_mean(scores: list[tuple[int, float]]) -> float:
    if not scores:
        return 0.0
    t0 = max(t for t, _ in scores)
    weights = [math.pow(2.0, (t - t0) / 1e6 / HALF_LIFE_S) for t, _ in scores]
    return sum(w * s for w, (_, s) in zip(weights, scores, strict=True)) / sum(weights)


def _us(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000
