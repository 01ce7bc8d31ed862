"""The connect endpoints of the Meta emulators (Facebook Login and Threads).

Facebook: ``GET /{version}/oauth/access_token`` exchanges a consent-page code for a
short-lived user token (``code``), or a user token for a long-lived one
(``grant_type=fb_exchange_token``); ``GET /{version}/me/accounts`` lists the user's Pages,
each with its own Page token and, for Pages linked to an Instagram professional account,
``instagram_business_account``. A user has ``pages_per_user`` Pages (``state.configure(
"facebook", pages_per_user=N)``, default 2). A Page token is the same string on every
listing, so reconnecting reaches the same Page; it is valid in the Instagram emulator too,
where it reaches the linked Instagram account (Instagram through Facebook Login).

Threads: ``POST /oauth/access_token`` exchanges a code for a short-lived token; the
long-lived one comes from ``GET /access_token`` (``th_exchange_token``) in ``threads.py``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import authorize
from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState

SHORT_SECONDS = 3600
LONG_SECONDS = 60 * 24 * 3600


def page_token(user: SandboxAccount, n: int) -> str:
    digest = hashlib.sha256(f"{user.id}:{n}".encode()).hexdigest()[:40]
    return f"EAAPage{digest}"


class _Connect:
    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def graph_error(self, message: str, code: int, **kw: Any) -> HttpError: ...

        async def params(self, call: Call) -> dict[str, Any]: ...

        def authenticate(self, call: Call, params: Any) -> SandboxAccount: ...

        def issue_token(self, account: SandboxAccount, prefix: str) -> str: ...

        def check_version(self, call: Call) -> None: ...

    def _code_grant(self, params: dict[str, Any]) -> SandboxAccount:
        if not params.get("client_id") or not params.get("client_secret"):
            raise self.graph_error("Missing client_id or client_secret parameter", 101)
        code = str(params.get("code") or "")
        try:
            pending = authorize.redeem(
                self.state,
                self.name,
                code,
                client_id=str(params["client_id"]),
                redirect_uri=str(params.get("redirect_uri") or ""),
                code_verifier=params.get("code_verifier"),
                required=True,
            )
        except authorize.CodeRefused as exc:
            raise self.graph_error(
                f"Error validating verification code: {exc.description}", 100, subcode=36007
            ) from None
        assert pending is not None
        account = self.state.account(self.name, pending.account_id)
        assert account is not None
        return account


class FacebookConnect(_Connect):
    """Mixed into the Facebook emulator."""

    @endpoint("GET", "/{version}/oauth/access_token")
    async def oauth_access_token(self, call: Call) -> Response:
        self.check_version(call)
        params = await self.params(call)
        if params.get("grant_type") == "fb_exchange_token":
            if not params.get("client_secret"):
                raise self.graph_error("Missing client_secret parameter", 101)
            user = self.authenticate(call, {"access_token": params.get("fb_exchange_token")})
            seconds = LONG_SECONDS
        else:
            user = self._code_grant(params)
            seconds = SHORT_SECONDS
        token = self.issue_token(user, "EAAU")
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": seconds})

    @endpoint("GET", "/{version}/me/accounts")
    async def me_accounts(self, call: Call) -> Response:
        self.check_version(call)
        params = await self.params(call)
        user = self.authenticate(call, params)
        pages = []
        for n in range(int(self.state.setting(self.name, "pages_per_user", 2))):
            token = page_token(user, n)
            name = f"{user.display_name} Page {n + 1}"
            page = self.state.provision(
                self.name, token, username=f"{user.username}-page{n + 1}", display_name=name
            )
            insta = self.state.provision("instagram", token, username=f"{user.username}_ig{n + 1}")
            pages.append(
                {
                    "id": page.id,
                    "name": page.display_name,
                    "access_token": token,
                    "category": "Brand",
                    "tasks": ["CREATE_CONTENT", "MANAGE", "MODERATE"],
                    "instagram_business_account": {"id": insta.id, "username": insta.username},
                }
            )
        return JSONResponse({"data": pages, "paging": {"cursors": {}}})


class ThreadsConnect(_Connect):
    """Mixed into the Threads emulator."""

    @endpoint("POST", "/oauth/access_token")
    async def oauth_access_token(self, call: Call) -> Response:
        params = await self.params(call)
        if params.get("grant_type") != "authorization_code":
            raise self.graph_error("(#100) grant_type must be authorization_code", 100)
        user = self._code_grant(params)
        token = self.issue_token(user, "THAA" + secrets.token_hex(2))
        return JSONResponse({"access_token": token, "user_id": int(user.id)})
