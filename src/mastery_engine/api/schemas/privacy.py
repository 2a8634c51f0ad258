"""Response shapes of the privacy and configuration endpoints, as documented in OpenAPI."""

from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypedDict


class AuditLogOut(TypedDict):
    """The tenant's audit log, newest first."""

    entries: Annotated[
        list[dict[str, Any]],
        Field(description="Each: at, actor, action, student_id (or null) and outcome"),
    ]
