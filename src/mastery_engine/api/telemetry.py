"""Per-request telemetry: a request id (echoed and logged) and the HTTP metrics."""

import re
import time
from random import getrandbits

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mastery_engine.api.metrics import Metrics
from mastery_engine.logs import request_id

REQUEST_ID = b"x-request-id"
# A caller's id is kept when it is short, printable and safe in a header and a log line.
_SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID and _SAFE_ID.fullmatch(value):
            return str(value.decode())
    # Unique enough to find a request in the logs; not a secret, so no system call for it.
    return f"{getrandbits(128):032x}"


class RequestTelemetry:
    """Times each request by route template and status, and gives it a request id."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope)
        token = request_id.set(rid)
        status = 500  # what the client sees if the app fails before answering
        started = time.perf_counter()

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            request_id.reset(token)
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.answered(scope["method"], template, status, time.perf_counter() - started)
