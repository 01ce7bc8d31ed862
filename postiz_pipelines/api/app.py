"""The FastAPI application: routers, problem+json errors, body size limits.

``create_app(app_context, clock=..., transport=...)`` takes the clock (tests pass a
``FixedClock``) and the httpx transport providers use (tests pass the in-process sandbox),
so tests drive the real app over HTTP with nothing patched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postiz_pipelines.api import openapi, problems
from postiz_pipelines.api.deps import ApiState
from postiz_pipelines.api.docs import install_docs
from postiz_pipelines.api.problems import problem_response
from postiz_pipelines.api.ratelimit import RateLimiter, RateSpec
from postiz_pipelines.api.routes import (
    accounts,
    deadletter,
    evergreen,
    health,
    held,
    media,
    media_files,
    metrics,
    oauth,
    oauth_refresh,
    platform_webhooks,
    posts,
    schedules,
    tokens,
    webhooks,
    worker,
    workspaces,
)
from postiz_pipelines.clock import Clock, SystemClock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.storage import MAX_UPLOAD_BYTES

MAX_JSON_BYTES = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_PATH = "/api/postiz/media/upload"


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a body passes its limit mid-stream."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class BodyLimit:
    """Refuse request bodies over a limit (413): at once when Content-Length says so,
    otherwise as soon as the streamed bytes pass it. Uploads get the media cap."""

    def __init__(self, app: ASGIApp, *, default: int, overrides: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.overrides = overrides

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.overrides.get(scope["path"], self.default)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await problem_response(413, f"the request body is larger than {limit} bytes")(
                scope, receive, send
            )
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def create_app(
    app_context: AppContext,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    write_limit: RateSpec | None = None,
    max_json_bytes: int = MAX_JSON_BYTES,
    media_root: Path | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """The API over ``app_context``; ``/docs`` serves its OpenAPI document."""
    from postiz_pipelines.core.media.backends import open_storage

    app = FastAPI(
        title="postiz-pipelines",
        version="1.0",
        description="Publish and schedule social-media posts. Authenticate with "
        "'Authorization: Bearer pz_...' (user API tokens); the worker and batch endpoints take "
        "POSTIZ_WORKER_API_KEY and POSTIZ_BATCH_API_KEY. Errors are RFC 9457 problem+json.",
        docs_url=None,  # served from the package by install_docs, not from a CDN
        redoc_url=None,
    )
    install_docs(app)
    app.state.api = ApiState(
        app=app_context,
        clock=clock or SystemClock(),
        transport=transport,
        write_limiter=RateLimiter(write_limit or RateSpec.from_settings(app_context.settings)),
        storage=open_storage(app_context.settings, media_root or app_context.media_root),
        max_upload_bytes=max_upload_bytes,
    )
    app.state.api_routes = []  # every operation, for the 405's Allow and the document
    problems.install(app)
    openapi.install(app)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Any, exc: BodyTooLarge) -> Any:
        return problem_response(413, f"the request body is larger than {exc.limit} bytes")

    for module in (
        health,
        posts,
        schedules,
        evergreen,
        media,
        media_files,
        accounts,
        oauth,
        workspaces,
        tokens,
        deadletter,
        held,
        oauth_refresh,
        webhooks,
        worker,
        metrics,
        platform_webhooks,
    ):
        app.include_router(module.router)
        app.state.api_routes += [r for r in module.router.routes if isinstance(r, APIRoute)]
    app.add_middleware(
        BodyLimit,
        default=max_json_bytes,
        overrides={UPLOAD_PATH: max_upload_bytes + MULTIPART_OVERHEAD},
    )
    return app
