"""The OpenAPI document, with the problem answers every operation can give.

FastAPI documents each operation's success and its 422 (as plain JSON). This module adds,
from what an operation depends on, the RFC 9457 problems it may answer, each as
``application/problem+json`` with the ``Problem`` schema:

- 401 when it takes a user token or a worker/batch key;
- 403 and 404 when it takes a user token and names an object or a workspace (a path
  parameter, a ``workspace_id`` or a body): roles, and the workspace scoping that answers
  another workspace's object as missing; 404 too for any path parameter;
- 409 and 422 when a user writes (a state conflict; the domain's refusals), 429 when the
  write spends the per-user budget;
- 413 for POST, PUT and PATCH (the body limit), 415 when the body is a multipart upload;
- 422 wherever FastAPI validates input;
- 503 for readiness.

A new route gets its problems declared by the same rules, without listing them by hand;
one that answers others itself (a webhook receiver's 401 for a bad signature) names them in
its ``responses``, and they are documented as problems too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from postiz_pipelines.api import deps
from postiz_pipelines.api.problems import MEDIA_TYPE, TITLES
from postiz_pipelines.api.schemas.problems import ProblemBody

PROBLEM_REF = "#/components/schemas/Problem"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
KEY_DEPENDENCIES = {deps.worker_key, deps.batch_key}


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable a route depends on, its sub-dependencies included."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependency_calls(sub)


def takes_user_token(route: APIRoute) -> bool:
    """True when the route authenticates a user by an API token."""
    return deps.current_caller in set(dependency_calls(route.dependant))


def problem_statuses(route: APIRoute, method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses ``route`` may answer for ``method`` (rules in the docstring)."""
    calls = set(dependency_calls(route.dependant))
    user = deps.current_caller in calls
    scoped = bool(route.param_convertors) or "requestBody" in operation
    scoped |= any(p.get("name") == "workspace_id" for p in operation.get("parameters", []))
    statuses: set[int] = set()
    if user or calls & KEY_DEPENDENCIES:
        statuses.add(401)
    if user and scoped:
        statuses |= {403, 404}
    if user and method in WRITE_METHODS:
        statuses |= {409, 422}
    if deps.writer in calls:
        statuses.add(429)
    if route.param_convertors:
        statuses.add(404)
    if method in {"POST", "PUT", "PATCH"}:
        statuses.add(413)
    if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
        statuses.add(415)
    if "422" in operation.get("responses", {}):
        statuses.add(422)
    if route.path == "/readyz":
        statuses.add(503)
    return statuses


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": TITLES.get(status, "Error"),
        "content": {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The document FastAPI builds, with every operation's problem answers declared."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in ProblemBody.json_schemas().items():
        schemas[name] = schema
    routes: list[APIRoute] = app.state.api_routes
    for route in routes:
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = doc["paths"][route.path_format][method.lower()]
            responses = operation.setdefault("responses", {})
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(problem_statuses(route, method, operation) | declared):
                responses[str(status)] = _problem_response(status)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def install(app: FastAPI) -> None:
    """Serve ``build_openapi`` as the app's document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
