"""Response shapes of the probes and of Dapr deliveries, as documented in OpenAPI."""

from typing import Annotated, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from mastery_engine.sources.dapr import DaprStatus


class CheckOut(TypedDict):
    """One check: the store (its backend, and latency or error), or the process while draining."""

    status: Literal["ok", "unavailable", "draining"]
    backend: NotRequired[str]
    latency_ms: NotRequired[float]
    error: NotRequired[str]
    detail: NotRequired[str]


class ReadyOut(TypedDict):
    """Ready, or why not (answered 503 with Retry-After), per check."""

    status: Literal["ready", "unavailable", "draining"]
    checks: dict[str, CheckOut]


class DaprAnswer(TypedDict):
    """What Dapr does next with the delivery; DROP and RETRY say why."""

    status: DaprStatus
    reason: NotRequired[Annotated[str, Field(description="Why it is dropped or retried")]]
