"""A local emulator of the platforms' HTTP APIs, with fault injection.

``create_app(state)`` is the ASGI app (``/{platform}/...`` plus the ``/_sandbox`` control
API); ``SandboxTransport`` runs it in-process under httpx; ``running_sandbox()`` serves it
over TCP. ``SandboxState`` records what each platform accepted and holds its faults.
"""

from __future__ import annotations

from postiz_pipelines.sandbox.app import PLATFORMS, create_app
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.faults import ConnectionDropped, Faults, FaultSpec
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    SandboxAccount,
    SandboxState,
    StoredMedia,
    TokenStatus,
)
from postiz_pipelines.sandbox.transport import SandboxTransport

__all__ = [
    "PLATFORMS",
    "AcceptedPost",
    "Call",
    "ConnectionDropped",
    "FaultSpec",
    "Faults",
    "HttpError",
    "PlatformSandbox",
    "SandboxAccount",
    "SandboxState",
    "SandboxTransport",
    "StoredMedia",
    "TokenStatus",
    "create_app",
    "endpoint",
]
