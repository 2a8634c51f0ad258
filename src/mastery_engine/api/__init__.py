"""HTTP API (FastAPI)."""

from mastery_engine.api.app import create_app

__all__ = ["create_app"]
