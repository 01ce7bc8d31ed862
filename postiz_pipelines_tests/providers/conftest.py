"""Fixtures every provider test can reuse: a sandbox state on the shared fixed clock, the
sandbox app, and an ``httpx.AsyncClient`` over the in-process transport.

A provider under test gets ``sandbox_http`` as its client and ``f"{SANDBOX_URL}/<platform>"``
(the ``sandbox_url`` fixture) as its base URL; the test reads ``sandbox_state.accepted(...)``
and steers faults with ``sandbox_state.faults.set(...)``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.providers.base import MediaFile
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app

SANDBOX_URL = "http://sandbox.test"


@pytest.fixture
def sandbox_url() -> str:
    return SANDBOX_URL


@pytest.fixture
def sandbox_state(clock: FixedClock) -> SandboxState:
    return SandboxState(clock=clock, seed=7)


@pytest.fixture
def sandbox_app(sandbox_state: SandboxState) -> Starlette:
    return create_app(sandbox_state)


@pytest.fixture
def sandbox_http(sandbox_app: Starlette) -> Iterator[httpx.AsyncClient]:
    """An httpx client of the in-process sandbox; a hang surfaces as ReadTimeout after 0.5 s."""
    client = httpx.AsyncClient(transport=SandboxTransport(sandbox_app, timeout=0.5))
    yield client
    asyncio.run(client.aclose())


@pytest.fixture
def image_file(tmp_path: Path) -> Callable[..., MediaFile]:
    """``image_file(name, width, height, alt_text="")``: a real PNG on disk as a MediaFile."""
    from PIL import Image

    def make(
        name: str = "image.png", width: int = 64, height: int = 48, alt_text: str = ""
    ) -> MediaFile:
        path = tmp_path / name
        buf = io.BytesIO()
        Image.new("RGB", (width, height), (20, 120, 220)).save(buf, "PNG")
        path.write_bytes(buf.getvalue())
        return MediaFile(
            path=path,
            mime_type="image/png",
            kind="image",
            size_bytes=path.stat().st_size,
            width=width,
            height=height,
            alt_text=alt_text,
        )

    return make


@pytest.fixture
def video_file(tmp_path: Path) -> Callable[..., MediaFile]:
    """``video_file(name)``: a small file that passes as an MP4 upload (never decoded)."""

    def make(name: str = "clip.mp4", width: int = 1280, height: int = 720) -> MediaFile:
        path = tmp_path / name
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2048)
        return MediaFile(
            path=path,
            mime_type="video/mp4",
            kind="video",
            size_bytes=path.stat().st_size,
            width=width,
            height=height,
            duration_ms=4000,
        )

    return make
