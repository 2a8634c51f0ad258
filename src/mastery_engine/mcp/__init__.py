"""The MCP server for tutor agents and its compact text answers."""
