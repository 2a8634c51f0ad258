"""`/mcp`: the MCP server over streamable HTTP, behind the same authentication as the API.

The MCP SDK is imported and the server started on the first call only (which takes about
0.3 s longer): importing it adds about 20 MiB to every server process, and many
deployments never serve /mcp.
"""

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mastery_engine.api.deps import Caller
from mastery_engine.core.access import Principal
from mastery_engine.service.engine import Engine

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

router = APIRouter()
PATH = "/mcp"
LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "testserver"]


def streamable_app(server: "MCPServer", auth_on: bool) -> ASGIApp:
    """The MCP transport, stateless (any replica answers any call), JSON answers.

    With authentication off the port is for local use, so requests must name a local host
    (DNS-rebinding protection); with it on, every call carries a verified token instead.
    """
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from mcp.server.transport_security import TransportSecuritySettings

    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=not auth_on,
        allowed_hosts=LOCAL_HOSTS,
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*"],
    )
    server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        transport_security=security,
    )
    return StreamableHTTPASGIApp(server.session_manager)


class McpEndpoint:
    """The MCP transport of one app: started by the first call, stopped by `close`."""

    def __init__(self, engine: Engine, auth_on: bool) -> None:
        self.engine = engine
        self.auth_on = auth_on
        self._ready: asyncio.Future[ASGIApp] | None = None
        self._host: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def app(self) -> ASGIApp:
        """The running transport; the first caller starts it, the others wait for it."""
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            self._host = asyncio.create_task(self._serve(self._ready), name="mcp-sessions")
        # A caller that goes away must not cancel the start every other caller waits for.
        return await asyncio.shield(self._ready)

    async def _serve(self, ready: "asyncio.Future[ASGIApp]") -> None:
        # The session manager's task group lives in this task, from the start to `close`.
        try:
            from mastery_engine.mcp.server import build_server

            server = build_server(self.engine)
            transport = streamable_app(server, self.auth_on)
            async with server.session_manager.run():
                ready.set_result(transport)
                await self._stop.wait()
        except Exception as exc:
            if ready.done():
                raise
            ready.set_exception(exc)  # every call answers 500 with it, and it is logged

    async def close(self) -> None:
        """Stop the sessions, if a call ever started them."""
        self._stop.set()
        if self._host is not None:
            await self._host


class _Forward(Response):
    """Hands the request to the MCP transport on behalf of the authenticated caller."""

    def __init__(self, app: ASGIApp, principal: Principal) -> None:
        super().__init__()
        self.app = app
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from mastery_engine.mcp.server import acting_as

        with acting_as(self.principal):
            await self.app(scope, receive, send)


@router.api_route(PATH, methods=["GET", "POST", "DELETE"], include_in_schema=False)
async def mcp_endpoint(request: Request, caller: Caller) -> Response:
    """Model Context Protocol (streamable HTTP); tools act with the caller's roles."""
    endpoint: McpEndpoint = request.app.state.mcp
    return _Forward(await endpoint.app(), caller)
