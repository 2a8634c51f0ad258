"""After the school day: a sample of students checked against the formula, and the out topic.

Each sampled student's mastery, as a replica answers it, is compared with two evaluations of
the events the benchmark generated for them (de-duplicated): the contract's formula written
out directly over the raw events (`school_day_data.reference`), and the pure core
(`contribution` -> `fold` -> `evaluate_student`), both at the instant the answer names.
"""

import json
import random
import time
from collections import Counter
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition

import school_day_data
from mastery_engine.core.aggregates import contribution, fold
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.events import parse_event
from mastery_engine.core.formula import FormulaConfig, evaluate_student
from mastery_engine.core.instants import parse_rfc3339
from school_day_data import Plan

TOLERANCE = 1e-6


def core_mastery(events: list[dict[str, Any]], as_of: int) -> dict[str, float]:
    """Mastery per skill from the pure core over the distinct events."""
    unique = {e["id"]: e for e in events}.values()
    aggregates = fold(contribution(parse_event(e, as_of)) for e in unique)
    found = evaluate_student(aggregates, as_of, DEFAULT_CURRICULUM, FormulaConfig())
    return {m.skill_id: m.mastery for m in found}


def largest_gap(got: dict[str, float], want: dict[str, float]) -> float:
    """The largest difference over the skills; infinite when the skills differ."""
    if got.keys() != want.keys():
        return float("inf")
    return max((abs(got[k] - want[k]) for k in want), default=0.0)


def check_sample(plan: Plan, urls: list[str], token: str, size: int, seed: int) -> dict[str, Any]:
    """`size` random students through the replicas (in turn) against both evaluations."""
    chosen = random.Random(seed).sample(range(plan.students), min(size, plan.students))
    by_student: dict[int, list[dict[str, Any]]] = {i: [] for i in chosen}
    for session in plan.sessions:
        if session.index in by_student:
            by_student[session.index] += [
                e for _, e in school_day_data.session_events(plan, session)
            ]
    worst_reference = worst_core = 0.0
    wrong: list[str] = []
    statuses: Counter[int] = Counter()
    headers = {"authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=u, headers=headers, timeout=30) for u in urls]
    try:
        for n, index in enumerate(chosen):
            student = f"s-{index:05d}"
            answer = clients[n % len(clients)].get(f"/v1/students/{student}/mastery")
            statuses[answer.status_code] += 1
            events = by_student[index]
            if not events:  # no event that day: the service does not know the student
                if answer.status_code != 404:
                    wrong.append(f"{student}: {answer.status_code} for a student without events")
                continue
            if answer.status_code != 200:
                wrong.append(f"{student}: {answer.status_code} {answer.text[:200]}")
                continue
            body = answer.json()
            as_of = parse_rfc3339(body["as_of"], "as_of")
            got = {s["skill_id"]: s["mastery"] for s in body["skills"]}
            gap_ref = largest_gap(got, school_day_data.reference(events, as_of))
            gap_core = largest_gap(got, core_mastery(events, as_of))
            worst_reference, worst_core = max(worst_reference, gap_ref), max(worst_core, gap_core)
            if max(gap_ref, gap_core) > TOLERANCE:
                wrong.append(f"{student}: off by {gap_ref:.3g} (formula), {gap_core:.3g} (core)")
    finally:
        for client in clients:
            client.close()
    return {
        "students": len(chosen),
        "with_events": sum(1 for i in chosen if by_student[i]),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "largest_gap_formula": worst_reference,
        "largest_gap_core": worst_core,
        "wrong": wrong[:20],
        "wrong_count": len(wrong),
        "exact": not wrong,
    }


def count_topic(bootstrap: str, topic: str, partitions: int, quiet_s: float = 3.0) -> Counter[str]:
    """Messages of every partition of a topic, by their `type` (read until quiet)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "school-day-reader",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    kinds: Counter[str] = Counter()
    last = time.monotonic()
    try:
        while time.monotonic() - last < quiet_s:
            batch = [m for m in consumer.consume(5000, 0.5) if m.error() is None]
            for message in batch:
                kinds[str(json.loads(message.value() or b"{}").get("type"))] += 1
            if batch:
                last = time.monotonic()
    finally:
        consumer.close()
    return kinds
