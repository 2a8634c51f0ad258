"""Logging configured once by the CLI: readable text, or one JSON object per line."""

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

# The id of the HTTP request being served, set by the API's telemetry middleware.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, for log pipelines."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise a record with its time, level, logger, message and exception."""
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = getattr(record, "request_id", None)
        if current is not None:
            entry["request_id"] = current
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record."""
        record.request_id = request_id.get()
        return True


def configure(level: str, fmt: str) -> None:
    """Send every log record to stderr in the chosen format."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.set_name("mastery-engine")
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    # Replace only our own handler, so repeated calls (and test harnesses) keep theirs.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "mastery-engine"]
    root.addHandler(handler)
    root.setLevel(level)
