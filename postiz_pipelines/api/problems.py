"""RFC 9457 problem details: every error the API answers is ``application/problem+json``.

A body carries ``type``, ``title``, ``status``, ``detail`` and, for refused input,
``problems``: a list of ``{field, message, value, limit}``. Nothing of a stack trace or of
a secret ever reaches a body; unexpected errors are logged and answered with a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from postiz_pipelines.api.jsonable import jsonable
from postiz_pipelines.core.media.storage import StorageUnavailable, UploadTooLarge
from postiz_pipelines.errors import (
    ConfigError,
    Conflict,
    NotFound,
    PostizError,
    Problem,
    ValidationFailed,
)

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://postiz-pipelines.dev/problems/"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
SLUGS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-large",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class ApiProblem(Exception):
    """An HTTP answer other than the domain errors: 401, 403, 413, 429, 400."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problems: Sequence[Problem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = list(problems)
        self.headers = headers or {}


def unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, detail)


def problem_response(
    status: int,
    detail: str,
    *,
    problems: Sequence[Problem] = (),
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + SLUGS.get(status, str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if problems:
        body["problems"] = [jsonable(p.as_dict()) for p in problems]
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


# Tagged unions put the tag into an error's location (``schedule.recurring.cron``); the
# client wrote ``schedule.cron``, so the tag is dropped after these field names.
TAGGED_UNIONS: dict[str, frozenset[str]] = {"schedule": frozenset({"single", "recurring"})}


def _field(loc: Sequence[Any]) -> str:
    """``("body", "targetAccounts", 0)`` -> ``targetAccounts[0]``; query/header names as given."""
    parts: list[Any] = []
    for p in loc:
        if p in ("body", "query", "path", "header", "form", "cookie"):
            continue
        if parts and isinstance(parts[-1], str) and p in TAGGED_UNIONS.get(parts[-1], ()):
            continue
        parts.append(p)
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


_LIMIT_KEYS = ("max_length", "min_length", "le", "lt", "ge", "gt", "expected", "pattern")


def validation_problems(exc: RequestValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        limit = next((ctx[k] for k in _LIMIT_KEYS if k in ctx), None)
        value = err.get("input")
        if isinstance(value, dict | list) or (isinstance(value, str) and len(value) > 200):
            value = None  # the field names it; echoing a whole body back helps nobody
        problems.append(
            Problem(_field(err.get("loc", ())), err.get("msg", "is invalid"), value, limit)
        )
    return problems


def _rename(field: str, names: Mapping[str, str]) -> str:
    out = []
    for segment in field.split("."):
        base, bracket, rest = segment.partition("[")
        base = names.get(base, base)
        if base or bracket:
            out.append(base + bracket + rest)
    return ".".join(out) or "body"


@contextmanager
def api_field_names(names: Mapping[str, str]) -> Iterator[None]:
    """Re-raise the domain's ValidationFailed with its field names as the client wrote them.

    Each dotted segment of a problem's field is looked up in ``names`` (``starts_at`` ->
    ``startsAt``; a segment mapped to "" is dropped), indexes kept: ``timetable[2].time``
    with ``{"timetable": "slots"}`` becomes ``slots[2].time``.
    """
    try:
        yield
    except ValidationFailed as exc:
        if isinstance(exc, UploadTooLarge):
            raise
        raise ValidationFailed(
            [Problem(_rename(p.field, names), p.message, p.value, p.limit) for p in exc.problems]
        ) from None


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (for a 405's ``Allow``): each
    method is its own route, and the router's 405 names only the first that matched."""
    methods: set[str] = set()
    for route in getattr(request.app.state, "api_routes", ()):
        match, _ = route.matches(request.scope)
        if match in (Match.FULL, Match.PARTIAL):
            methods |= set(route.methods or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem+json answer."""

    @app.exception_handler(ValidationFailed)
    async def _validation_failed(request: Request, exc: ValidationFailed) -> JSONResponse:
        if isinstance(exc, UploadTooLarge):
            return problem_response(
                413, "the upload is larger than the limit", problems=exc.problems
            )
        return problem_response(
            422, "the input was refused; nothing was stored", problems=exc.problems
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_problems(exc)
        return problem_response(
            422,
            "the request does not match the schema: " + "; ".join(str(p) for p in problems[:5]),
            problems=problems,
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(404, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem_response(409, str(exc))

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, problems=exc.problems, headers=exc.headers)

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        log.error("configuration error: %s", exc)
        return problem_response(503, "the server is not configured for this request")

    @app.exception_handler(StorageUnavailable)
    async def _storage(request: Request, exc: StorageUnavailable) -> JSONResponse:
        log.error("media storage unavailable: %s", exc)  # says which call, never a key
        return problem_response(
            503, "media storage is unavailable; nothing was stored", headers={"Retry-After": "30"}
        )

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # the database refused a value (PostgreSQL: a NUL character, a number out of range);
        # only the class is logged, since the statement's parameters may hold secrets
        log.warning(
            "unstorable input on %s %s: %s",
            request.method,
            request.url.path,
            type(exc.orig).__name__,
        )
        return problem_response(
            422, "a value in the request cannot be stored (a NUL character, or out of range)"
        )

    @app.exception_handler(PostizError)
    async def _other(request: Request, exc: PostizError) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return problem_response(500, "internal error")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            if methods := allowed_methods(request):
                headers["Allow"] = ", ".join(methods)
            detail = f"{request.method} is not allowed here; allowed: {headers.get('Allow', '')}"
        return problem_response(exc.status_code, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal error")
