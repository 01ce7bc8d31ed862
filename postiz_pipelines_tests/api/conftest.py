"""Fixtures for the HTTP API: the real app over the test database, the in-process sandbox as
every provider's network, a fixed clock, and a ``World`` of two workspaces with one user
per role (tokens made through core.auth, exactly as the CLI bootstrap does).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from postiz_pipelines.api import create_app
from postiz_pipelines.api.ratelimit import RateSpec
from postiz_pipelines.clock import FixedClock
from postiz_pipelines.core.accounts.store import add_account
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.workspaces import auth
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.sandbox import SandboxState, SandboxTransport
from postiz_pipelines.sandbox import create_app as create_sandbox

SANDBOX = "http://sandbox.test"
WORKER_KEY = "worker-key-for-tests-0123456789"
BATCH_KEY = "batch-key-for-tests-0123456789"
ROLES = ("owner", "admin", "editor", "viewer")


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "POSTIZ_WORKER_API_KEY": WORKER_KEY, "POSTIZ_BATCH_API_KEY": BATCH_KEY}


@pytest.fixture
def sandbox_state(clock: FixedClock) -> SandboxState:
    return SandboxState(clock=clock, seed=11)


@pytest.fixture
def transport(sandbox_state: SandboxState) -> SandboxTransport:
    return SandboxTransport(create_sandbox(sandbox_state), timeout=5)


@pytest.fixture
def api_app(app: AppContext, clock: FixedClock, transport: SandboxTransport):  # type: ignore[no-untyped-def]
    return create_app(app, clock=clock, transport=transport, write_limit=RateSpec(1000, 60))


class Client:
    """A synchronous face on ``httpx.AsyncClient`` over the app's ASGI interface: each call
    runs on one private event loop, so tests stay plain functions."""

    def __init__(self, asgi_app: Any) -> None:
        self._runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=asgi_app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://api.test")

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self._runner.run(self._client.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()


@pytest.fixture
def make_client() -> Iterator[Callable[[Any], Client]]:
    """``make_client(asgi_app)``: a Client over another app (closed after the test)."""
    made: list[Client] = []

    def make(asgi_app: Any) -> Client:
        made.append(Client(asgi_app))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(api_app, make_client) -> Client:  # type: ignore[no-untyped-def]
    return make_client(api_app)


@pytest.fixture
def worker_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {WORKER_KEY}"}


@pytest.fixture
def batch_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {BATCH_KEY}"}


@dataclass
class World:
    """Workspace ``a`` with a user per role, workspace ``b`` with its own owner."""

    a: str
    b: str
    tokens: dict[str, str] = field(default_factory=dict)  # role -> token in a; "b_owner"
    users: dict[str, str] = field(default_factory=dict)
    account_a: str = ""
    account_b: str = ""

    def h(self, who: str = "owner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world(app: AppContext, clock: FixedClock) -> World:
    now = clock.now()
    with app.db.session() as s:
        a = create_workspace(s, slug="acme", timezone="Europe/Berlin", now=now)
        b = create_workspace(s, slug="globex", timezone="UTC", now=now)
        w = World(a=a.id, b=b.id)
        for role in ROLES:
            user = auth.create_user(s, email=f"{role}@acme.test", now=now)
            auth.set_member(s, workspace_id=a.id, user_id=user.id, role=role, now=now)
            w.tokens[role] = auth.create_token(s, user_id=user.id, name="t", now=now).token
            w.users[role] = user.id
        other = auth.create_user(s, email="owner@globex.test", now=now)
        auth.set_member(s, workspace_id=b.id, user_id=other.id, role="owner", now=now)
        w.tokens["b_owner"] = auth.create_token(s, user_id=other.id, name="t", now=now).token
        w.users["b_owner"] = other.id
        w.account_a = add_account(
            s,
            app.keyring,
            workspace=a,
            platform="mastodon",
            handle="alice",
            access_token="tok-alice",
            base_url=f"{SANDBOX}/mastodon",
            now=now,
        ).id
        w.account_b = add_account(
            s,
            app.keyring,
            workspace=b,
            platform="mastodon",
            handle="gina",
            access_token="tok-gina",
            base_url=f"{SANDBOX}/mastodon",
            now=now,
        ).id
    return w


@pytest.fixture
def png() -> Callable[..., bytes]:
    """``png(width, height, color)``: the bytes of a real PNG image."""

    def make(
        width: int = 32, height: int = 24, color: tuple[int, int, int] = (10, 200, 90)
    ) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (width, height), color).save(buf, "PNG")
        return buf.getvalue()

    return make


@pytest.fixture
def soon(clock: FixedClock) -> Callable[[int], str]:
    """``soon(seconds)``: an ISO 8601 instant that many seconds after the test clock's now."""
    return lambda seconds=600: (clock.now() + timedelta(seconds=seconds)).isoformat()
