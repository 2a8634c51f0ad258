"""`/mcp`: the MCP server over streamable HTTP, behind the same authentication as the API."""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from mastery_engine.api.deps import Caller
from mastery_engine.core.access import Principal
from mastery_engine.mcp import acting_as

router = APIRouter()
PATH = "/mcp"
LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "testserver"]


def streamable_app(server: MCPServer, auth_on: bool) -> ASGIApp:
    """The MCP transport, stateless (any replica answers any call), JSON answers.

    With authentication off the port is for local use, so requests must name a local host
    (DNS-rebinding protection); with it on, every call carries a verified token instead.
    """
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


class _Forward(Response):
    """Hands the request to the MCP transport on behalf of the authenticated caller."""

    def __init__(self, app: ASGIApp, principal: Principal) -> None:
        super().__init__()
        self.app = app
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with acting_as(self.principal):
            await self.app(scope, receive, send)


@router.api_route(PATH, methods=["GET", "POST", "DELETE"], include_in_schema=False)
async def mcp_endpoint(request: Request, caller: Caller) -> Response:
    """Model Context Protocol (streamable HTTP); tools act with the caller's roles."""
    return _Forward(request.app.state.mcp_http, caller)
