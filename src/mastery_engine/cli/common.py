"""What every command shares: the console, settings with logging, and a clean failure."""

import typer
from rich.console import Console
from rich.text import Text

from mastery_engine import logs
from mastery_engine.core.errors import MasteryError
from mastery_engine.settings import Settings

console = Console()
errors = Console(stderr=True)


def load_settings() -> Settings:
    """The settings from the environment, with logging configured from them."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    return settings


def fail(error: MasteryError | str) -> None:
    """Print the error's message on one line of standard error and exit with status 2.

    The message is printed as it is: rich markup would swallow `[fit]` in a pip hint.
    """
    message = error.message if isinstance(error, MasteryError) else error
    errors.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
    raise typer.Exit(2)
