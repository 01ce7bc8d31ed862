"""The session endpoints of the Bluesky emulator: ``com.atproto.server.createSession``,
``refreshSession``, ``getSession`` and ``getServiceAuth``.

``createSession {identifier, password}`` treats the app password as the sandbox token: an
unseen one makes an account whose handle is the identifier. Sessions are a 2-hour access
JWT and a 90-day refresh JWT; ``refreshSession`` rotates both and revokes the used refresh
JWT at once (the PDS allows a short grace). ``createSession`` is limited to 30 per 5
minutes and 300 per day per identifier. Service-auth tokens live a minute by default and
at most an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.bluesky_identity import (
    did_doc,
    did_for,
    did_web,
    handle_of,
    is_handle,
    mint_jwt,
)
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState, TokenStatus

ACCESS_SECONDS = 2 * 3600
REFRESH_SECONDS = 90 * 24 * 3600
SERVICE_AUTH_MAX_SECONDS = 3600
SESSION_LIMITS = ((30, 300.0), (300, 86400.0))


@dataclass(frozen=True)
class Caller:
    account: SandboxAccount
    handle: str
    did: str
    token: str


def epoch(value: datetime) -> int:
    return int(value.timestamp())


class SessionEndpoints:
    """Session endpoints, mixed into the Bluesky emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def _xrpc(self, status: int, error: str, message: str) -> HttpError: ...

        def _ip_limit(self, call: Call) -> None: ...

        def _throttle(
            self,
            call: Call,
            bucket: str,
            key: str,
            budgets: tuple[tuple[int, float], ...],
            points: int = 1,
        ) -> None: ...

        def _caller(self, call: Call, *, refresh: bool = False) -> Caller: ...

        async def _json(self, call: Call) -> dict[str, Any]: ...

        def _require(self, params: Any, name: str, where: str = "Input") -> str: ...

    def _session(self, call: Call, account: SandboxAccount, *, full: bool) -> dict[str, Any]:
        handle = handle_of(account)
        did = did_for(handle)
        now = epoch(self.state.now())
        common = {"sub": did, "aud": did_web(call.request.url.hostname or ""), "iat": now}

        def mint(typ: str, scope: str, seconds: int) -> str:
            # A unique ``jti`` keeps two sessions of one instant apart (the clock may stand).
            jti = f"{account.id}-{self.state.next_number()}"
            claims = {"scope": scope, **common, "exp": now + seconds, "jti": jti}
            return mint_jwt(self.state, typ, {**claims, "acct": account.id})

        access = mint("at+jwt", "com.atproto.appPass", ACCESS_SECONDS)
        refresh = mint("refresh+jwt", "com.atproto.refresh", REFRESH_SECONDS)
        body: dict[str, Any] = {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": handle,
            "did": did,
            "didDoc": did_doc(did, handle, call.platform_url),
            "active": True,
        }
        if full:
            body.update(email=f"{account.username}@sandbox.invalid", emailConfirmed=True)
        return body

    @endpoint("POST", "/xrpc/com.atproto.server.createSession")
    async def create_session(self, call: Call) -> Response:
        self._ip_limit(call)
        body = await self._json(call)
        identifier = self._require(body, "identifier").strip().lower()
        password = self._require(body, "password")
        self._throttle(call, "session", identifier, SESSION_LIMITS)
        with self.state.lock:
            auth = self.state.authenticate(self.name, password)
            account = auth.account
            unnamed = account.username == f"user{account.id}"
            held = any(handle_of(a) == identifier for a in self.state.accounts(self.name))
            # an unseen password names a new account, never one whose handle is taken
            if unnamed and auth.status is TokenStatus.VALID and is_handle(identifier) and not held:
                account = self.state.provision(self.name, password, username=identifier)
        handle = handle_of(account)
        known = (handle, did_for(handle), f"{account.username}@sandbox.invalid")
        if auth.status is not TokenStatus.VALID or identifier not in known:
            raise self._xrpc(401, "AuthenticationRequired", "Invalid identifier or password")
        if account.disabled:
            raise self._xrpc(401, "AccountTakedown", "Account has been taken down")
        return JSONResponse(self._session(call, account, full=True))

    @endpoint("POST", "/xrpc/com.atproto.server.refreshSession")
    async def refresh_session(self, call: Call) -> Response:
        self._ip_limit(call)
        caller = self._caller(call, refresh=True)
        self.state.revoke_token(self.name, caller.token)
        return JSONResponse(self._session(call, caller.account, full=False))

    @endpoint("GET", "/xrpc/com.atproto.server.getSession")
    async def get_session(self, call: Call) -> Response:
        self._ip_limit(call)
        caller = self._caller(call)
        body = self._session(call, caller.account, full=True)
        for name in ("accessJwt", "refreshJwt"):
            body.pop(name)
        return JSONResponse(body)

    @endpoint("GET", "/xrpc/com.atproto.server.getServiceAuth")
    async def service_auth(self, call: Call) -> Response:
        self._ip_limit(call)
        caller = self._caller(call)
        params = call.request.query_params
        aud = self._require(params, "aud", "Params")
        now = epoch(self.state.now())
        try:
            exp = int(params.get("exp") or now + 60)
        except ValueError:
            raise self._xrpc(400, "InvalidRequest", "exp must be an integer") from None
        if exp <= now:
            raise self._xrpc(400, "BadExpiration", "expiration is in past")
        if exp - now > SERVICE_AUTH_MAX_SECONDS:
            raise self._xrpc(
                400,
                "BadExpiration",
                "cannot request a token with an expiration more than an hour in the future",
            )
        claims = {
            "iss": caller.did,
            "aud": aud,
            "exp": exp,
            "iat": now,
            "jti": f"svc-{self.state.next_number()}",
            "acct": caller.account.id,
        }
        if params.get("lxm"):
            claims["lxm"] = params["lxm"]
        return JSONResponse({"token": mint_jwt(self.state, "JWT", claims)})
