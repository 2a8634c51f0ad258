"""HTTP connections that must deliver each request in time, so slow clients cannot hold them."""

import asyncio
import json
import logging
from functools import partial
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from mastery_engine.api.errors import error_body

log = logging.getLogger(__name__)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request arrives too slowly.

    A request's headers and body must arrive within `client_timeout` seconds of its first
    byte (of the connection, for the first request). Between requests, uvicorn's own
    keep-alive timeout applies.
    """

    def __init__(self, *args: Any, client_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_timeout = client_timeout
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock: uvicorn itself waits forever for a first request."""
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """Start the clock for a request, unless it runs since the connection was made."""
        super().on_message_begin()
        if self.deadline is None:
            self._arm()

    def on_message_complete(self) -> None:
        """Stop the clock: the request is in, whatever the app does with it now."""
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        self.deadline = self.loop.call_later(self.client_timeout, self._expire)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expire(self) -> None:
        self.deadline = None
        cycle = self.cycle
        if cycle is not None and cycle.waiting_for_100_continue:
            # The client rightly waits for our 100 Continue; it is sent when the app reads.
            self._arm()
            return
        if self._answerable():
            self.transport.write(self._timeout_response())
        if cycle is not None and not cycle.response_complete:
            # The app may still be running: its reads end and its later writes are dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        host, port = self.client or ("?", 0)
        log.info("closed %s:%d: request incomplete after %g s", host, port, self.client_timeout)
        self.transport.close()

    def _answerable(self) -> bool:
        """Whether a 408 would be read as the answer to the request that timed out."""
        if self.scope is None or self.pipeline:
            return False  # no request begun yet, or an earlier response is still due
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # this request's headers are in
            return not cycle.response_started
        return cycle is None or cycle.response_complete

    def _timeout_response(self) -> bytes:
        message = f"request headers and body must arrive within {self.client_timeout:g} s"
        body = json.dumps(error_body(message, "request_timeout")).encode()
        lines = [b"%s: %s\r\n" % header for header in self.server_state.default_headers]
        lines += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body)]
        return b"".join([STATUS_LINE[408], *lines, b"connection: close\r\n\r\n", body])


def deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """The `http` protocol for `uvicorn.run`, giving every request `seconds` to arrive."""
    # uvicorn only calls it; a partial of a module-level class also pickles into the
    # `--workers` processes, which a class built here would not.
    return cast(type[asyncio.Protocol], partial(DeadlineProtocol, client_timeout=seconds))
