"""What the Meta emulators (Facebook Pages, Instagram, Threads) share: the Graph API dialect.

- Paths are versioned, ``/{version}/{node}/{edge}`` with any ``vNN.N`` version; the token
  comes in an ``Authorization: Bearer|OAuth`` header or an ``access_token`` parameter;
  parameters come in the query string, a form, a multipart body or a JSON object.
- Errors are ``{"error": {"message", "type", "code", "error_subcode", "is_transient",
  "error_user_title", "error_user_msg", "fbtrace_id"}}``, mostly with HTTP 400, as Graph
  answers them. A missing token answers code 2500; a revoked token 190/460, an expired one
  190/463, a checkpointed (disabled) account 190/459.
- An unseen token provisions an account (the page, the Instagram or Threads user). Tokens
  a refresh endpoint issues reach the account of the token they replaced and live 60 days
  (``expires_in`` 5,183,944 s); the token they replaced stays valid. An expired token
  cannot be refreshed (Meta refreshes only unexpired tokens).
- Every authenticated call counts against the account's Business Use Case budget: 4,800
  calls per UTC day (one engaged user; real budgets scale with the audience). Answers
  carry ``X-App-Usage`` and ``X-Business-Use-Case-Usage`` (percentages, and
  ``estimated_time_to_regain_access`` in minutes); over budget the platform's throttle
  code answers (HTTP 400), and an injected 429 carries the same body and headers.
- Media containers (Instagram, Threads): Meta downloads media from a public URL. The
  emulator cannot, so it judges the URL: its extension gives the file type, and a host
  under the reserved ``.invalid`` domain cannot be fetched. Images are ready at once;
  videos report IN_PROGRESS for ``PROCESSING_POLLS`` status reads; a container not
  published within 24 h is EXPIRED. Containers live in ``SandboxState`` as media (so a
  reset forgets them) with their Graph fields beside them in the emulator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import mimetypes
import re
import secrets
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox
from postiz_pipelines.sandbox.state import (
    SandboxAccount,
    SandboxState,
    StoredMedia,
    TokenStatus,
)

VERSION_RE = re.compile(r"v\d{1,2}\.\d")
TOKEN_EXPIRES_IN = 5_183_944
API_BUDGET = (4800, 86_400.0)
CONTAINER_LIFETIME = timedelta(hours=24)
PROCESSING_POLLS = 2
QUOTA_WINDOW = 86_400.0
ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>Error</title></head><body>"
    "<h1>Sorry, something went wrong.</h1><p>We're working on it.</p></body></html>"
)


def graph_time(value: datetime) -> str:
    """A timestamp as Graph writes it: ``2026-11-28T12:00:00+0000``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def truthy(value: Any) -> bool:
    return str(value).lower() in {"1", "true", "t", "on", "yes"}


def url_mime_type(url: str) -> str | None:
    """The file type a URL's extension names (what the emulator takes Meta to download)."""
    return mimetypes.guess_type(urlsplit(url).path)[0]


