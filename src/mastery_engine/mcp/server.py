"""The MCP server for tutor agents: six tools, each one call to the service, compact answers.

Over stdio (`mastery-engine mcp`) the caller is a `service` of MASTERY_MCP_TENANT; over HTTP
(`/mcp`, streamable HTTP) the caller is the request's verified token, exactly as for the API.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mastery_engine import __version__
from mastery_engine.core.access import Action, Principal
from mastery_engine.core.errors import MasteryError
from mastery_engine.core.events import id_problem
from mastery_engine.core.instants import parse_as_of
from mastery_engine.mcp import text as mcp_text
from mastery_engine.service.engine import Engine
from mastery_engine.service.guidance import MAX_RECOMMENDATIONS

INSTRUCTIONS = """Mastery of programming skills per student, from learning events.
Mastery is in [0, 1] = 0.4 completion + 0.3 quiz + 0.2 code quality + 0.1 consistency;
levels: Beginner <= 0.40 < Learning <= 0.70 < Proficient <= 0.90 < Mastered.
Start with get_mastery, then explain_skill or recommend_next for one student."""

caller: ContextVar[Principal] = ContextVar("mcp_caller")
# The arguments' rules are the HTTP API's: the SDK checks the declared bounds, `_ids` the id
# rule of the event contract, `parse_as_of` the instants.
StudentId = Annotated[str, Field(description="A student id of the caller's tenant")]
SkillId = Annotated[str, Field(description="A skill id, e.g. functions")]
ClassId = Annotated[str, Field(description="A class id of the caller's tenant")]
AsOf = Annotated[
    str | None,
    Field(description="YYYY-MM-DD (end of that UTC day) or an RFC 3339 date-time; default now"),
]
Limit = Annotated[int, Field(ge=1, le=MAX_RECOMMENDATIONS, description="At most this many steps")]


@contextmanager
def acting_as(principal: Principal) -> Iterator[None]:
    """Run tool calls made in this context on behalf of `principal`."""
    token = caller.set(principal)
    try:
        yield
    finally:
        caller.reset(token)


def _ids(**ids: str) -> None:
    for name, value in ids.items():
        problem = id_problem(value, name)
        if problem is not None:
            raise ToolError(problem)


def _allowed(action: Action, student_id: str | None = None) -> Principal:
    if student_id is not None:
        _ids(student_id=student_id)
    try:
        principal = caller.get()
    except LookupError:
        raise ToolError("no authenticated caller") from None
    try:
        principal.require(action, student_id)
    except MasteryError as exc:
        raise ToolError(exc.message) from None
    return principal


@contextmanager
def _answering() -> Iterator[None]:
    """Domain errors become tool errors with the same clear message."""
    try:
        yield
    except MasteryError as exc:
        raise ToolError(exc.message) from None


def build_server(engine: Engine) -> MCPServer:
    """The MCP server; every tool checks the caller's role like the HTTP API does."""
    service, guidance = engine.service, engine.guidance
    server = MCPServer("mastery-engine", version=__version__, instructions=INSTRUCTIONS)

    @server.tool()
    async def get_mastery(student_id: StudentId, as_of: AsOf = None) -> str:
        """Every skill of a student: mastery, level, components (as_of: date or RFC 3339)."""
        who = _allowed(Action.READ_STUDENT, student_id)
        with _answering():
            at = parse_as_of(as_of) if as_of else None
            return mcp_text.mastery_text(await service.mastery(who.tenant, student_id, at))

    @server.tool()
    async def explain_skill(student_id: StudentId, skill_id: SkillId) -> str:
        """Why a skill's mastery is what it is, and the single step that would raise it most."""
        who = _allowed(Action.READ_STUDENT, student_id)
        _ids(skill_id=skill_id)
        with _answering():
            m, why = await service.skill_mastery(who.tenant, student_id, skill_id, None)
            return mcp_text.explanation_text(student_id, m, why)

    @server.tool()
    async def recommend_next(student_id: StudentId, limit: Limit = 3) -> str:
        """The best next learning steps (skills whose prerequisites are met, reviews due)."""
        who = _allowed(Action.READ_STUDENT, student_id)
        with _answering():
            found = await guidance.recommendations(who.tenant, student_id, None, limit)
            return mcp_text.recommendations_text(student_id, found)

    @server.tool()
    async def get_alerts(student_id: StudentId) -> str:
        """Struggle alerts: repeated errors, low quiz scores, inactivity, falling mastery."""
        who = _allowed(Action.READ_STUDENT, student_id)
        with _answering():
            found = await guidance.alerts(who.tenant, student_id, None)
            return mcp_text.alerts_text(student_id, found)

    @server.tool()
    async def class_overview(class_id: ClassId) -> str:
        """Mastery (%) of every student of a class per skill, and each skill's class mean."""
        who = _allowed(Action.READ_CLASS)
        _ids(class_id=class_id)
        with _answering():
            at, matrix = await engine.classes.mastery(who.tenant, class_id, None)
            return mcp_text.class_text(class_id, at, matrix)

    @server.tool()
    async def record_event(event: dict[str, Any]) -> str:
        """Record one canonical learning event; says accepted, duplicate, or why not."""
        who = _allowed(Action.INGEST)
        with _answering():
            return mcp_text.ingest_text(await service.ingest(who.tenant, [event]))

    return server
