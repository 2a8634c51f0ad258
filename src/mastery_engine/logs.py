"""Logging configured once by the CLI: readable text, or one JSON object per line."""

import json
import logging
import time
from typing import Any


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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: str, fmt: str) -> None:
    """Send every log record to stderr in the chosen format."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.set_name("mastery-engine")
    root = logging.getLogger()
    # Replace only our own handler, so repeated calls (and test harnesses) keep theirs.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "mastery-engine"]
    root.addHandler(handler)
    root.setLevel(level)
