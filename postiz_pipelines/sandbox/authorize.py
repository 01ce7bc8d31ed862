"""The consent pages of the emulated platforms: ``GET`` an authorize URL and the sandbox
answers as a user who consents at once (a 302 to ``redirect_uri`` with ``code`` and
``state``), or who denies (``error=access_denied``).

Each page lives at the platform's own path under its mount (``AUTHORIZE_PATHS``: X's
``/x/i/oauth2/authorize``, Google's ``/youtube/o/oauth2/v2/auth``...). Who consents, and
whether they deny, is steered per request by the query flags ``sandbox_user=<name>`` and
``sandbox_consent=deny``, or for every request by ``PUT /_sandbox/{platform}/consent``
(``{"user": "alice", "deny": false}``). The default user is ``<platform>-user``, so two
connects reach the same account, as a person who connects twice would.

A code is bound to the client, the redirect URI and the PKCE challenge it was issued with;
``redeem`` (called by the token endpoints of X, Mastodon, Facebook, Threads and Discord)
refuses a code used twice, another client's, a different redirect URI or a verifier that
does not match (S256 or plain); the other token endpoints take a code once, in their own
books. Platforms that
require PKCE (X) refuse an authorize request without a challenge.

The revoke endpoints (``REVOKE_PATHS``: X's ``/2/oauth2/revoke``, Google's ``/revoke``...)
make a token, access or refresh, stop working.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from postiz_pipelines.sandbox import oauth2
from postiz_pipelines.sandbox.base import Call, EndpointSpec, _EndpointApp
from postiz_pipelines.sandbox.state import SandboxState
from postiz_pipelines.sandbox.world import world

if TYPE_CHECKING:
    from postiz_pipelines.sandbox.base import PlatformSandbox

AUTHORIZE_PATHS: dict[str, str] = {
    "x": "/i/oauth2/authorize",
    "linkedin": "/oauth/v2/authorization",
    "facebook": "/{version}/dialog/oauth",
    "instagram": "/{version}/dialog/oauth",
    "threads": "/oauth/authorize",
    "slack": "/oauth/v2/authorize",
    "discord": "/oauth2/authorize",
    "youtube": "/o/oauth2/v2/auth",
    "tiktok": "/v2/auth/authorize/",
    "pinterest": "/oauth/",
    "reddit": "/api/v1/authorize",
    "mastodon": "/oauth/authorize",
}
# token revocation, at each platform's own path: the token (access or refresh) stops working
REVOKE_PATHS: dict[str, tuple[str, str]] = {
    "x": ("POST", "/2/oauth2/revoke"),
    "linkedin": ("POST", "/oauth/v2/revoke"),
    "youtube": ("POST", "/revoke"),
    "tiktok": ("POST", "/v2/oauth/revoke/"),
    "reddit": ("POST", "/api/v1/revoke_token"),
    "discord": ("POST", "/api/oauth2/token/revoke"),
    "slack": ("POST", "/api/auth.revoke"),
    "facebook": ("DELETE", "/{version}/me/permissions"),
}
PKCE_REQUIRED = frozenset({"x"})
# platforms that name the OAuth client ``client_key`` (TikTok)
CLIENT_PARAM = {"tiktok": "client_key"}


@dataclass
class Pending:
    """A code waiting for its token request."""

    client_id: str
    redirect_uri: str
    account_id: str
    challenge: str | None
    method: str
    scope: str
    guild_id: str | None = None


@dataclass
class ConsentBook:
    pending: dict[str, Pending] = field(default_factory=dict)
    # apps registered on the emulated instance (Mastodon POST /api/v1/apps): id -> redirect
    apps: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (secret, redirects)


class CodeRefused(Exception):  # noqa: N818 - the OAuth error it carries is the name
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def consent_book(state: SandboxState, platform: str) -> ConsentBook:
    return world(state, f"{platform}-consent", ConsentBook)


def routes(emulators: dict[str, PlatformSandbox]) -> list[Route]:
    """The consent page of every emulated platform that has one, at its own path."""
    out = []
    for name, path in AUTHORIZE_PATHS.items():
        emulator = emulators.get(name)
        if emulator is None:
            continue
        spec = EndpointSpec("GET", path, publish=False)

        async def handler(call: Call, _name: str = name) -> Response:
            return await consent(call, _name)

        out.append(Route(f"/{name}{path}", _EndpointApp(emulator, spec, handler), methods=["GET"]))
    for name, (method, path) in REVOKE_PATHS.items():
        emulator = emulators.get(name)
        if emulator is None:
            continue
        spec = EndpointSpec(method, path, publish=False)

        async def revoker(call: Call, _name: str = name) -> Response:
            return await revoke(call, _name)

        out.append(Route(f"/{name}{path}", _EndpointApp(emulator, spec, revoker), methods=[method]))
    return out


async def revoke(call: Call, platform: str) -> Response:
    """Revoke the token in ``token`` (form, JSON or query) or the bearer token; 200 either
    way, as RFC 7009 answers for a token it does not know."""
    token = call.request.query_params.get("token") or call.request.query_params.get("access_token")
    if not token:
        try:
            body = await call.json_or_form()
        except ValueError:
            body = {}
        token = str(body.get("token") or "") or call.bearer_token()
    if token:
        call.state.revoke_token(platform, token)
        oauth2.revoke_refresh_token(call.state, platform, token)
    if platform == "slack":
        return JSONResponse({"ok": True, "revoked": bool(token)})
    if platform == "facebook":
        return JSONResponse({"success": True})
    return JSONResponse({"revoked": bool(token)} if platform == "x" else {})


def _redirect(uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(f"{uri}{'&' if '?' in uri else '?'}{query}", status_code=302)


async def consent(call: Call, platform: str) -> Response:
    """One user's answer to an authorize request; see the module docstring."""
    state = call.state
    q = call.request.query_params
    redirect_uri = q.get("redirect_uri") or ""
    if not redirect_uri.startswith(("http://", "https://")):
        return HTMLResponse("<h1>Invalid redirect_uri</h1>", status_code=400)
    client_id = q.get(CLIENT_PARAM.get(platform, "client_id")) or q.get("client_id") or ""
    book = consent_book(state, platform)
    if not client_id:
        return HTMLResponse("<h1>Missing client_id</h1>", status_code=400)
    if platform == "mastodon":
        app = book.apps.get(client_id)
        if app is None:
            return HTMLResponse("<h1>Client authentication failed</h1>", status_code=401)
        if redirect_uri not in app[1].split():
            return HTMLResponse("<h1>The redirect uri included is not valid.</h1>", 400)
    s = q.get("state")
    if q.get("response_type") != "code":
        return _redirect(redirect_uri, error="unsupported_response_type", state=s)
    challenge = q.get("code_challenge")
    if platform in PKCE_REQUIRED and not challenge:
        return _redirect(
            redirect_uri,
            error="invalid_request",
            error_description="Missing required parameter [code_challenge].",
            state=s,
        )
    deny = q.get("sandbox_consent") == "deny" or bool(state.setting(platform, "consent_deny"))
    if deny:
        return _redirect(
            redirect_uri,
            error="access_denied",
            error_description="The user denied the request.",
            state=s,
        )
    user = q.get("sandbox_user") or state.setting(platform, "consent_user") or f"{platform}-user"
    account = state.provision(platform, f"user:{user}", username=str(user))
    code = secrets.token_urlsafe(24)
    state.bind_token(platform, f"code:{code}", account.id)
    guild = q.get("guild_id") or (f"9{account.id:0>17}" if platform == "discord" else None)
    book.pending[code] = Pending(
        client_id,
        redirect_uri,
        account.id,
        challenge,
        q.get("code_challenge_method") or "plain",
        q.get("scope") or "",
        guild,
    )
    return _redirect(redirect_uri, code=code, state=s, guild_id=guild)


