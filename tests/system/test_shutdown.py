"""Graceful shutdown under load: SIGTERM turns /readyz to 503, in-flight work completes, exit."""

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import event
from tests.serving import free_port, serve

DRAIN_S = 2.0
CLIENTS = 6


class Load:
    """Clients that send requests while the server looks ready, like a load balancer would."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ready = threading.Event()
        self.ready.set()
        self.stop = threading.Event()
        self.answers: list[tuple[float, int]] = []  # (time, status)
        self.failures: list[str] = []
        self.posted: list[str] = []
        self.lock = threading.Lock()

    def probe(self) -> None:
        """Watch readiness every 50 ms; stop routing new requests once it fails."""
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                try:
                    if client.get(f"{self.url}/readyz").status_code != 200:
                        self.ready.clear()
                        return
                except httpx.TransportError:
                    self.ready.clear()
                    return
                time.sleep(0.05)

    def client(self, number: int) -> None:
        """Read mastery and post events until the server stops looking ready."""
        with httpx.Client(timeout=10) as client:
            sent = 0
            while self.ready.is_set() and not self.stop.is_set():
                sent += 1
                event_id = f"load-{number}-{sent}"
                try:
                    if sent % 3:
                        answer = client.get(f"{self.url}/v1/students/ada/skills/oop/history")
                    else:
                        answer = client.post(f"{self.url}/v1/events", json=quiz(event_id))
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                with self.lock:
                    self.answers.append((time.monotonic(), answer.status_code))
                    if answer.request.method == "POST" and answer.status_code == 200:
                        self.posted.append(event_id)


def quiz(event_id: str) -> dict[str, object]:
    return event(
        event_id,
        "quiz.graded",
        "2026-01-05T10:00:00Z",
        student="ada",
        skill="oop",
        quiz_id="q",
        score=0.5,
    )


def test_sigterm_under_load_loses_no_request(tmp_path: Path) -> None:
    db, port = tmp_path / "drain.db", free_port()
    env = {"MASTERY_DEMO": "1", "MASTERY_SHUTDOWN_DRAIN_SECONDS": str(DRAIN_S)}
    with serve(db, port, **env) as server:
        load = Load(server.url)
        threads = [threading.Thread(target=load.probe)]
        threads += [threading.Thread(target=load.client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        _, stderr = server.process.communicate(timeout=60)
        exited = time.monotonic()
        load.stop.set()
        for thread in threads:
            thread.join(15)

    assert server.process.returncode in (0, -signal.SIGTERM), stderr
    assert load.failures == [], load.failures[:5]
    assert {status for _, status in load.answers} == {200}
    assert any(at > signalled for at, _ in load.answers), "nothing was in flight at SIGTERM"
    assert exited - signalled >= DRAIN_S  # readiness failed first, then the server stopped
    assert "SIGTERM: not ready any more" in stderr
    with serve(db, port) as server:  # every acknowledged event is stored
        resent = httpx.post(f"{server.url}/v1/events", json=[quiz(i) for i in load.posted[:1000]])
        assert resent.json()["duplicates"] == min(len(load.posted), 1000) > 0
