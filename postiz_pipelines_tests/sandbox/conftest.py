"""Fixtures for the sandbox tests: a state on the shared fixed clock, its app, and an httpx
client over the in-process transport. Tests drive them with ``asyncio.run``."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app

SANDBOX_URL = "http://sandbox.test"


@pytest.fixture
def sandbox_state(clock: FixedClock) -> SandboxState:
    return SandboxState(clock=clock, seed=7)


@pytest.fixture
def sandbox_app(sandbox_state: SandboxState) -> Starlette:
    return create_app(sandbox_state)


@pytest.fixture
def sandbox_client(sandbox_app: Starlette) -> Iterator[httpx.AsyncClient]:
    """A client of the in-process sandbox; its generous timeout only bounds a broken test."""
    client = httpx.AsyncClient(
        transport=SandboxTransport(sandbox_app, timeout=10), base_url=SANDBOX_URL
    )
    yield client
    asyncio.run(client.aclose())


@pytest.fixture
def png() -> Callable[..., bytes]:
    """``png(width, height)``: the bytes of a real PNG image."""
    from PIL import Image

    def make(width: int = 8, height: int = 6) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "PNG")
        return buf.getvalue()

    return make


@pytest.fixture
def auth() -> Callable[[str], dict[str, str]]:
    """``auth(token)``: the Authorization header of a bearer token."""
    return lambda token: {"Authorization": f"Bearer {token}"}