def redeem(
    state: SandboxState,
    platform: str,
    code: str,
    *,
    client_id: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
    required: bool = False,
) -> Pending | None:
    """Check a code the consent page issued against its token request and spend it.

    A code the page never issued passes as None (tests may name codes themselves), unless
    ``required``. Raises ``CodeRefused`` with the OAuth error otherwise.
    """
    book = consent_book(state, platform)
    with state.lock:
        pending = book.pending.pop(code, None)
    if pending is None:
        if required:
            raise CodeRefused("invalid_grant", "The authorization code is invalid or was used")
        return None
    if client_id is not None and client_id != pending.client_id:
        raise CodeRefused("invalid_grant", "The code was issued to another client")
    if redirect_uri is not None and redirect_uri != pending.redirect_uri:
        raise CodeRefused("invalid_grant", "redirect_uri does not match the authorize request")
    if pending.challenge:
        if not code_verifier:
            raise CodeRefused("invalid_request", "Missing required parameter [code_verifier].")
        if pending.method == "S256":
            digest = hashlib.sha256(code_verifier.encode()).digest()
            made = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        else:
            made = code_verifier
        if not secrets.compare_digest(made, pending.challenge):
            raise CodeRefused("invalid_grant", "The code_verifier does not match the challenge")
    return pending


async def set_consent(state: SandboxState, platform: str, request: Request) -> dict[str, object]:
    """``PUT /_sandbox/{platform}/consent``: who consents from now on, and whether they deny."""
    import json

    body = json.loads(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    user, deny = body.get("user"), body.get("deny", False)
    if user is not None and (not isinstance(user, str) or not user):
        raise ValueError("user must be a non-empty string")
    state.configure(platform, consent_user=user, consent_deny=bool(deny))
    return {"user": user, "deny": bool(deny)}
