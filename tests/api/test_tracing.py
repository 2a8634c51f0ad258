"""OpenTelemetry tracing: spans of API requests reach a real OTLP/HTTP receiver."""

import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider

from mastery_engine.api import create_app
from mastery_engine.settings import Settings
from tests.conftest import event, fixed_clock

ROUTE = "GET /v1/students/{student_id}/mastery"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@dataclass(frozen=True)
class Span:
    """What the receiver kept of one span."""

    name: str
    service: str
    trace_id: str
    attributes: dict[str, Any]


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver on loopback; `spans` grows as exports arrive."""

    endpoint: str
    spans: list[Span] = field(default_factory=list)

    def names(self) -> set[str]:
        """Names of the spans received so far."""
        return {span.name for span in self.spans}


def value(any_value: Any) -> Any:
    """The Python value of an OTLP AnyValue."""
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def decoded(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest.FromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {a.key: value(a.value) for a in span.attributes}
                service = resource["service.name"]
                spans.append(Span(span.name, service, span.trace_id.hex(), attributes))
    return spans


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real OTLP/HTTP endpoint accepting protobuf trace exports at POST /v1/traces."""
    received: list[Span] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            received.extend(decoded(body))
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_port}", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def traced(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """The OTel environment pointing at the receiver, with no other OTel settings."""
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    return receiver


def app_client() -> TestClient:
    return TestClient(create_app(Settings(store_url="memory://", auth="off"), fixed_clock()))


def test_each_request_s_span_reaches_the_otlp_endpoint(traced: Receiver) -> None:
    with app_client() as client:
        recorded = event("e1", "quiz.graded", "2026-03-10T10:00:00Z", quiz_id="q", score=0.5)
        assert client.post("/v1/events", json=recorded).status_code == 200
        traceparent = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"
        answer = client.get("/v1/students/s-1/mastery", headers={"traceparent": traceparent})
        assert answer.status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.app.state.tracer_provider.force_flush()  # type: ignore[attr-defined]

        (mastery,) = [span for span in traced.spans if span.name == ROUTE]
        assert mastery.service == "mastery-engine"
        assert mastery.trace_id == CALLER_TRACE  # joins the caller's trace
        assert mastery.attributes["http.route"] == "/v1/students/{student_id}/mastery"
        status = mastery.attributes.get("http.response.status_code")  # stable conventions
        assert (status or mastery.attributes["http.status_code"]) == 200
        assert "POST /v1/events" in traced.names()
        assert not any("healthz" in name for name in traced.names())  # probes are left out
        # One span per request: no per-message send/receive spans.
        assert len(traced.spans) == 2

        client.get("/v1/students")
    # Leaving the lifespan shuts the provider down, which exports what was still queued.
    assert "GET /v1/students" in traced.names()
    # The provider was the app's own: OTel's global one is still unset for everything else.
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


def test_the_service_name_comes_from_otel_service_name(
    traced: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "tutor-api")
    with app_client() as client:
        client.get("/v1/students/s-1/mastery")

    assert {span.service for span in traced.spans} == {"tutor-api"}


def test_apps_without_an_endpoint_are_not_traced(receiver: Receiver) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    answer = in_a_fresh_process(environment)

    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["200", "False", "[]"]  # nothing of the SDK imported
    assert receiver.spans == []


def test_without_the_extra_the_service_warns_and_serves(receiver: Receiver) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    answer = in_a_fresh_process(environment, without=MISSING)

    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["200", "False", "[]"]
    assert "OpenTelemetry is not installed" in answer.stderr
    assert "mastery-engine[tracing]" in answer.stderr


MISSING = ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation")
SCRIPT = """
import logging, sys
for name in sys.argv[1:]:
    sys.modules[name] = None  # as if the package were not installed
logging.basicConfig()
from fastapi.testclient import TestClient
from opentelemetry import trace
from mastery_engine.api import create_app
from mastery_engine.settings import Settings
app = create_app(Settings(store_url="memory://", auth="off"))
with TestClient(app) as client:
    print(client.get("/v1/students").status_code)
print(hasattr(app.state, "tracer_provider"))
print([m for m in sys.modules if m.startswith({prefixes!r}) and sys.modules[m]])
"""


def in_a_fresh_process(
    environment: dict[str, str], without: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Build the app and serve one request in a new interpreter, where nothing is imported yet."""
    script = SCRIPT.format(prefixes=MISSING)
    command = [sys.executable, "-c", script, *without]
    return subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
