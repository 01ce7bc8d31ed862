"""The Pinterest emulator: API v5 boards, pins, video media registration and the OAuth
token endpoint, at ``https://api.pinterest.com`` -> ``/pinterest``.

- ``POST /v5/oauth/token`` (HTTP Basic ``client_id:client_secret``, form): ``refresh_token``
  grants a 30-day access token and keeps the refresh token.
- ``GET /v5/boards``, ``GET /v5/boards/{id}/sections``, ``GET /v5/boards/{id}/pins``: each
  account has a board "Inspiration" with a section "Ideas"; pins newest first.
- ``POST /v5/pins``: ``board_id`` (and ``board_section_id``) of the caller's, ``title`` at
  most 100 characters, ``description`` 500, ``alt_text`` 500, ``link`` 2,048 (http or
  https), ``note``; ``media_source`` ``image_url``, ``image_base64`` (PNG, JPEG, WebP, at
  most 20 MB, decoded) or ``video_id`` (a media whose processing ``succeeded``, and a cover).
- ``POST /v5/media`` ``{media_type: video}`` registers an upload: ``upload_url`` (here
  ``/pinterest/media-upload/{id}``) and ``upload_parameters`` to send as multipart fields
  with the file; ``GET /v5/media/{id}`` is ``registered`` until the file arrives, then
  ``processing`` for a couple of polls, then ``succeeded``.

Errors are ``{code, message}``: 401 code 2 "Authentication failed.", 403 code 29, 404 code 3
"Board not found.", 400 code 1 for invalid parameters, 429 code 8. Every answer carries
``x-ratelimit-limit/-remaining/-reset`` (seconds to the window's end) of the user's
window: 1,000 calls a day, as Trial access allows. Pins made with Trial access are
visible to their creator only (``extra.visible_to_creator_only``). ``GET
/v5/pins/{id}/analytics`` (``pinterest_analytics.py``) answers a pin's counts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import oauth2
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.pinterest_analytics import PinAnalyticsEndpoints
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, SandboxState, TokenStatus
from postiz_pipelines.sandbox.world import world

PLATFORM = "pinterest"
ACCESS_SECONDS = 30 * 86400
REFRESH_SECONDS = 365 * 86400
LIMITS = {"title": 100, "description": 500, "alt_text": 500, "link": 2048}
IMAGE_MAX_BYTES = 20 * 1024 * 1024
IMAGE_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}
DAILY_CALLS = 1000


@dataclass
class Registration:
    account_id: str
    status: str = "registered"
    polls_left: int = 2
    size: int = 0


@dataclass
class PinterestWorld:
    trial: bool = True
    processing_polls: int = 2
    fail_media: bool = False  # the next upload's processing fails
    media: dict[str, Registration] = field(default_factory=dict)


def pinterest_world(state: SandboxState) -> PinterestWorld:
    return world(state, PLATFORM, PinterestWorld)


def board_id(account: SandboxAccount) -> str:
    return str(int(hashlib.sha256(f"board:{account.id}".encode()).hexdigest()[:15], 16))


def section_id(account: SandboxAccount) -> str:
    return str(int(hashlib.sha256(f"section:{account.id}".encode()).hexdigest()[:15], 16))


class PinterestSandbox(PinAnalyticsEndpoints, PlatformSandbox):
    """See the module docstring; pin analytics come from ``pinterest_analytics.py``."""

    name: ClassVar[str] = PLATFORM

    def error_response(self, status: int, message: str) -> Response:
        code = {401: 2, 403: 29, 404: 3, 429: 8}.get(status, 1 if status < 500 else 0)
        return JSONResponse({"code": code, "message": message}, status_code=status)

    def fail(self, status: int, code: int, message: str) -> HttpError:
        return HttpError(JSONResponse({"code": code, "message": message}, status_code=status))

    def user(self, call: Call) -> SandboxAccount:
        token = call.bearer_token()
        if token is None:
            raise self.fail(401, 2, "Authentication failed.")
        status, account = oauth2.who(self.state, PLATFORM, token)
        if status is not TokenStatus.VALID or account.disabled:
            raise self.fail(401, 2, "Authentication failed.")
        window = self.state.hit_rate_limit(
            PLATFORM, "calls", account.id, limit=DAILY_CALLS, per_seconds=86400
        )
        reset = max(0, int((window.reset_at - self.state.now()).total_seconds()))
        call.headers.update(
            {
                "x-ratelimit-limit": str(window.limit),
                "x-ratelimit-remaining": str(window.remaining),
                "x-ratelimit-reset": str(reset),
            }
        )
        if window.exceeded:
            raise self.fail(429, 8, "You have exceeded your rate limit. Try again later.")
        return account

    async def body(self, call: Call) -> dict[str, Any]:
        try:
            data = json.loads(await call.request.body() or b"{}")
        except json.JSONDecodeError:
            raise self.fail(400, 1, "Invalid JSON.") from None
        if not isinstance(data, dict):
            raise self.fail(400, 1, "The body must be an object.")
        return data

    # -- OAuth -------------------------------------------------------------------------
    @endpoint("POST", "/v5/oauth/token")
    async def token(self, call: Call) -> Response:
        scheme, _, encoded = call.request.headers.get("authorization", "").partition(" ")
        try:
            client = base64.b64decode(encoded).decode() if scheme.lower() == "basic" else ""
        except (binascii.Error, UnicodeDecodeError):
            client = ""
        if ":" not in client or not client.split(":", 1)[1]:
            return JSONResponse(
                {"code": 1, "message": "Invalid client credentials"}, status_code=401
            )
        form = await call.json_or_form()
        grant_type = form.get("grant_type")
        if grant_type not in ("refresh_token", "authorization_code"):
            return JSONResponse({"code": 1, "message": "Unsupported grant_type"}, status_code=400)
        try:
            if grant_type == "authorization_code":
                grant = oauth2.grant_code(
                    self.state,
                    PLATFORM,
                    str(form.get("code") or ""),
                    access_seconds=ACCESS_SECONDS,
                    refresh_seconds=REFRESH_SECONDS,
                )
                return JSONResponse(
                    {
                        "access_token": grant.access_token,
                        "refresh_token": grant.refresh_token,
                        "token_type": "bearer",
                        "expires_in": grant.expires_in,
                        "refresh_token_expires_in": grant.refresh_expires_in,
                        "scope": "boards:read,pins:read,pins:write,user_accounts:read",
                        "response_type": "authorization_code",
                    }
                )
            grant = oauth2.grant_refresh(
                self.state,
                PLATFORM,
                str(form.get("refresh_token") or ""),
                access_seconds=ACCESS_SECONDS,
                refresh_seconds=REFRESH_SECONDS,
                rotate=False,
            )
        except oauth2.GrantRefused:
            return JSONResponse(
                {"code": 1, "message": "Invalid refresh token", "error": "invalid_grant"},
                status_code=400,
            )
        return JSONResponse(
            {
                "access_token": grant.access_token,
                "token_type": "bearer",
                "expires_in": grant.expires_in,
                "scope": "boards:read,pins:read,pins:write",
                "response_type": "refresh_token",
            }
        )

    # -- boards ------------------------------------------------------------------------
    @endpoint("GET", "/v5/boards")
    async def boards(self, call: Call) -> Response:
        account = self.user(call)
        item = {
            "id": board_id(account),
            "name": "Inspiration",
            "privacy": "PUBLIC",
            "owner": {"username": account.username},
        }
        return JSONResponse({"items": [item], "bookmark": None})

    @endpoint("GET", "/v5/boards/{board}/sections")
    async def sections(self, call: Call) -> Response:
        account = self.user(call)
        self._board(account, call.request.path_params["board"])
        return JSONResponse(
            {"items": [{"id": section_id(account), "name": "Ideas"}], "bookmark": None}
        )

    @endpoint("GET", "/v5/boards/{board}/pins")
    async def board_pins(self, call: Call) -> Response:
        account = self.user(call)
        board = self._board(account, call.request.path_params["board"])
        size = min(250, int(call.request.query_params.get("page_size") or 25))
        pins = [p for p in self.state.accepted(PLATFORM) if p.extra["board_id"] == board]
        return JSONResponse(
            {"items": [pin_json(p) for p in reversed(pins[-size:])], "bookmark": None}
        )

    def _board(self, account: SandboxAccount, board: str) -> str:
        if board != board_id(account):
            raise self.fail(404, 3, "Board not found.")
        return board

    # -- media -------------------------------------------------------------------------
    @endpoint("POST", "/v5/media")
    async def register_media(self, call: Call) -> Response:
        account = self.user(call)
        if (await self.body(call)).get("media_type") != "video":
            raise self.fail(400, 1, "media_type must be video.")
        media_id = str(5_000_000_000_000 + self.state.next_number())
        w = pinterest_world(self.state)
        w.media[media_id] = Registration(account.id, polls_left=w.processing_polls)
        return JSONResponse(
            {
                "media_id": media_id,
                "media_type": "video",
                "upload_url": f"{call.platform_url}/media-upload/{media_id}",
                "upload_parameters": {
                    "key": f"uploads/{media_id}.mp4",
                    "policy": "sandbox-policy",
                    "x-amz-signature": hashlib.sha256(media_id.encode()).hexdigest(),
                },
            },
            status_code=201,
        )

    @endpoint("POST", "/media-upload/{media_id}")
    async def upload(self, call: Call) -> Response:
        reg = pinterest_world(self.state).media.get(call.request.path_params["media_id"])
        form = await call.request.form()
        file = form.get("file")
        if reg is None or form.get("key") is None or form.get("x-amz-signature") is None:
            return Response(
                "<Error><Code>AccessDenied</Code></Error>",
                status_code=403,
                media_type="application/xml",
            )
        if file is None or isinstance(file, str):
            return Response(
                "<Error><Code>InvalidArgument</Code></Error>",
                status_code=400,
                media_type="application/xml",
            )
        reg.size = len(await file.read())
        reg.status = "processing"
        return Response(status_code=204)

    @endpoint("GET", "/v5/media/{media_id}")
    async def media_status(self, call: Call) -> Response:
        account = self.user(call)
        media_id = call.request.path_params["media_id"]
        w = pinterest_world(self.state)
        reg = w.media.get(media_id)
        if reg is None or reg.account_id != account.id:
            raise self.fail(404, 3, "Media not found.")
        if reg.status == "processing":
            if reg.polls_left > 0:
                reg.polls_left -= 1
            else:
                reg.status = "failed" if w.fail_media else "succeeded"
        return JSONResponse({"media_id": media_id, "media_type": "video", "status": reg.status})

    # -- pins --------------------------------------------------------------------------
    @endpoint("POST", "/v5/pins", publish=True)
    async def create_pin(self, call: Call) -> Response:
        account = self.user(call)
        body = await self.body(call)
        board = self._board(account, str(body.get("board_id") or ""))
        section = body.get("board_section_id")
        if section is not None and section != section_id(account):
            raise self.fail(404, 3, "Board section not found.")
        for name, limit in LIMITS.items():
            value = body.get(name)
            if value is not None and len(str(value)) > limit:
                raise self.fail(
                    400, 1, f"Invalid parameters: {name} is longer than {limit} characters."
                )
        link = body.get("link")
        if link and not str(link).startswith(("http://", "https://")):
            raise self.fail(400, 1, "Invalid parameters: link must be an http or https URL.")
        media_type, size = self._media(account, body.get("media_source") or {})
        pin_id = str(1_100_000_000_000_000_000 + self.state.next_number())
        post = self.state.record_post(
            AcceptedPost(
                platform=PLATFORM,
                account_id=account.id,
                handle=account.username,
                text=str(body.get("description") or ""),
                remote_id=pin_id,
                created_at=self.state.now(),
                extra={
                    "board_id": board,
                    "board_section_id": section,
                    "title": body.get("title"),
                    "link": link,
                    "alt_text": body.get("alt_text"),
                    "note": body.get("note"),
                    "media_type": media_type,
                    "media_bytes": size,
                    "source_type": (body.get("media_source") or {}).get("source_type"),
                    "image_url": (body.get("media_source") or {}).get("url"),
                    "visible_to_creator_only": pinterest_world(self.state).trial,
                },
            )
        )
        return JSONResponse(pin_json(post), status_code=201)

    def _media(self, account: SandboxAccount, source: dict[str, Any]) -> tuple[str, int]:
        kind = source.get("source_type")
        if kind == "image_url":
            url = urlsplit(str(source.get("url") or ""))
            host = (url.hostname or "").lower()
            if url.scheme not in ("http", "https") or not host or host.endswith(".invalid"):
                raise self.fail(400, 1, "Unable to reach the URL.")
            named = mimetypes.guess_type(url.path)[0]
            if named is not None and named not in IMAGE_MAGIC.values():
                raise self.fail(400, 1, f"The URL is not a supported image ({named}).")
            return "image", 0
        if kind == "image_base64":
            try:
                data = base64.b64decode(str(source.get("data") or ""), validate=True)
            except binascii.Error:
                raise self.fail(400, 1, "Invalid parameters: data is not base64.") from None
            found = next((t for magic, t in IMAGE_MAGIC.items() if data.startswith(magic)), None)
            if found is None or found != source.get("content_type"):
                raise self.fail(
                    400, 1, "Invalid parameters: the image is not the content_type given."
                )
            if len(data) > IMAGE_MAX_BYTES:
                raise self.fail(400, 1, f"The image is larger than {IMAGE_MAX_BYTES} bytes.")
            return "image", len(data)
        if kind == "video_id":
            reg = pinterest_world(self.state).media.get(str(source.get("media_id") or ""))
            if reg is None or reg.account_id != account.id:
                raise self.fail(400, 1, "Invalid parameters: unknown media_id.")
            if reg.status != "succeeded":
                raise self.fail(400, 1, f"The video is not ready (status {reg.status}).")
            if not (
                source.get("cover_image_url")
                or source.get("cover_image_key_frame_time") is not None
            ):
                raise self.fail(400, 1, "Invalid parameters: a video pin needs a cover image.")
            return "video", reg.size
        raise self.fail(400, 1, "Invalid parameters: media_source.source_type.")


def pin_json(post: AcceptedPost) -> dict[str, Any]:
    e = post.extra
    return {
        "id": post.remote_id,
        "created_at": _iso(post.created_at),
        "board_id": e["board_id"],
        "board_section_id": e["board_section_id"],
        "title": e["title"],
        "description": post.text,
        "link": e["link"],
        "alt_text": e["alt_text"],
        "note": e["note"],
        "media": {"media_type": e["media_type"]},
    }


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")