def unreachable(url: str) -> bool:
    """Whether Meta could not fetch ``url``: not http(s), no host, or a ``.invalid`` host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme not in ("http", "https") or not host or host.split(".")[-1] == "invalid"


def shortcode(graph_id: str) -> str:
    """A short, URL-safe code for a permalink, derived from the numeric id."""
    number = int(graph_id)
    raw = number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _version_key(version: str) -> tuple[int, int]:
    major, _, minor = version.removeprefix("v").partition(".")
    return int(major), int(minor or 0)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    """A token a refresh endpoint issued: whose it is and when it lapses."""

    account_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Container:
    """A media container's Graph fields (its lifecycle is in the state's ``StoredMedia``)."""

    id: str
    account_id: str
    media_type: str  # IMAGE, VIDEO, REELS, STORIES, CAROUSEL, TEXT
    created_at: datetime
    url: str | None = None
    text: str = ""
    children: tuple[str, ...] = ()
    is_carousel_item: bool = False
    reply_to: str | None = None
    error: str | None = None  # the platform's error code once processing has failed


class MetaGraphSandbox(PlatformSandbox):
    """Base of the Meta emulators; see the module docstring."""

    usage_type: ClassVar[str] = "pages"  # the BUC header's ``type``
    # The Graph API versions this host serves, oldest first (Meta retires a version about
    # two years after its release).
    graph_versions: ClassVar[tuple[str, ...]] = ("v21.0", "v22.0", "v23.0", "v24.0")
    throttle_code: ClassVar[int] = 32
    throttle_message: ClassVar[str] = "(#32) Page request limit reached"
    graph_id_base: ClassVar[int] = 10_000_000_000_000_000

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state)
        self._issued: dict[str, Issued] = {}
        self._containers: dict[str, Container] = {}

    # -- errors --------------------------------------------------------------------------
    def graph_response(
        self,
        message: str,
        code: int,
        *,
        status: int = 400,
        subcode: int | None = None,
        title: str | None = None,
        user_msg: str | None = None,
        transient: bool = False,
        kind: str = "OAuthException",
    ) -> JSONResponse:
        error: dict[str, Any] = {"message": message, "type": kind, "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        error["is_transient"] = transient
        if title:
            error["error_user_title"] = title
        if user_msg:
            error["error_user_msg"] = user_msg
        error["fbtrace_id"] = secrets.token_urlsafe(12)
        return JSONResponse({"error": error}, status_code=status)

    def graph_error(self, message: str, code: int, **kw: Any) -> HttpError:
        return HttpError(self.graph_response(message, code, **kw))

    def error_response(self, status: int, message: str) -> Response:
        if status == 503:
            return self.graph_response(
                "(#2) Service temporarily unavailable", 2, status=503, transient=True
            )
        if status >= 500:
            return self.graph_response(
                "An unknown error has occurred.", 1, status=status, transient=True
            )
        return self.graph_response(message, 100, status=status)

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status in (502, 504):  # the edge answers these, as an HTML page
            return HTMLResponse(ERROR_PAGE, status_code=status)
        if status == 429:
            response = self.graph_response(
                self.throttle_message, self.throttle_code, status=429, transient=True
            )
            wait = (reset_at - self.state.now()).total_seconds() if reset_at else 0.0
            owner = call.request.path_params.get("node_id", "0")
            self._usage_headers(response.headers, owner, 100, math.ceil(max(0.0, wait) / 60))
            return response
        return self.error_response(status, HTTPStatus(status).phrase)

    # -- requests ------------------------------------------------------------------------
    def check_version(self, call: Call) -> None:
        """Serve a released version; a call to one retired before the oldest available is
        served as the oldest (Meta upgrades it); any other version does not exist and is
        refused as an unknown path (code 2500)."""
        version = call.request.path_params.get("version", "")
        released = self.graph_versions
        if version in released:
            return
        if VERSION_RE.fullmatch(version) and _version_key(version) < _version_key(released[0]):
            return
        raise self.graph_error(f"Unknown path components: /{version}", 2500)

    async def params(self, call: Call) -> dict[str, Any]:
        """Query parameters merged with the body (JSON object, form or multipart)."""
        values: dict[str, Any] = dict(call.request.query_params)
        if call.request.method == "GET":
            return values
        ctype = call.request.headers.get("content-type", "")
        try:
            if ctype.startswith("application/json"):
                body = json.loads(await call.request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("not an object")
                values.update(body)
            elif ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                form = await call.request.form()
                for key in form:
                    values[key] = form.getlist(key)[-1]
        except (ValueError, HTTPException):
            raise self.graph_error("(#100) Unable to parse the request body", 100) from None
        return values

    def token(self, call: Call, params: Mapping[str, Any]) -> str | None:
        scheme, _, value = call.request.headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
        token = params.get("access_token")
        return str(token) if token else None

    def authenticate(self, call: Call, params: Mapping[str, Any]) -> SandboxAccount:
        """The caller's account, after Meta's token checks and the BUC budget."""
        token = self.token(call, params)
        if token is None:
            raise self.graph_error(
                "An active access token must be used to query information about the current user.",
                2500,
            )
        auth = self.state.authenticate(self.name, token)
        account = auth.account
        issued = self._issued.get(_digest(token))
        if issued is not None:
            account = self.state.account(self.name, issued.account_id) or account
        status = auth.status
        now = self.state.now()
        if status is TokenStatus.VALID and issued is not None and now >= issued.expires_at:
            status = TokenStatus.EXPIRED
        if status is TokenStatus.REVOKED:
            raise self.graph_error(
                "Error validating access token: The session has been invalidated because "
                "the user changed their password or Facebook has changed the session for "
                "security reasons.",
                190,
                subcode=460,
            )
        if status is TokenStatus.EXPIRED:
            when = issued.expires_at if issued is not None else now
            raise self.graph_error(
                f"Error validating access token: Session has expired on "
                f"{when:%A, %d-%b-%y %H:%M:%S} UTC. The current time is "
                f"{now:%A, %d-%b-%y %H:%M:%S} UTC.",
                190,
                subcode=463,
            )
        if account.disabled:
            raise self.graph_error(
                "Error validating access token: You cannot access the app till you log in "
                "to www.facebook.com and follow the instructions given.",
                190,
                subcode=459,
            )
        self._throttle(call, account)
        return account

    def _throttle(self, call: Call, account: SandboxAccount) -> None:
        limit, per_seconds = API_BUDGET
        window = self.state.hit_rate_limit(
            self.name, "api", account.id, limit=limit, per_seconds=per_seconds
        )
        percent = min(100, window.used * 100 // max(1, window.limit))
        wait = 0
        if window.exceeded:
            wait = math.ceil((window.reset_at - self.state.now()).total_seconds() / 60)
        self._usage_headers(call.headers, account.id, percent, wait)
        if window.exceeded:
            raise self.graph_error(self.throttle_message, self.throttle_code, transient=True)

    def _usage_headers(
        self,
        headers: MutableMapping[str, str] | MutableHeaders,
        owner_id: str,
        percent: int,
        wait_minutes: int,
    ) -> None:
        share = {"call_count": percent, "total_cputime": percent // 4, "total_time": percent // 4}
        headers["X-App-Usage"] = json.dumps(share)
        business = {**share, "type": self.usage_type}
        business["estimated_time_to_regain_access"] = wait_minutes
        headers["X-Business-Use-Case-Usage"] = json.dumps({owner_id: [business]})

    def unsupported(self, method: str, node_id: str) -> HttpError:
        """Graph's answer for a node that does not exist or is not the caller's (100/33)."""
        return self.graph_error(
            f"Unsupported {method} request. Object with ID '{node_id}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation.",
            100,
            subcode=33,
            kind="GraphMethodException",
        )

    def graph_id(self) -> str:
        return str(self.graph_id_base + self.state.next_number())

    # -- tokens --------------------------------------------------------------------------
    def issue_token(self, account: SandboxAccount, prefix: str) -> str:
        """A new long-lived token reaching ``account``."""
        token = prefix + secrets.token_urlsafe(32)
        expires_at = self.state.now() + timedelta(seconds=TOKEN_EXPIRES_IN)
        with self.state.lock:  # a running_sandbox() serves from its own thread
            self._issued[_digest(token)] = Issued(account.id, expires_at)
        return token

    async def refresh(self, call: Call, grant_type: str, prefix: str) -> Response:
        """``GET /refresh_access_token?grant_type=...&access_token=...`` (IG and Threads).
        With ``state.configure(<platform>, rotate_refresh_tokens=True)`` the refreshed token
        stops working once its successor is issued (a rotating long-lived token)."""
        params = await self.params(call)
        if params.get("grant_type") != grant_type:
            raise self.graph_error(f"(#100) Param grant_type must be one of {{{grant_type}}}", 100)
        account = self.authenticate(call, params)
        token = self.issue_token(account, prefix)
        if self.state.setting(self.name, "rotate_refresh_tokens", False):
            old = self.token(call, params)  # a rotating platform: the used token stops working
            if old:
                self.state.revoke_token(self.name, old)
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_EXPIRES_IN}
        )

    # -- containers ----------------------------------------------------------------------
    def put_container(self, container: Container, *, pending_polls: int) -> Container:
        source = container.url or container.text
        with self.state.lock:
            self._containers[container.id] = container
        self.state.put_media(
            StoredMedia(
                platform=self.name,
                id=container.id,
                account_id=container.account_id,
                mime_type=_container_type(container),
                size_bytes=0,
                sha256=hashlib.sha256(source.encode()).hexdigest(),
                created_at=container.created_at,
                filename=container.url or "",
                description=container.text,
                pending_polls=pending_polls,
            )
        )
        return container

    def container(self, container_id: str, account: SandboxAccount) -> Container | None:
        """The account's container, if it exists in the state (a reset forgets it)."""
        media = self.state.media(self.name, container_id)
        found = self._containers.get(container_id)
        if media is None or found is None or found.created_at != media.created_at:
            return None
        return found if found.account_id == account.id else None

    def container_status(self, container: Container, *, consume: bool = False) -> str:
        """PUBLISHED, EXPIRED, IN_PROGRESS, ERROR or FINISHED; ``consume`` spends one
        processing poll (a status read does, a publish attempt does not)."""
        media = self.state.media(self.name, container.id)
        assert media is not None
        if media.attached_to is not None:
            return "PUBLISHED"
        if self.state.now() - container.created_at >= CONTAINER_LIFETIME:
            return "EXPIRED"
        if not media.ready:
            if consume:
                self.state.update_media(self.name, media.id, pending_polls=media.pending_polls - 1)
            return "IN_PROGRESS"
        return "ERROR" if container.error else "FINISHED"

    def attached_media(self, ids: Iterable[str]) -> tuple[StoredMedia, ...]:
        found = (self.state.media(self.name, i) for i in ids)
        return tuple(m for m in found if m is not None)

    def window_start(
        self, account: SandboxAccount, bucket: str, default_limit: int
    ) -> tuple[datetime, int]:
        """The start of the account's publishing window (the UTC day) and its limit.

        Reading the limit through a probe key honours ``override_rate_limit`` without
        counting a publish; the posts themselves are counted from what was accepted.
        """
        probe = self.state.hit_rate_limit(
            self.name, bucket, f"{account.id}:probe", limit=default_limit, per_seconds=QUOTA_WINDOW
        )
        return probe.reset_at - timedelta(seconds=QUOTA_WINDOW), probe.limit

    def quota_usage(self, account: SandboxAccount, bucket: str, since: datetime) -> int:
        return sum(
            1
            for post in self.state.accepted(self.name)
            if post.account_id == account.id
            and post.created_at >= since
            and post.extra.get("quota") == bucket
        )

    # -- listing -------------------------------------------------------------------------
    def paged(self, call: Call, items: list[dict[str, Any]], params: Mapping[str, Any]) -> Response:
        """One page of a Graph edge with cursor paging (``limit``, ``after``)."""
        after = str(params.get("after") or "")
        try:
            limit = min(100, max(1, int(params.get("limit", 25))))
            start = int(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4))) if after else 0
        except ValueError:
            raise self.graph_error("(#100) Invalid cursor or limit", 100) from None
        chunk = items[start : start + limit]
        body: dict[str, Any] = {"data": chunk}
        if chunk:
            body["paging"] = {
                "cursors": {
                    "before": _cursor(start),
                    "after": _cursor(start + len(chunk)),
                }
            }
            if start + limit < len(items):
                query = {k: str(v) for k, v in params.items() if k != "access_token"}
                query["after"] = _cursor(start + len(chunk))
                body["paging"]["next"] = str(call.request.url.replace_query_params(**query))
        return JSONResponse(body)


def select_fields(
    obj: Mapping[str, Any], params: Mapping[str, Any], default: str
) -> dict[str, Any]:
    """The object reduced to the ``fields`` asked for (Graph always adds ``id``)."""
    wanted = [f.strip() for f in str(params.get("fields") or default).split(",") if f.strip()]
    out = {"id": obj["id"]} if "id" in obj else {}
    out.update({name: obj[name] for name in wanted if name in obj})
    return out


def _container_type(container: Container) -> str:
    """What the container holds, as a media type: the URL's, else its kind's usual one."""
    if container.url and (found := url_mime_type(container.url)):
        return found
    if container.media_type in ("VIDEO", "REELS"):
        return "video/mp4"
    if container.media_type in ("IMAGE", "STORIES"):
        return "image/jpeg"
    return "text/plain" if container.media_type == "TEXT" else "application/json"


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")
