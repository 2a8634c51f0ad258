"""Request bodies: read within the size limit, then decoded as JSON with a clear message."""

from typing import Any

import orjson
from fastapi import Request

from mastery_engine.core.errors import MalformedBody, PayloadTooLarge


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; at most {limit} are accepted")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    return bytes(body)


def decode(body: bytes) -> Any:
    """Parse a JSON body, with a message that says where it breaks."""
    if not body.strip():
        raise MalformedBody("request body is empty; send an event object or an array of events")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"request body is not valid JSON: {exc}") from None
