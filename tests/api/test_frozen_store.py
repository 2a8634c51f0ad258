"""A store that stops answering (its process frozen with SIGSTOP, as a partition looks): every
request gets its 503 with Retry-After by the store deadline, not after the driver's retries,
and once the store wakes nothing acknowledged is lost and nothing is counted twice."""

import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.postgres_server import postgres_server
from tests.redis_server import start_server
from tests.serving import free_port, serve
from tests.sources.streams import (
    assert_same_state,
    make_events,
    reference,
    stored_state,
    tenant_of,
)

pytestmark = pytest.mark.slow

DEADLINE_S = "1"  # MASTERY_STORE_TIMEOUT_SECONDS of these servers
# Far above the deadline, far below the ~20 s a request hung before: this only catches hangs.
NO_HANG_S = 8.0
Frozen = tuple[str, Callable[[], None], Callable[[], None]]  # store URL, freeze, wake


@contextmanager
def frozen_redis(tmp_path: Path) -> Iterator[Frozen]:
    port = free_port()
    server = start_server(port, tmp_path)
    try:
        yield (
            f"redis://127.0.0.1:{port}/0?prefix=frozen:",
            lambda: server.send_signal(signal.SIGSTOP),
            lambda: server.send_signal(signal.SIGCONT),
        )
    finally:
        server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait()


@contextmanager
def frozen_postgres(tmp_path: Path) -> Iterator[Frozen]:
    with postgres_server(free_port()) as server:
        yield (
            server.url,
            lambda: server.signal_all(signal.SIGSTOP),
            lambda: server.signal_all(signal.SIGCONT),
        )


STORES = {"redis": frozen_redis, "postgres": frozen_postgres}


def post(url: str, events: list[dict[str, Any]]) -> httpx.Response:
    """The events of one tenant (authentication is off: the tenant is X-Tenant-ID)."""
    tenant = tenant_of(events[0]["student_id"])
    return httpx.post(f"{url}/v1/events", json=events, headers={"X-Tenant-ID": tenant}, timeout=30)


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def requests_while_frozen(url: str, second: list[dict[str, Any]]) -> list[Callable[[], Any]]:
    tenant = {"X-Tenant-ID": tenant_of(second[0]["student_id"])}
    student = second[0]["student_id"]
    return [
        lambda: post(url, second),
        lambda: httpx.get(f"{url}/v1/students/{student}/mastery", headers=tenant, timeout=30),
        lambda: httpx.get(f"{url}/v1/students", headers=tenant, timeout=30),
        lambda: httpx.get(f"{url}/readyz", timeout=30),
    ]


@pytest.mark.parametrize("backend", sorted(STORES))
def test_a_frozen_store_answers_503_by_the_deadline_and_loses_nothing(
    backend: str, tmp_path: Path
) -> None:
    events = make_events(60, students=2, seed=31)
    one_tenant = [e for e in events if tenant_of(e["student_id"]) == tenant_of("s-0")]
    first, second = one_tenant[:15], one_tenant[15:]
    with (
        STORES[backend](tmp_path) as (url, freeze, wake),
        serve(url, free_port(), MASTERY_STORE_TIMEOUT_SECONDS=DEADLINE_S) as server,
    ):
        assert post(server.url, first).json()["accepted"] == len(first)
        freeze()
        try:
            with ThreadPoolExecutor(4) as pool:
                calls = requests_while_frozen(server.url, second)
                answers = list(pool.map(timed, calls))
        finally:
            wake()
        for answer, took in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "1"
            assert took < NO_HANG_S, f"{answer.request.url} took {took:.1f} s"
        ready = answers[-1][0].json()
        assert ready["checks"]["store"]["status"] == "unavailable"
        assert "did not answer" in ready["checks"]["store"]["error"]
        retried = post(server.url, second).json()  # the client retries after its 503
        assert retried["accepted"] + retried["duplicates"] == len(second)
        assert retried["rejected"] == 0
        again = post(server.url, second).json()
        assert again["duplicates"] == len(second)
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert_same_state(stored_state(url), reference(first + second))


def test_a_frozen_rate_limit_storage_answers_503_by_the_deadline(tmp_path: Path) -> None:
    with (
        frozen_redis(tmp_path) as (url, freeze, wake),
        serve(
            tmp_path / "limited.db",
            free_port(),
            MASTERY_STORE_TIMEOUT_SECONDS=DEADLINE_S,
            MASTERY_RATE_LIMIT_STORAGE=url.split("?")[0],
        ) as server,
    ):
        events = make_events(4, students=1, seed=3)
        assert post(server.url, events[:2]).status_code == 200
        freeze()
        try:
            answer, took = timed(lambda: post(server.url, events[2:]))
        finally:
            wake()
        assert answer.status_code == 503
        assert "rate-limit storage did not answer" in answer.json()["detail"]
        assert took < NO_HANG_S
        assert post(server.url, events[2:]).json()["accepted"] == 2
