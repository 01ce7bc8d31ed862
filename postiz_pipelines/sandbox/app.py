"""The sandbox ASGI app: every registered platform under ``/{platform}``, and a JSON
control API under ``/_sandbox`` for tests, benchmarks and the demo.

Adding a platform is one module (a ``PlatformSandbox`` subclass) and one line in
``PLATFORMS``. Control API::

    GET    /_sandbox/health                        {"ok": true} once the app serves
    GET    /_sandbox/platforms                     registered platform names
    POST   /_sandbox/reset                         forget everything, faults included
    GET    /_sandbox/{platform}/posts              accepted posts, oldest first
    GET    /_sandbox/{platform}/requests           request counts per endpoint
    GET    /_sandbox/{platform}/faults             the active fault spec
    PUT    /_sandbox/{platform}/faults             replace it (FaultSpec fields; POST works too)
    DELETE /_sandbox/{platform}/faults             clear it
    POST   /_sandbox/{platform}/accounts           {token, username?, display_name?, disabled?}
    POST   /_sandbox/{platform}/tokens/revoke      {token}
    POST   /_sandbox/{platform}/tokens/expire      {token}
    GET    /_sandbox/received/{sha256}             the bytes of a file a platform received
    GET    /_sandbox/supabase/objects              what the emulated Supabase Storage holds

Supabase Storage (the media backend, not a platform) is emulated under ``/supabase``
(``supabase_storage``).
    POST   /_sandbox/{platform}/refresh-tokens     {token, account_id, seconds?}: the token
                                                   refreshes that account (YouTube, TikTok,
                                                   Pinterest, Reddit, whose token endpoints
                                                   share sandbox/oauth2.py)
    PUT    /_sandbox/{platform}/consent            {user?, deny?}: who answers the platform's
                                                   consent page from now on (sandbox/authorize.py)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from postiz_pipelines.sandbox import authorize, oauth2
from postiz_pipelines.sandbox.base import PlatformSandbox
from postiz_pipelines.sandbox.bluesky import BlueskySandbox
from postiz_pipelines.sandbox.discord import DiscordSandbox
from postiz_pipelines.sandbox.engagement import parse_spec
from postiz_pipelines.sandbox.facebook import FacebookSandbox
from postiz_pipelines.sandbox.faults import FaultSpec
from postiz_pipelines.sandbox.instagram import InstagramSandbox
from postiz_pipelines.sandbox.linkedin import LinkedInSandbox
from postiz_pipelines.sandbox.mastodon import MastodonSandbox
from postiz_pipelines.sandbox.pinterest import PinterestSandbox
from postiz_pipelines.sandbox.reddit import RedditSandbox
from postiz_pipelines.sandbox.slack import SlackSandbox
from postiz_pipelines.sandbox.state import SandboxState
from postiz_pipelines.sandbox.supabase_storage import SupabaseStorageSandbox
from postiz_pipelines.sandbox.telegram import TelegramSandbox
from postiz_pipelines.sandbox.threads import ThreadsSandbox
from postiz_pipelines.sandbox.tiktok import TikTokSandbox
from postiz_pipelines.sandbox.x import XSandbox
from postiz_pipelines.sandbox.youtube import YouTubeSandbox

PLATFORMS: tuple[type[PlatformSandbox], ...] = (
    MastodonSandbox,
    BlueskySandbox,
    XSandbox,
    LinkedInSandbox,
    TelegramSandbox,
    DiscordSandbox,
    SlackSandbox,
    FacebookSandbox,
    InstagramSandbox,
    ThreadsSandbox,
    YouTubeSandbox,
    TikTokSandbox,
    PinterestSandbox,
    RedditSandbox,
    # a new platform: import its emulator above and add its class here
)


def create_app(
    state: SandboxState | None = None,
    *,
    platforms: tuple[type[PlatformSandbox], ...] = PLATFORMS,
) -> Starlette:
    """The sandbox app over ``state`` (a fresh one when None), kept as ``app.state.sandbox``."""
    state = state if state is not None else SandboxState()
    emulators = {cls.name: cls(state) for cls in platforms}
    storage = SupabaseStorageSandbox(state)
    control = _ControlApi(state, emulators, storage)
    routes: list[BaseRoute] = [Mount("/_sandbox", routes=control.routes())]
    routes += authorize.routes(emulators)  # consent pages, at each platform's own path
    routes += [Mount(f"/{name}", routes=emu.routes()) for name, emu in emulators.items()]
    routes.append(Mount("/supabase", routes=storage.routes()))
    app = Starlette(routes=routes, exception_handlers={_Refused: _refused})
    app.state.sandbox = state
    app.state.supabase = storage
    return app


class _ControlApi:
    """The ``/_sandbox`` routes; see the module docstring."""

    def __init__(
        self,
        state: SandboxState,
        emulators: dict[str, PlatformSandbox],
        storage: SupabaseStorageSandbox,
    ) -> None:
        self.state = state
        self.emulators = emulators
        self.storage = storage

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/platforms", self.platforms, methods=["GET"]),
            Route("/reset", self.reset, methods=["POST"]),
            Route("/{platform}/posts", self.posts, methods=["GET"]),
            Route("/{platform}/requests", self.requests, methods=["GET"]),
            Route("/{platform}/faults", self.faults, methods=["GET", "PUT", "POST", "DELETE"]),
            Route("/{platform}/accounts", self.accounts, methods=["POST"]),
            Route("/{platform}/tokens/{action}", self.tokens, methods=["POST"]),
            Route("/{platform}/engagement", self.engagement, methods=["PUT"]),
            Route("/received/{sha256}", self.received, methods=["GET"]),
            Route("/supabase/objects", self.supabase_objects, methods=["GET"]),
            Route("/{platform}/refresh-tokens", self.refresh_tokens, methods=["POST"]),
            Route("/{platform}/consent", self.consent, methods=["PUT"]),
        ]

    def _platform(self, request: Request) -> str:
        name = request.path_params["platform"]
        if name not in self.emulators:
            raise _Refused(404, f"unknown platform {name!r}; known: {sorted(self.emulators)}")
        return name

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as exc:
            raise _Refused(400, f"body is not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise _Refused(400, "body must be a JSON object")
        return data

    async def _token(self, request: Request) -> str:
        token = (await self._body(request)).get("token")
        if not isinstance(token, str) or not token:
            raise _Refused(400, "body needs a non-empty string 'token'")
        return token

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def platforms(self, request: Request) -> Response:
        return JSONResponse({"platforms": sorted(self.emulators)})

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"reset": True})

    async def engagement(self, request: Request) -> Response:
        """Set one accepted post's engagement: ``{"remote_id", "likes", ..., "per_hour"}``."""
        name = self._platform(request)
        body = await self._body(request)
        remote_id = body.pop("remote_id", None)
        if not isinstance(remote_id, str) or self.state.post(name, remote_id) is None:
            raise _Refused(404, f"{name} accepted no post with remote_id {remote_id!r}")
        try:
            spec = parse_spec(body, now=self.state.now())
        except ValueError as exc:
            raise _Refused(400, str(exc)) from None
        self.state.set_engagement(name, remote_id, spec)
        return JSONResponse({"remote_id": remote_id, "engagement": spec.at(self.state.now())})

    async def posts(self, request: Request) -> Response:
        name = self._platform(request)
        return JSONResponse({"posts": [p.as_json() for p in self.state.accepted(name)]})

    async def requests(self, request: Request) -> Response:
        return JSONResponse({"requests": self.state.request_counts(self._platform(request))})

    async def faults(self, request: Request) -> Response:
        name = self._platform(request)
        if request.method == "DELETE":
            self.state.faults.reset(name)
        elif request.method in ("PUT", "POST"):
            try:
                spec = FaultSpec.from_json(await self._body(request))
            except ValueError as exc:
                raise _Refused(422, str(exc)) from None
            self.state.faults.set(name, spec)
        return JSONResponse({"faults": self.state.faults.get(name).as_json()})

    async def accounts(self, request: Request) -> Response:
        name = self._platform(request)
        body = await self._body(request)
        token = await self._token(request)
        account = self.state.provision(
            name,
            token,
            username=body.get("username"),
            display_name=body.get("display_name"),
            disabled=bool(body.get("disabled", False)),
        )
        return JSONResponse(
            {"id": account.id, "username": account.username, "disabled": account.disabled},
            status_code=201,
        )

    async def supabase_objects(self, request: Request) -> Response:
        objects = [
            {"bucket": o.bucket, "path": o.path, "size": o.size, "sha256": o.sha256}
            for o in self.storage.objects.values()
        ]
        return JSONResponse({"objects": sorted(objects, key=lambda o: (o["bucket"], o["path"]))})

    async def received(self, request: Request) -> Response:
        data = self.state.received_bytes(request.path_params["sha256"])
        if data is None:
            raise _Refused(404, "no file with that digest was received (or it was dropped)")
        return Response(data, media_type="application/octet-stream")

    async def tokens(self, request: Request) -> Response:
        name = self._platform(request)
        action = request.path_params["action"]
        token = await self._token(request)
        if action == "revoke":
            self.state.revoke_token(name, token)
        elif action == "expire":
            self.state.expire_token(name, token)
        else:
            raise _Refused(404, f"unknown token action {action!r}; use revoke or expire")
        return JSONResponse({"token": action + "d"})

    async def refresh_tokens(self, request: Request) -> Response:
        name = self._platform(request)
        body = await self._body(request)
        token = await self._token(request)
        account_id = str(body.get("account_id") or "")
        if self.state.account(name, account_id) is None:
            raise _Refused(404, f"no {name} account {account_id!r}")
        seconds = body.get("seconds")
        if seconds is not None and (not isinstance(seconds, int) or seconds <= 0):
            raise _Refused(422, "seconds must be a positive integer")
        oauth2.give_refresh_token(self.state, name, account_id, token, seconds=seconds)
        return JSONResponse({"account_id": account_id}, status_code=201)

    async def consent(self, request: Request) -> Response:
        name = self._platform(request)
        try:
            return JSONResponse(await authorize.set_consent(self.state, name, request))
        except ValueError as exc:
            raise _Refused(422, str(exc)) from None


class _Refused(Exception):
    """A control-API request that cannot be served; answered as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Refused)
    return JSONResponse({"error": exc.message}, status_code=exc.status)
