"""An in-process httpx transport over the sandbox app that fails the way a socket does.

``httpx.ASGITransport`` would surface an injected drop as the app's own exception and
wait forever on an injected hang. ``SandboxTransport`` turns them into what a client of
a real server sees: ``httpx.RemoteProtocolError`` for a connection dropped mid-response,
``httpx.ReadTimeout`` for no answer within the read timeout.
"""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp

from postiz_pipelines.sandbox.faults import ConnectionDropped


class SandboxTransport(httpx.AsyncBaseTransport):
    """Send requests straight to ``app``.

    ``timeout`` (seconds) bounds each exchange; when None, the request's own read timeout
    (the client's ``timeout=`` setting) applies, and with neither a hang waits forever.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        timeout: float | None = None,
        client: tuple[str, int] = ("127.0.0.1", 50000),
    ) -> None:
        self.app = app
        self.timeout = timeout
        self._asgi = httpx.ASGITransport(app=app, client=client)

    def _timeout_for(self, request: httpx.Request) -> float | None:
        if self.timeout is not None:
            return self.timeout
        timeouts = request.extensions.get("timeout") or {}
        return timeouts.get("read")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = self._timeout_for(request)
        try:
            async with asyncio.timeout(timeout):
                return await self._asgi.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {timeout:g} s", request=request) from None
        except ConnectionDropped:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from None
