"""Everything an entry point serves from, built once by `wiring.open_engine`."""

from dataclasses import dataclass

from mastery_engine.service.analytics import Summaries
from mastery_engine.service.classes import Classes
from mastery_engine.service.guidance import Guidance
from mastery_engine.service.mastery import MasteryService


@dataclass(frozen=True, slots=True)
class Engine:
    """The use cases, each over the one `MasteryService`: mastery (ingest, queries, privacy),
    guidance, classes and analytics."""

    service: MasteryService
    guidance: Guidance
    classes: Classes
    analytics: Summaries

    @classmethod
    def of(cls, service: MasteryService, guidance: Guidance, analytics: Summaries) -> "Engine":
        """The bundle over one service."""
        return cls(service, guidance, Classes(service), analytics)
