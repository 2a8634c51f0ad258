"""JSON responses rendered with orjson, returned directly (no second validation pass).

A body is built as the TypedDict of api/schemas that the route documents, so mypy, not a
validation at each request, checks it against the document.
"""

from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSON(JSONResponse):
    """A JSON response body rendered by orjson."""

    def render(self, content: Any) -> bytes:
        """Serialise; floats keep their shortest round-trip form."""
        return orjson.dumps(content)
