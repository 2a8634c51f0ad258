"""A 405 lists in `Allow` every method of its path, whichever route answered it."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match

from mastery_engine.api import create_app
from mastery_engine.settings import Settings

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    settings = Settings(store_url="memory://", auth="off")  # the Dapr routes too
    with TestClient(create_app(settings)) as client:
        yield client


def served(client: TestClient, path: str) -> set[str]:
    """The methods of every route whose path matches, from the routes themselves."""
    scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
    return {
        method
        for route in client.app.routes
        if route.matches(scope)[0] is not Match.NONE
        for method in getattr(route, "methods", None) or ()
    }


def example_path(template: str) -> str:
    return (
        template.replace("{student_id}", "s-1")
        .replace("{skill_id}", "basics")
        .replace("{class_id}", "7a")
    )


def test_every_documented_path_lists_all_its_methods(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert paths, "the document has paths"
    for template, operations in paths.items():
        documented = {method.upper() for method in operations}
        path = example_path(template)
        assert served(api, path) == documented, template
        for method in sorted(METHODS - documented):
            answer = api.request(method, path)
            assert answer.status_code == 405, (method, template, answer.text)
            allowed = {m.strip() for m in answer.headers["allow"].split(",")}
            assert allowed == documented, (method, template, allowed)
            if method != "HEAD":
                assert answer.json()["code"] == "http_error"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/config", "GET, PUT"),
        ("OPTIONS", "/v1/classes/7a", "DELETE, GET, PUT"),
        ("PATCH", "/v1/students/s-1", "DELETE"),
        ("PUT", "/mcp", "DELETE, GET, POST"),  # not in the document, listed all the same
    ],
)
def test_the_reported_paths(api: TestClient, method: str, path: str, allow: str) -> None:
    answer = api.request(method, path)
    assert (answer.status_code, answer.headers["allow"]) == (405, allow)
    assert answer.json() == {"detail": "Method Not Allowed", "code": "http_error", "field": None}
