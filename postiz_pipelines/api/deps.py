"""Typed dependencies: the app's state, the authenticated caller and their roles, the
worker and batch keys, and the per-user write limit.

Scoping rule, applied by ``Caller.require``: a workspace the caller is not a member of
does not exist for them (404, whatever its id), and a member whose role is too low gets
403. Objects are first loaded, then checked against their own workspace, so another
workspace's object answers exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import httpx
from fastapi import Depends, Request

from postiz_pipelines.api.problems import ApiProblem, forbidden, unauthorized
from postiz_pipelines.api.ratelimit import RateLimiter
from postiz_pipelines.clock import Clock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.storage import Storage
from postiz_pipelines.core.models import Role
from postiz_pipelines.core.workspaces import auth
from postiz_pipelines.errors import NotFound


@dataclass
class ApiState:
    """What every request handler reaches through ``request.app.state.api``."""

    app: AppContext
    clock: Clock
    transport: httpx.AsyncBaseTransport | None
    write_limiter: RateLimiter
    storage: Storage
    max_upload_bytes: int

    def now(self) -> datetime:
        return self.clock.now()


def get_state(request: Request) -> ApiState:
    return request.app.state.api


State = Annotated[ApiState, Depends(get_state)]


@dataclass
class Caller:
    """The user behind a request and their role in each of their workspaces."""

    user_id: str
    email: str
    token_id: str
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"

    @property
    def workspace_ids(self) -> set[str]:
        return set(self.roles)

    def require(
        self,
        workspace_id: str,
        role: Role | str = Role.VIEWER,
        *,
        kind: str = "workspace",
        ident: str | None = None,
    ) -> None:
        """404 (as ``kind ident``) outside the caller's workspaces, 403 below ``role``."""
        have = self.roles.get(workspace_id)
        if have is None:
            raise NotFound(kind, ident or workspace_id)
        if not auth.role_allows(have, role):
            raise forbidden(f"your role in this workspace is {have}; this needs {role} or higher")

    def require_somewhere(self, role: Role, action: str) -> None:
        """403 unless the caller holds ``role`` or higher in at least one workspace: the
        rule for actions that belong to no workspace (creating one, issuing a token)."""
        if not any(auth.role_allows(have, role) for have in self.roles.values()):
            highest = max(self.roles.values(), key=auth.ROLE_RANK.__getitem__, default=None)
            held = f"your highest role is {highest}" if highest else "you belong to no workspace"
            raise forbidden(f"{action} needs the {role} role in some workspace; {held}")


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_caller(request: Request, st: State) -> Caller:
    """The caller authenticated by ``Authorization: Bearer pz_...``; 401 otherwise."""
    token = bearer(request)
    if token is None:
        raise unauthorized("send an API token as 'Authorization: Bearer pz_...'")
    now = st.now()
    with st.app.db.read() as s:
        found = auth.verify_token(s, token, now=now)
        if found is None:
            raise unauthorized("the API token is unknown, revoked or expired")
        user, row = found
        caller = Caller(user.id, user.email, row.id, auth.memberships(s, user.id))
        stale = row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60
    if stale:
        with st.app.db.session() as s:
            auth.touch_token(s, caller.token_id, now=now)
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def writer(caller: CallerDep, st: State) -> Caller:
    """The caller, after spending one token of their write budget (429 when empty)."""
    wait = st.write_limiter.hit(caller.user_id, st.now())
    if wait is not None:
        raise ApiProblem(
            429,
            f"too many writes; limit {st.write_limiter.spec.requests} per "
            f"{st.write_limiter.spec.per_seconds:g} s, retry in {wait:g} s",
            headers={"Retry-After": str(int(wait))},
        )
    return caller


WriterDep = Annotated[Caller, Depends(writer)]


def _require_key(request: Request, configured: str | None, name: str) -> None:
    if configured is None:
        raise unauthorized(f"{name} is not set on the server, so this endpoint is closed")
    if not auth.keys_match(bearer(request), configured):
        raise unauthorized(f"send 'Authorization: Bearer <{name}>'")


def worker_key(request: Request, st: State) -> None:
    """The worker endpoints' key (POSTIZ_WORKER_API_KEY), compared in constant time."""
    key = st.app.settings.worker_api_key
    _require_key(request, key.get_secret_value() if key else None, "POSTIZ_WORKER_API_KEY")


def batch_key(request: Request, st: State) -> None:
    """The batch endpoints' key (POSTIZ_BATCH_API_KEY), compared in constant time."""
    key = st.app.settings.batch_api_key
    _require_key(request, key.get_secret_value() if key else None, "POSTIZ_BATCH_API_KEY")
