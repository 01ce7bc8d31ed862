"""The YouTube emulator: Data API v3 reads, ``thumbnails.set``, Google's OAuth 2.0 token
endpoint, the project's daily quota, and (in ``youtube_upload.py``) the resumable
``videos.insert`` upload.

Hosts, mounted under ``/youtube``::

    https://www.googleapis.com/youtube/v3/...         -> /youtube/youtube/v3/...
    https://www.googleapis.com/upload/youtube/v3/...  -> /youtube/upload/youtube/v3/...
    https://oauth2.googleapis.com/token               -> /youtube/token

Every call but the upload session's PUTs needs ``Authorization: Bearer``; an invalid,
expired or revoked token is 401 ``authError`` "Invalid Credentials". Errors are Google's
``{error: {code, message, errors: [{message, domain, reason}]}}``.

Quota: one project, 10,000 units a day, renewed at midnight Pacific time; ``videos.insert``
costs 1,600 units, ``thumbnails.set`` 50, a list call 1 (``videos.list`` with
``part=statistics`` answers a video's counts as strings, growing with the sandbox clock: a
deleted video is left out of ``items``). A call that would pass the budget is
403 ``quotaExceeded`` (``youtube.quota``) and costs nothing. A channel may upload
``uploads_per_day`` videos a day (400 ``uploadLimitExceeded``). An unaudited project's
uploads are kept private whatever was asked (``locked_private`` in the accepted post).

Tokens (``POST /token``, form): ``refresh_token`` grants a 1-hour access token and never a
new refresh token; an unknown or revoked refresh token is 400 ``invalid_grant``; a request
without ``client_id``/``client_secret`` is 401 ``invalid_client``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import oauth2
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.state import SandboxAccount, TokenStatus
from postiz_pipelines.sandbox.youtube_upload import UploadEndpoints
from postiz_pipelines.sandbox.youtube_world import (
    ACCESS_SECONDS,
    COSTS,
    PLATFORM,
    THUMBNAIL_MAX_BYTES,
    THUMBNAIL_TYPES,
    channel_id,
    iso,
    pacific_day,
    statistics,
    video_resource,
    youtube_world,
)


class YouTubeSandbox(UploadEndpoints, PlatformSandbox):
    """See the module docstring; the upload endpoints come from ``YouTubeUploads``."""

    name: ClassVar[str] = PLATFORM

    # -- errors ------------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        reason = {401: "authError", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded"}
        return self.google_error(status, reason.get(status, "backendError"), message)

    def google_error(
        self, status: int, reason: str, message: str, *, domain: str = "youtube.api"
    ) -> Response:
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }
        return JSONResponse(body, status_code=status)

    def fail(
        self, status: int, reason: str, message: str, *, domain: str = "youtube.api"
    ) -> HttpError:
        return HttpError(self.google_error(status, reason, message, domain=domain))

    # -- auth and quota ----------------------------------------------------------------
    def channel(self, call: Call) -> SandboxAccount:
        token = call.bearer_token()
        if token is None:
            raise self.fail(401, "required", "Login Required.", domain="global")
        status, account = oauth2.who(self.state, PLATFORM, token)
        if status is not TokenStatus.VALID or account.disabled:
            raise self.fail(401, "authError", "Invalid Credentials", domain="global")
        return account

    def charge(self, units: int) -> None:
        """Spend ``units`` of today's project quota, or refuse the call (costing nothing)."""
        w = youtube_world(self.state)
        day = pacific_day(self.state.now())
        with self.state.lock:
            spent = w.spent.get(day, 0)
            if spent + units > w.daily_units:
                raise self.fail(
                    403,
                    "quotaExceeded",
                    "The request cannot be completed because you have exceeded your "
                    '<a href="/youtube/v3/getting-started#quota">quota</a>.',
                    domain="youtube.quota",
                )
            w.spent[day] = spent + units

    # -- OAuth -------------------------------------------------------------------------
    @endpoint("POST", "/token")
    async def token(self, call: Call) -> Response:
        form = await call.json_or_form()
        if not form.get("client_id") or not form.get("client_secret"):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
                status_code=401,
            )
        try:
            if form.get("grant_type") == "refresh_token":
                grant = oauth2.grant_refresh(
                    self.state,
                    PLATFORM,
                    str(form.get("refresh_token") or ""),
                    access_seconds=ACCESS_SECONDS,
                    refresh_seconds=None,
                    rotate=False,
                )
                extra: dict[str, Any] = {}
            elif form.get("grant_type") == "authorization_code":
                grant = oauth2.grant_code(
                    self.state,
                    PLATFORM,
                    str(form.get("code") or ""),
                    access_seconds=ACCESS_SECONDS,
                    refresh_seconds=None,
                )
                extra = {"refresh_token": grant.refresh_token}
            else:
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        except oauth2.GrantRefused as exc:
            return JSONResponse(
                {"error": exc.error, "error_description": exc.description}, status_code=400
            )
        return JSONResponse(
            {
                "access_token": grant.access_token,
                "expires_in": grant.expires_in,
                "scope": "https://www.googleapis.com/auth/youtube.upload "
                "https://www.googleapis.com/auth/youtube.readonly",
                "token_type": "Bearer",
                **extra,
            }
        )

    # -- reads -------------------------------------------------------------------------
    @endpoint("GET", "/youtube/v3/channels")
    async def channels(self, call: Call) -> Response:
        account = self.channel(call)
        self.charge(COSTS["list"])
        if call.request.query_params.get("mine") != "true":
            raise self.fail(400, "missingRequiredParameter", "No filter selected.")
        cid = channel_id(account)
        item = {
            "kind": "youtube#channel",
            "id": cid,
            "snippet": {"title": account.display_name},
            "contentDetails": {"relatedPlaylists": {"uploads": "UU" + cid[2:]}},
        }
        return JSONResponse({"kind": "youtube#channelListResponse", "items": [item]})

    @endpoint("GET", "/youtube/v3/playlistItems")
    async def playlist_items(self, call: Call) -> Response:
        account = self.channel(call)
        self.charge(COSTS["list"])
        playlist = call.request.query_params.get("playlistId", "")
        if playlist != "UU" + channel_id(account)[2:]:
            raise self.fail(
                404,
                "playlistNotFound",
                "The playlist identified with the request's playlistId parameter cannot be found.",
            )
        limit = min(50, int(call.request.query_params.get("maxResults") or 5))
        mine = [p for p in self.state.accepted(PLATFORM) if p.account_id == account.id]
        items = [
            {
                "kind": "youtube#playlistItem",
                "snippet": {
                    "title": p.extra["title"],
                    "publishedAt": iso(p.created_at),
                    "resourceId": {"kind": "youtube#video", "videoId": p.remote_id},
                },
                "contentDetails": {"videoId": p.remote_id, "videoPublishedAt": iso(p.created_at)},
            }
            for p in reversed(mine[-limit:])
        ]
        return JSONResponse({"kind": "youtube#playlistItemListResponse", "items": items})

    @endpoint("GET", "/youtube/v3/videos")
    async def videos(self, call: Call) -> Response:
        account = self.channel(call)
        self.charge(COSTS["list"])
        ids = [i for i in call.request.query_params.get("id", "").split(",") if i]
        if len(ids) > 50:
            raise self.fail(400, "invalidFilters", "The request specifies more than 50 video ids.")
        parts = set(call.request.query_params.get("part", "snippet").split(","))
        items = []
        for vid in ids:
            post = self.state.post(PLATFORM, vid)
            counts = self.state.engagement(PLATFORM, vid)
            if post is None or counts is None or post.account_id != account.id:
                continue  # a deleted or private video is left out of the answer
            item = video_resource(post)
            if "statistics" in parts:
                item["statistics"] = statistics(counts)
            if not parts & {"snippet", "status"}:
                item = {k: v for k, v in item.items() if k not in ("snippet", "status")}
            items.append(item)
        return JSONResponse(
            {
                "kind": "youtube#videoListResponse",
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            }
        )

    # -- thumbnails --------------------------------------------------------------------
    @endpoint("POST", "/upload/youtube/v3/thumbnails/set")
    async def set_thumbnail(self, call: Call) -> Response:
        account = self.channel(call)
        vid = call.request.query_params.get("videoId", "")
        post = self.state.post(PLATFORM, vid)
        if post is None:
            raise self.fail(
                404, "videoNotFound", "The video that you are trying to update cannot be found."
            )
        if post.account_id != account.id:
            raise self.fail(403, "forbidden", "The thumbnail can't be set for the specified video.")
        if not youtube_world(self.state).thumbnails_allowed:
            raise self.fail(
                403,
                "forbidden",
                "The authenticated user doesn't have permissions to upload and set custom "
                "video thumbnails.",
            )
        ctype = call.request.headers.get("content-type", "")
        data = await call.request.body()
        if not data:
            raise self.fail(
                400, "mediaBodyRequired", "The request does not include the image content."
            )
        if ctype not in THUMBNAIL_TYPES or len(data) > THUMBNAIL_MAX_BYTES:
            raise self.fail(
                400,
                "invalidImage",
                f"The thumbnail must be JPEG or PNG and at most "
                f"{THUMBNAIL_MAX_BYTES} bytes; got {ctype or 'no type'}, "
                f"{len(data)} bytes.",
            )
        self.charge(COSTS["thumbnail"])
        youtube_world(self.state).thumbnails[vid] = len(data)
        return JSONResponse(
            {
                "kind": "youtube#thumbnailSetResponse",
                "items": [{"default": {"url": f"https://i.ytimg.com/vi/{vid}/default.jpg"}}],
            }
        )
