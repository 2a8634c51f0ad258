"""Files of one JSON value per line (event dumps, replays, model fitting)."""

from collections.abc import Iterator
from pathlib import Path

import orjson


def read_lines(path: Path) -> Iterator[tuple[int, object | None, str | None]]:
    """(line number, decoded value or None, JSON error or None) for each non-blank line."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line), None
            except orjson.JSONDecodeError as exc:
                yield number, None, f"line {number} is not valid JSON: {exc}"
