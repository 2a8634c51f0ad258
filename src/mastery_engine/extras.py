"""Optional extras: a feature whose driver is not installed says which extra to install."""

from importlib.util import find_spec

from mastery_engine.core.errors import MissingExtra

# extra -> the modules it installs that the package imports.
MODULES = {
    "redis": ("redis",),
    "postgres": ("psycopg", "psycopg_pool"),
    "kafka": ("confluent_kafka",),
    "fit": ("numpy", "scipy"),
}


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def require(extra: str, feature: str) -> None:
    """Raise `MissingExtra` (one line naming the extra) unless its modules are installed."""
    if all(_installed(module) for module in MODULES[extra]):
        return
    raise MissingExtra(
        f"{feature} needs the '{extra}' extra: pip install 'mastery-engine[{extra}]'"
    )
