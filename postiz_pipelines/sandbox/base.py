"""What every platform emulator is built from.

An emulator subclasses ``PlatformSandbox``, names its platform, and marks its handlers
with ``@endpoint(method, path)``. Each handler takes a ``Call`` and returns a Starlette
``Response`` (or raises ``HttpError`` with the platform's own error body). The framework
wraps every handler the same way: count the request, apply the platform's faults, run the
handler, add the headers the handler set on the call (rate-limit headers), and for
``publish=True`` endpoints drop the connection after a success (or a 308, a resumable
upload's kept chunk) when a drop is armed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from postiz_pipelines.sandbox.faults import ConnectionDropped
from postiz_pipelines.sandbox.state import SandboxState

Handler = Callable[["Call"], Awaitable[Response]]
H = TypeVar("H", bound=Callable[..., Awaitable[Response]])


class HttpError(Exception):
    """Raised inside a handler to answer with ``response`` (the platform's error body)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    state: SandboxState
    platform: str
    endpoint: str  # "METHOD /path/{param}", the key of counts and fault filters
    headers: dict[str, str] = field(default_factory=dict)  # added to whatever is answered

    @property
    def platform_url(self) -> str:
        """The platform's base URL as the client reached it, e.g. ``http://h/mastodon``."""
        return f"{str(self.request.base_url).rstrip('/')}/{self.platform}"

    def bearer_token(self) -> str | None:
        value = self.request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    async def json_or_form(self) -> dict[str, Any]:
        """The body as a dict: JSON objects as they are; form fields with ``[]`` keys as lists.

        Raises ``ValueError`` for a body that is neither.
        """
        ctype = self.request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            data = json.loads(await self.request.body() or b"{}")
            if not isinstance(data, dict):
                raise ValueError("the JSON body must be an object")
            return data
        form = await self.request.form()
        out: dict[str, Any] = {}
        for key in form:
            values = form.getlist(key)
            out[key] = list(values) if key.endswith("[]") else values[-1]
        return out


@dataclass(frozen=True)
class EndpointSpec:
    method: str
    path: str
    publish: bool  # a successful call creates a post (where accept-then-drop applies)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def endpoint(method: str, path: str, *, publish: bool = False) -> Callable[[H], H]:
    """Mark an emulator method as the handler of ``method path`` (Starlette path syntax)."""

    def mark(fn: H) -> H:
        fn.__sandbox_endpoint__ = EndpointSpec(method.upper(), path, publish)  # type: ignore[attr-defined]
        return fn

    return mark


class PlatformSandbox:
    """Base of an emulated platform; see the module docstring."""

    name: ClassVar[str]

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def error_response(self, status: int, message: str) -> Response:
        """The platform's error body; emulators override it with their real shape."""
        return JSONResponse({"error": message}, status_code=status)

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        """The answer to an injected fault; emulators add their rate-limit headers to 429s."""
        response = self.error_response(status, HTTPStatus(status).phrase)
        if status == 429 and reset_at is not None:
            seconds = max(0, int((reset_at - self.state.now()).total_seconds()))
            response.headers["Retry-After"] = str(seconds)
        return response

    def grant_refusal(self, call: Call) -> Response:
        """How the platform's token endpoint refuses a grant it no longer honours (a revoked
        or spent refresh token); emulators override it with their own answer."""
        return JSONResponse(
            {
                "error": "invalid_grant",
                "error_description": "The refresh token is invalid, expired or revoked",
            },
            status_code=400,
        )

    def error(self, status: int, message: str) -> HttpError:
        return HttpError(self.error_response(status, message))

    def endpoints(self) -> list[tuple[EndpointSpec, Handler]]:
        found = []
        for attr in dir(type(self)):
            spec = getattr(getattr(type(self), attr), "__sandbox_endpoint__", None)
            if isinstance(spec, EndpointSpec):
                found.append((spec, getattr(self, attr)))
        return found

    def routes(self) -> list[Route]:
        """Starlette routes of every endpoint, relative to the platform's mount point."""
        return [
            Route(spec.path, _EndpointApp(self, spec, handler), methods=[spec.method])
            for spec, handler in self.endpoints()
        ]


class _EndpointApp:
    """The ASGI app of one endpoint: faults, then the handler, then maybe a drop."""

    def __init__(self, platform: PlatformSandbox, spec: EndpointSpec, handler: Handler) -> None:
        self.platform = platform
        self.spec = spec
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.platform.state
        name = self.platform.name
        call = Call(Request(scope, receive), state, name, self.spec.key)
        state.count_request(name, self.spec.key)
        decision = state.faults.decide(name, self.spec.key)
        if decision.delay_seconds:
            await asyncio.sleep(decision.delay_seconds)
        if decision.hang:
            await _wait_for_disconnect(receive)
            return
        if decision.refuse_grant:
            response = self.platform.grant_refusal(call)
        elif decision.status is not None:
            response = self.platform.fault_response(
                decision.status, reset_at=decision.reset_at, call=call
            )
        else:
            try:
                response = await self.handler(call)
            except HttpError as exc:
                response = exc.response
        for key, value in call.headers.items():
            response.headers.setdefault(key, value)
        accepted = 200 <= response.status_code < 300 or response.status_code == 308
        if (
            self.spec.publish
            and accepted  # 308: Google's "resume incomplete", a chunk was kept
            and state.faults.take_drop(name, self.spec.key)
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": response.raw_headers,
                }
            )
            raise ConnectionDropped(f"{name} {self.spec.key}: dropped after accepting")
        await response(scope, receive, send)


async def _wait_for_disconnect(receive: Receive) -> None:
    """Never answer: wait until the client gives up (a real server hangs the same way)."""
    while (await receive())["type"] != "http.disconnect":
        pass
