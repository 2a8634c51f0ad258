"""Abuse limits and response hardening: per-tenant ingestion rate, security headers."""

import asyncio
import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mastery_engine.core.errors import InvalidConfig, RateLimited, StoreUnavailable

# Swagger UI and ReDoc load their scripts and styles from this CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    " style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data:"
    " https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The dashboard: its own scripts, styles and images, fetch() to this origin, nothing inline;
# Trusted Types make any innerHTML-style string sink throw.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none';"
    " require-trusted-types-for 'script'; trusted-types 'none'"
)
COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
DOC_PATHS = ("/docs", "/redoc")


class IngestLimiter:
    """Events per tenant in a sliding window, shared through the configured storage."""

    def __init__(self, rate: str, storage_url: str, timeout_s: float = 2.0) -> None:
        self.item: RateLimitItem | None = None
        self.timeout_s = timeout_s
        if rate.strip().lower() == "off":
            return
        try:
            self.item = parse(rate)
        except ValueError as exc:
            raise InvalidConfig(
                f"MASTERY_INGEST_RATE_LIMIT {rate!r} is not a rate such as 20000/second or"
                " 1000/minute (or off)",
                field="MASTERY_INGEST_RATE_LIMIT",
            ) from exc
        options: dict[str, Any] = {}
        if storage_url.startswith("redis"):
            options = {"implementation": "redispy", "key_prefix": "mastery-ratelimit"}
        self._limiter = SlidingWindowCounterRateLimiter(
            storage_from_string(f"async+{storage_url}", **options)
        )

    async def spend(self, tenant: str, events: int) -> None:
        """Count `events` against the tenant, or raise `RateLimited` with when to retry."""
        if self.item is None or events <= 0:
            return
        try:
            async with asyncio.timeout(self.timeout_s):  # the store deadline
                allowed = await self._limiter.hit(self.item, tenant, cost=events)
                if allowed:
                    return
                stats = await self._limiter.get_window_stats(self.item, tenant)
        except TimeoutError:
            raise StoreUnavailable(
                f"rate-limit storage did not answer within {self.timeout_s:g} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise StoreUnavailable(f"rate-limit storage is unreachable: {exc}") from exc
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"tenant {tenant!r} is over its ingestion limit of {self.item}; retry in {wait} s",
            retry_after=wait,
        )


def _hardening(csp: str) -> tuple[tuple[bytes, bytes], ...]:
    return (*COMMON_HEADERS, (b"content-security-policy", csp.encode()))


class SecurityHeaders:
    """Adds hardening headers to every response (a looser CSP on the docs pages).

    A header the app already set (a static file's cache-control, say) is kept as it is.
    """

    API = _hardening(API_CSP)
    DOCS = _hardening(DOCS_CSP)
    DASHBOARD = _hardening(DASHBOARD_CSP)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        extra = self.DOCS if path.startswith(DOC_PATHS) else self.API
        if path == "/dashboard" or path.startswith("/dashboard/"):
            extra = self.DASHBOARD

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in extra if n not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
