"""The OpenAI Agents SDK's MCP client against our server, over stdio and streamable HTTP.

No model is called: the SDK lists the tools, turns them into the function tools an agent
would offer a model (strict schemas), and invokes them as a run would.
"""

import asyncio
import json
import os
import time
from pathlib import Path

import agents
import jwt
import pytest
from agents import Agent, FunctionTool, RunContextWrapper
from agents.mcp import (
    MCPServer,
    MCPServerStdio,
    MCPServerStdioParams,
    MCPServerStreamableHttp,
    MCPServerStreamableHttpParams,
)
from agents.tool_context import ToolContext
from mcp.shared.exceptions import MCPError

from tests.mcp_server.test_mcp import BIN, TOOLS
from tests.serving import free_port, serve

SECRET = "agents-test-secret-" + "0123456789" * 4
EVENT = {
    "id": "agents-1",
    "type": "quiz.graded",
    "student_id": "ada",
    "skill_id": "functions",
    "occurred_at": "2026-01-05T10:00:00Z",
    "data": {"quiz_id": "q", "score": 0.75},
}


@pytest.fixture(autouse=True)
def no_tracing_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may leave the machine: no trace export, and a key no one would accept."""
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    agents.set_tracing_disabled(True)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A SQLite store holding the demo class."""
    db = tmp_path / "agents.db"
    with serve(db, free_port(), MASTERY_DEMO="1"):
        pass
    return db


async def invoke(tool: FunctionTool, arguments: dict[str, object]) -> str:
    """Call a tool the way an agent run does when a model asks for it."""
    raw = json.dumps(arguments)
    context = ToolContext(None, tool_name=tool.name, tool_call_id="call-1", tool_arguments=raw)
    output = await tool.on_invoke_tool(context, raw)
    assert isinstance(output, dict) and output["type"] == "text", output
    return str(output["text"])


async def exercise(server: MCPServer) -> dict[str, str]:
    """List the tools as the SDK and as an agent sees them; call two; their answers."""
    listed = {tool.name for tool in await server.list_tools()}
    assert listed == TOOLS
    agent = Agent(
        name="tutor", mcp_servers=[server], mcp_config={"convert_schemas_to_strict": True}
    )
    offered = {
        tool.name: tool
        for tool in await agent.get_mcp_tools(RunContextWrapper(None))
        if isinstance(tool, FunctionTool)
    }
    assert set(offered) == TOOLS
    # `record_event` takes an open JSON object, which strict mode cannot express: the SDK
    # offers that one tool non-strict. Every other tool must survive the conversion.
    assert all(tool.strict_json_schema for name, tool in offered.items() if name != "record_event")
    # Strict schemas make every argument required: a model sends null for one it leaves out.
    mastery = await invoke(offered["get_mastery"], {"student_id": "ada", "as_of": None})
    recorded = await server.call_tool("record_event", {"event": EVENT})
    assert not recorded.is_error
    return {
        "get_mastery": mastery,
        "record_event": "\n".join(getattr(part, "text", "") for part in recorded.content),
    }


def check(answers: dict[str, str]) -> None:
    assert answers["get_mastery"].startswith("ada on ")
    assert "functions" in answers["get_mastery"] and "basics" in answers["get_mastery"]
    assert answers["record_event"] == "agents-1: accepted"


def test_the_agents_sdk_over_stdio(store: Path) -> None:
    env = {**os.environ, "MASTERY_STORE_URL": f"sqlite:///{store}", "MASTERY_MCP_TENANT": "default"}

    async def run() -> dict[str, str]:
        params = MCPServerStdioParams(command=BIN, args=["mcp"], env=env)
        async with MCPServerStdio(params, client_session_timeout_seconds=30) as server:
            return await exercise(server)

    check(asyncio.run(run()))


def test_the_agents_sdk_over_http_with_a_bearer_token(store: Path) -> None:
    claims = {
        "sub": "tutor",
        "tenant": "default",
        "roles": ["service"],
        "exp": int(time.time()) + 3600,
    }
    bearer = jwt.encode(claims, SECRET, algorithm="HS256")
    with serve(store, free_port(), MASTERY_AUTH="jwt", MASTERY_JWT_SECRET=SECRET) as running:

        async def run(headers: dict[str, str]) -> dict[str, str]:
            params = MCPServerStreamableHttpParams(
                url=f"{running.url}/mcp", headers=headers, timeout=30
            )
            async with MCPServerStreamableHttp(params, client_session_timeout_seconds=30) as server:
                return await exercise(server)

        answers = asyncio.run(run({"Authorization": f"Bearer {bearer}"}))
        with pytest.raises(ExceptionGroup) as anonymous:
            asyncio.run(run({}))

    check(answers)
    # Without the header the API answers 401, which MCP's HTTP client reports this way.
    assert anonymous.group_contains(MCPError, match="error response")
