"""The school-day benchmark, scaled down: real broker, Redis Cluster, consumers and replicas.

What a user of the pipeline relies on, end to end: every produced message is accounted for
(each re-delivery counted once as a duplicate), the students' mastery is exactly what the
formula gives over their events, announcements go out, and no query is answered with a
5xx. Timings are printed by the benchmark, never asserted. The cluster must be running
(`make test` starts it): without it the test fails.
"""

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.backends import REDIS_CLUSTER_URL, redis_client

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def school_day() -> Iterator[ModuleType]:
    """The benchmark's entry point, importable from bench/ (scripts, not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        import school_day

        yield school_day
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_small_school_day_is_ingested_exactly_under_query_load(school_day: ModuleType) -> None:
    with redis_client("redis-cluster") as cluster:  # fails here when the cluster is missing
        assert cluster.ping()
    base = REDIS_CLUSTER_URL.split("?", 1)[0]
    figures: dict[str, Any] = school_day.main(
        [
            *("--students", "300", "--events", "4000", "--replay-seconds", "6"),
            *("--rate", "60", "--sample", "300", "--probe-every", "10"),
            *("--store-url", base, "--result-name", ""),
            *("--catch-up-timeout", "60"),
        ]
    )
    plan, summary = figures["plan"], figures["summary"]
    accounted = summary["accounted"]
    assert plan["produced"] == 4000
    assert plan["redeliveries"] > 0
    assert accounted["accepted"] + accounted["duplicates"] == plan["produced"]
    if accounted["store_retries"] == 0:
        assert accounted["accepted"] == plan["distinct"]
        assert accounted["duplicates"] == plan["redeliveries"]
    else:  # a batch retried after a store timeout reports what it had applied as duplicates
        assert accounted["accepted"] <= plan["distinct"]
    assert figures["ingest"]["done_at_s"] is not None

    check = figures["correctness"]
    assert check["with_events"] > 0
    assert check["wrong"] == []
    assert check["exact"]

    assert sum(figures["announcements"].values()) > 0
    assert figures["announcements"].get("mastery.changed", 0) > 0
    for endpoint, load in figures["load"].items():
        assert load["completed"] > 0, endpoint
        assert load["server_errors"] == 0, (endpoint, load["statuses"])
    assert figures["freshness"]["probes"] > 0
    assert figures["keys_removed"] > 0
