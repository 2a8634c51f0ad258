"""Optional OpenTelemetry tracing of the HTTP API, on when an OTLP endpoint is configured.

Configured by the standard OTel variables only: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns it on, `OTEL_SERVICE_NAME` names the service and
the exporter reads its own `OTEL_EXPORTER_OTLP_*` options. Needs the `tracing` extra; nothing
of OpenTelemetry is imported while no endpoint is set.
"""

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI

log = logging.getLogger(__name__)
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Probes and scrapes arrive every few seconds and say nothing about a request's path.
PROBES = r"^[a-z]+://[^/]*/(healthz|readyz|metrics)$"


def endpoint() -> str | None:
    """The OTLP endpoint traces go to, or None when tracing is off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    return next((os.environ[name] for name in ENDPOINT_VARIABLES if os.environ.get(name)), None)


def _shown(url: str) -> str:
    """The endpoint without credentials, path or options, for the log."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def install(app: FastAPI, service_name: str) -> bool:
    """Trace every request of `app` to the OTLP endpoint, if one is set; True when on.

    `service_name` is the default of `OTEL_SERVICE_NAME`. The tracer provider is the app's
    own (`app.state.tracer_provider`, never OTel's global one) and is flushed and shut down
    when the app's lifespan ends.
    """
    target = endpoint()
    if target is None:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.warning(
            "tracing: an OTLP endpoint is set (%s) but OpenTelemetry is not installed (%s);"
            " serving without traces. Install mastery-engine[tracing] to send them",
            _shown(target),
            exc.name,
        )
        return False
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", PROBES),
        exclude_spans=["receive", "send"],
    )
    app.state.tracer_provider = provider

    @asynccontextmanager
    async def shutting_down(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            # Exports what is still queued; blocking, hence off the event loop.
            await asyncio.to_thread(provider.shutdown)

    app.include_router(APIRouter(lifespan=shutting_down))
    log.info("tracing: OTLP/HTTP to %s as service %r", _shown(target), name)
    return True
