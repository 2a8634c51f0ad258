"""`mastery-engine mcp`: the MCP server over stdio, for a tutor agent on the same machine."""

import asyncio
import logging

import typer

from mastery_engine import logs
from mastery_engine.cli.common import fail
from mastery_engine.core.access import Principal, Role
from mastery_engine.core.errors import MasteryError
from mastery_engine.settings import Settings
from mastery_engine.wiring import open_engine

agents = typer.Typer()


async def _serve_stdio(settings: Settings) -> None:
    # Imported here: every other command, `serve` included, runs without the MCP SDK.
    from mastery_engine.mcp.server import acting_as, build_server

    async with open_engine(settings) as engine:
        server = build_server(engine)
        principal = Principal("mcp-stdio", settings.mcp_tenant, frozenset({Role.SERVICE}))
        with acting_as(principal):
            await server.run_stdio_async()


@agents.command()
def mcp() -> None:
    """Serve the MCP tools over stdio, as a `service` of MASTERY_MCP_TENANT."""
    settings = Settings()
    # stdout carries the protocol: logs go to stderr only, and quietly.
    logs.configure("WARNING" if settings.log_level == "INFO" else settings.log_level, "text")
    logging.getLogger("mcp").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve_stdio(settings))
    except MasteryError as exc:
        fail(exc)
