"""What every command shares: the console, settings with logging, and a clean failure."""

import typer
from rich.console import Console

from mastery_engine import logs
from mastery_engine.core.errors import MasteryError
from mastery_engine.settings import Settings

console = Console()


def load_settings() -> Settings:
    """The settings from the environment, with logging configured from them."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    return settings


def fail(exc: MasteryError) -> None:
    """Print the error's message and exit with status 2."""
    console.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
    raise typer.Exit(2)
