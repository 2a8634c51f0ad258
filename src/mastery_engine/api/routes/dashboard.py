"""The teacher dashboard: one HTML page and its assets, which read the JSON API with fetch()."""

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

from mastery_engine.core.errors import NotFound

router = APIRouter(include_in_schema=False)

PAGE = "index.html"
# Media types of the files served as assets; a browser enforcing the CSP needs the exact ones.
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@cache
def _assets() -> dict[str, str]:
    """File name -> media type of every asset in the package's dashboard folder."""
    folder = files("mastery_engine").joinpath("dashboard")
    found = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in MEDIA_TYPES:
            found[entry.name] = MEDIA_TYPES[suffix]
    return found


@cache
def _read(name: str) -> bytes:
    """A file of the dashboard folder, read once per process."""
    return files("mastery_engine").joinpath("dashboard", name).read_bytes()


@router.get("/dashboard")
def dashboard() -> Response:
    """The dashboard page (its scripts and styles are separate files, as the CSP requires)."""
    return Response(_read(PAGE), media_type="text/html; charset=utf-8")


@router.get("/dashboard/static/{name}")
def asset(name: str) -> Response:
    """One of the dashboard's scripts, styles or images."""
    media_type = _assets().get(name)
    if media_type is None:
        raise NotFound(f"the dashboard has no asset {name!r}", field="name")
    return Response(_read(name), media_type=media_type)
