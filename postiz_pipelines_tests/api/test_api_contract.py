"""What the API promises besides its bodies: a 405 names every method of its path, the
OpenAPI document declares each operation's problem answers, and the per-user write limit
is a setting."""

from __future__ import annotations

import re
from typing import Any

import pytest

from postiz_pipelines.api import create_app
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.errors import ConfigError
from postiz_pipelines.settings import Settings

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The contract does not depend on the backend."""
    return sqlite_url


@pytest.fixture
def document(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_a_405_allows_every_method_of_the_path(client):
    r = client.put("/api/postiz/posts/x")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, PATCH"
    assert r.headers["content-type"] == "application/problem+json"
    assert "allowed: DELETE, GET, PATCH" in r.json()["detail"]


def test_every_path_answers_its_undeclared_methods_with_405_and_the_full_allow(client, document):
    """Allow lists what any route serves at the path (``/media/upload`` is also a
    ``/media/{media_id}``), so the expected set is taken over every template that matches."""
    patterns = {
        t: re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(t)) + "$")
        for t in document["paths"]
    }
    checked = 0
    for template in document["paths"]:
        path = re.sub(r"\{\w+\}", "x_1", template)
        served = sorted(
            {
                m.upper()
                for t, ops in document["paths"].items()
                if patterns[t].match(path)
                for m in ops
            }
        )
        for method in (m for m in METHODS if m not in served):
            r = client.request(method, path)
            assert r.status_code == 405, (method, path, r.status_code)
            assert r.headers["allow"] == ", ".join(served), (method, path)
            checked += 1
    assert checked > 100


def test_every_operation_declares_its_problem_answers(document):
    schemas = document["components"]["schemas"]
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["required"])
    assert "HTTPValidationError" not in schemas  # FastAPI's 422 body is not what we answer
    declared = {}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert response["content"] == PROBLEM, (method, path, status)
            declared[f"{method.upper()} {path}"] = {int(s) for s in op["responses"]}
    assert declared["POST /api/postiz/posts"] == {201, 401, 403, 404, 409, 413, 422, 429}
    assert declared["POST /api/postiz/media/upload"] >= {401, 403, 413, 415, 422, 429}
    assert declared["GET /api/postiz/posts/{post_id}"] == {200, 401, 403, 404, 422}
    assert declared["GET /api/postiz/me"] == {200, 401}
    assert declared["GET /api/postiz/worker/stats"] == {200, 401}
    assert declared["GET /api/postiz/media/{media_id}/file{ext}"] == {200, 404, 422}
    assert declared["GET /readyz"] == {200, 503}
    assert declared["GET /healthz"] == {200}
    # a route that answers problems of its own names them, and they are problems too
    assert declared["POST /api/postiz/webhooks/{platform}"] >= {401, 404, 409, 413, 422}


def test_the_write_limit_is_a_setting(env, clock, transport, world, make_client, soon):
    settings = Settings.from_env(
        {**env, "POSTIZ_API_WRITE_LIMIT": "2", "POSTIZ_API_WRITE_WINDOW_SECONDS": "30"}
    )
    ctx = AppContext.from_settings(settings)
    try:
        client = make_client(create_app(ctx, clock=clock, transport=transport))
        body = {"content": "limité 🚦", "workspaceId": world.a, "targetAccounts": [world.account_a]}
        codes = [
            client.post(
                "/api/postiz/posts", headers=world.h(), json={**body, "scheduledAt": soon(600)}
            ).status_code
            for _ in range(3)
        ]
        assert codes == [201, 201, 429]
        third = client.post("/api/postiz/posts", headers=world.h(), json=body)
        assert third.headers["retry-after"] == "15"
        assert "limit 2 per 30 s" in third.json()["detail"]
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [("POSTIZ_API_WRITE_LIMIT", "0"), ("POSTIZ_API_WRITE_WINDOW_SECONDS", "-1")],
)
def test_a_bad_write_limit_names_its_variable(env, name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**env, name: value})
