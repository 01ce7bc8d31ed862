"""A property-based run of schemathesis against the OpenAPI document: whatever it sends, the
API never answers 5xx, its refusals are problem+json, and every status and content type it
answers is one the document declares for that operation (bounded: SQLite only, a handful of
examples per operation, derandomized so a run is repeatable)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

MAX_EXAMPLES = 8


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """This module runs on SQLite only: the fuzzing is about HTTP, not the backend."""
    return sqlite_url


def fuzz(op, auth: dict[str, str], seen: list[tuple[str, str, int]]) -> None:  # type: ignore[no-untyped-def]
    """Send MAX_EXAMPLES generated requests to one operation; none may answer 5xx."""

    @given(case=op.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):  # type: ignore[no-untyped-def]
        response = case.call(headers={**(case.headers or {}), **auth})
        seen.append((case.method, case.path, response.status_code))
        assert response.status_code < 500, (
            case.method,
            case.formatted_path,
            response.status_code,
            response.text[:300],
        )
        if response.status_code >= 400:
            content_type = response.headers.get("content-type", [""])[0]
            assert content_type.startswith("application/problem+json")
        # no undocumented status code, no undocumented content type
        case.validate_response(response, checks=[status_code_conformance, content_type_conformance])

    check()


def test_no_server_errors_for_any_generated_request(api_app, world, worker_headers, batch_headers):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30  # every route is in the document
    seen: list[tuple[str, str, int]] = []
    for op in operations:
        if "/worker/" in op.path:
            fuzz(op, worker_headers, seen)
        elif "/oauth/" in op.path:
            fuzz(op, batch_headers, seen)
        else:
            fuzz(op, world.h(), seen)
    assert len({(m, p) for m, p, _ in seen}) == len(operations)
    assert any(code < 300 for _, _, code in seen)  # not only refusals: some requests went through
