"""The TikTok emulator: Content Posting API v2 (direct post), at
``https://open.tiktokapis.com`` -> ``/tiktok``.

- ``POST /v2/oauth/token/`` (form, ``client_key``/``client_secret``): ``refresh_token``
  grants a 2-hour access token and a new refresh token; the old one is retired (rotation).
- ``POST /v2/post/publish/creator_info/query/``: the creator's privacy options, comment,
  duet and stitch switches and maximum video length.
- ``POST /v2/post/publish/video/init/``: ``FILE_UPLOAD`` (``video_size``, ``chunk_size``,
  ``total_chunk_count``: one chunk under 5 MB, else chunks of 5 to 64 MB, the last taking
  the remainder up to 128 MB, 1 to 1,000 of them) answers an ``upload_url``;
  ``PULL_FROM_URL`` needs a ``video_url`` on a verified domain.
- ``PUT /upload/{publish_id}`` with ``Content-Range``: chunks in order (206, then 201).
- ``POST /v2/post/publish/content/init/``: photo posts (``media_type`` PHOTO, 1 to 35 JPEG
  or WebP URLs, pulled).
- ``POST /v2/post/publish/status/fetch/``: ``PROCESSING_UPLOAD``/``PROCESSING_DOWNLOAD``
  for a couple of polls once the bytes are in, then ``PUBLISH_COMPLETE`` (the post is
  recorded then) or ``FAILED`` with a ``fail_reason``.

Every answer is ``{data, error: {code, message, log_id}}``; ``code`` is ``ok`` on success.
Init checks the post against the creator: a privacy level they lack is
``privacy_level_option_mismatch``, comments, duets or stitches on where the creator turned
them off is ``invalid_params``; an unaudited app may post ``SELF_ONLY`` to private accounts
only (``unaudited_client_can_only_post_to_private_accounts``) and for five users a day
(``reached_active_user_cap``); a creator posts ``posts_per_day`` times a day
(``spam_risk_too_many_posts``). Init is limited to 6 a minute per user and status fetch to
30 (429 ``rate_limit_exceeded``). A bad token is 401 ``access_token_invalid``.
``POST /v2/video/query/`` (``tiktok_videos.py``) answers a video's counts.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import oauth2
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.counting import utf16_length
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, TokenStatus
from postiz_pipelines.sandbox.tiktok_videos import VideoQueryEndpoints
from postiz_pipelines.sandbox.tiktok_world import PLATFORM, Publish, tiktok_world

MB = 1024 * 1024
ACCESS_SECONDS = 7200
REFRESH_SECONDS = 180 * 86400
TITLE_MAX = 2200
PHOTO_TITLE_MAX = 90
PHOTO_DESCRIPTION_MAX = 4000
RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
DAY = timedelta(days=1)


class TikTokSandbox(VideoQueryEndpoints, PlatformSandbox):
    """See the module docstring; the video query comes from ``tiktok_videos.py``."""

    name: ClassVar[str] = PLATFORM

    def error_response(self, status: int, message: str) -> Response:
        code = {401: "access_token_invalid", 429: "rate_limit_exceeded"}.get(
            status, "internal_error"
        )
        return self.answer(None, code, message, status=status)

    def answer(
        self, data: Any, code: str = "ok", message: str = "", *, status: int = 200
    ) -> Response:
        body = {
            "data": data or {},
            "error": {"code": code, "message": message, "log_id": "202611280000"},
        }
        return JSONResponse(body, status_code=status)

    def fail(self, status: int, code: str, message: str) -> HttpError:
        return HttpError(self.answer(None, code, message, status=status))

    def user(self, call: Call) -> SandboxAccount:
        token = call.bearer_token()
        status, account = oauth2.who(self.state, PLATFORM, token or "") if token else (None, None)
        if account is None or status is not TokenStatus.VALID or account.disabled:
            raise self.fail(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        return account

    def throttle(self, call: Call, bucket: str, account: SandboxAccount, limit: int) -> None:
        window = self.state.hit_rate_limit(
            PLATFORM, bucket, account.id, limit=limit, per_seconds=60
        )
        if window.exceeded:
            raise self.fail(
                429, "rate_limit_exceeded", "API rate limit exceeded, please try again later."
            )

    async def body(self, call: Call) -> dict[str, Any]:
        try:
            data = json.loads(await call.request.body() or b"{}")
        except json.JSONDecodeError:
            raise self.fail(400, "invalid_params", "The request body is not JSON.") from None
        if not isinstance(data, dict):
            raise self.fail(400, "invalid_params", "The request body must be an object.")
        return data

    # -- OAuth -------------------------------------------------------------------------
    @endpoint("POST", "/v2/oauth/token/")
    async def token(self, call: Call) -> Response:
        form = await call.json_or_form()
        if not form.get("client_key") or not form.get("client_secret"):
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "Client key or secret is incorrect.",
                },
                status_code=401,
            )
        try:
            if form.get("grant_type") == "authorization_code":
                grant = oauth2.grant_code(
                    self.state,
                    PLATFORM,
                    str(form.get("code") or ""),
                    access_seconds=ACCESS_SECONDS,
                    refresh_seconds=REFRESH_SECONDS,
                )
            elif form.get("grant_type") != "refresh_token":
                raise oauth2.GrantRefused(
                    "unsupported_grant_type",
                    "grant_type must be authorization_code or refresh_token.",
                )
            else:
                grant = oauth2.grant_refresh(
                    self.state,
                    PLATFORM,
                    str(form.get("refresh_token") or ""),
                    access_seconds=ACCESS_SECONDS,
                    refresh_seconds=REFRESH_SECONDS,
                    rotate=True,
                )
        except oauth2.GrantRefused as exc:
            return JSONResponse(
                {"error": exc.error, "error_description": exc.description}, status_code=400
            )
        return JSONResponse(
            {
                "open_id": f"open-{grant.account.id}",
                "scope": "user.info.basic,video.publish",
                "access_token": grant.access_token,
                "expires_in": grant.expires_in,
                "refresh_token": grant.refresh_token,
                "refresh_expires_in": grant.refresh_expires_in,
                "token_type": "Bearer",
            }
        )

    # -- creator -----------------------------------------------------------------------
    @endpoint("POST", "/v2/post/publish/creator_info/query/")
    async def creator_info(self, call: Call) -> Response:
        account = self.user(call)
        c = tiktok_world(self.state).creator(account.id)
        return self.answer(
            {
                "creator_avatar_url": f"https://p16.tiktokcdn.com/{account.id}.jpeg",
                "creator_username": account.username,
                "creator_nickname": account.display_name,
                "privacy_level_options": list(c.privacy_level_options),
                "comment_disabled": c.comment_disabled,
                "duet_disabled": c.duet_disabled,
                "stitch_disabled": c.stitch_disabled,
                "max_video_post_duration_sec": c.max_video_post_duration_sec,
            }
        )

    def check_post(self, account: SandboxAccount, info: dict[str, Any], *, photo: bool) -> None:
        w = tiktok_world(self.state)
        c = w.creator(account.id)
        privacy = info.get("privacy_level")
        if privacy not in c.privacy_level_options:
            raise self.fail(
                400,
                "privacy_level_option_mismatch",
                f"privacy_level {privacy!r} is not one of the creator's options.",
            )
        if not w.audited:
            if privacy != "SELF_ONLY" or not c.private_account:
                raise self.fail(
                    403,
                    "unaudited_client_can_only_post_to_private_accounts",
                    "Unaudited clients can only post to private accounts with SELF_ONLY.",
                )
        switches = [("disable_comment", c.comment_disabled)]
        if not photo:
            switches += [("disable_duet", c.duet_disabled), ("disable_stitch", c.stitch_disabled)]
        for name, off in switches:
            if off and info.get(name) is False:
                raise self.fail(
                    400, "invalid_params", f"{name} must be true: the creator turned it off."
                )
        title = str(info.get("title") or "")
        limit = PHOTO_TITLE_MAX if photo else TITLE_MAX
        if utf16_length(title) > limit:
            raise self.fail(400, "invalid_params", f"title is longer than {limit} UTF-16 runes.")
        if photo and utf16_length(str(info.get("description") or "")) > PHOTO_DESCRIPTION_MAX:
            raise self.fail(
                400, "invalid_params", f"description is longer than {PHOTO_DESCRIPTION_MAX}."
            )
        self.count_post(account)

    def count_post(self, account: SandboxAccount) -> None:
        w = tiktok_world(self.state)
        since = self.state.now() - DAY
        recent = [p for p in w.publishes.values() if p.created_at > since]
        mine = [p for p in recent if p.account_id == account.id]
        if len(mine) >= w.posts_per_day:
            raise self.fail(
                403, "spam_risk_too_many_posts", "The user has reached the daily post cap."
            )
        users = {p.account_id for p in recent}
        if not w.audited and account.id not in users and len(users) >= w.posting_users_cap:
            raise self.fail(
                403,
                "reached_active_user_cap",
                "The daily cap of active posting users for this unaudited client is reached.",
            )

    def verified(self, url: str) -> None:
        prefixes = tiktok_world(self.state).verified_url_prefixes
        if not url.startswith("https://") or (
            prefixes is not None and not url.startswith(prefixes)
        ):
            raise self.fail(
                403,
                "url_ownership_unverified",
                f"The domain of {url} is not verified for this client.",
            )

    def new_publish(self, publish: Publish) -> str:
        pid = f"v_pub_file~v2-1.{7_300_000_000_000_000_000 + self.state.next_number()}"
        w = tiktok_world(self.state)
        publish.polls_left = w.processing_polls
        if w.fail_next:
            publish.fail_reason, w.fail_next = w.fail_next, ""
        w.publishes[pid] = publish
        return pid

    # -- video ---------------------------------------------------------------------------
    @endpoint("POST", "/v2/post/publish/video/init/", publish=True)
    async def video_init(self, call: Call) -> Response:
        account = self.user(call)
        self.throttle(call, "init", account, 6)
        body = await self.body(call)
        info, source = body.get("post_info") or {}, body.get("source_info") or {}
        kind = source.get("source")
        if kind == "FILE_UPLOAD":
            size, chunk, count = (
                int(source.get(k) or 0) for k in ("video_size", "chunk_size", "total_chunk_count")
            )
            self.check_chunks(size, chunk, count)
        elif kind == "PULL_FROM_URL":
            self.verified(str(source.get("video_url") or ""))
        else:
            raise self.fail(
                400, "invalid_params", "source_info.source must be FILE_UPLOAD or PULL_FROM_URL."
            )
        self.check_post(account, info, photo=False)
        publish = Publish(account.id, "VIDEO", kind, dict(info), self.state.now())
        if kind == "FILE_UPLOAD":
            publish.size, publish.chunk_size, publish.total_chunks = size, chunk, count
        else:
            publish.urls, publish.status = (str(source["video_url"]),), "PROCESSING_DOWNLOAD"
        pid = self.new_publish(publish)
        data = {"publish_id": pid}
        if kind == "FILE_UPLOAD":
            data["upload_url"] = f"{call.platform_url}/upload/{pid}"
        return self.answer(data)

    def check_chunks(self, size: int, chunk: int, count: int) -> None:
        if size <= 0:
            raise self.fail(400, "invalid_params", "video_size must be positive.")
        if size < 5 * MB:
            ok = chunk == size and count == 1
        else:
            ok = 5 * MB <= chunk <= 64 * MB and count == size // chunk and 1 <= count <= 1000
            ok = ok and size - chunk * (count - 1) <= 128 * MB
        if not ok:
            raise self.fail(
                400,
                "invalid_params",
                f"chunk_size {chunk} and total_chunk_count {count} do not fit video_size {size}.",
            )

    @endpoint("PUT", "/upload/{publish_id}")
    async def upload(self, call: Call) -> Response:
        publish = tiktok_world(self.state).publishes.get(call.request.path_params["publish_id"])
        if publish is None or publish.source != "FILE_UPLOAD":
            raise self.fail(404, "invalid_params", "Unknown upload.")
        data = await call.request.body()
        match = RANGE_RE.match(call.request.headers.get("content-range", ""))
        if match is None or int(match[3]) != publish.size or int(match[1]) != publish.received:
            raise self.fail(
                400,
                "invalid_params",
                f"Chunks go in order; expected bytes from {publish.received}.",
            )
        first, last = int(match[1]), int(match[2])
        is_last = publish.chunks == publish.total_chunks - 1
        expected = publish.size - publish.received if is_last else publish.chunk_size
        if len(data) != last - first + 1 or len(data) != expected:
            raise self.fail(400, "invalid_params", f"This chunk must be {expected} bytes.")
        publish.received += len(data)
        publish.chunks += 1
        return Response(status_code=201 if is_last else 206)

    # -- photos --------------------------------------------------------------------------
    @endpoint("POST", "/v2/post/publish/content/init/", publish=True)
    async def content_init(self, call: Call) -> Response:
        account = self.user(call)
        self.throttle(call, "init", account, 6)
        body = await self.body(call)
        if body.get("media_type") != "PHOTO" or body.get("post_mode") != "DIRECT_POST":
            raise self.fail(
                400, "invalid_params", "media_type PHOTO and post_mode DIRECT_POST are served here."
            )
        info, source = body.get("post_info") or {}, body.get("source_info") or {}
        images = [str(u) for u in source.get("photo_images") or []]
        if source.get("source") != "PULL_FROM_URL" or not 1 <= len(images) <= 35:
            raise self.fail(400, "invalid_params", "Photos are pulled from 1 to 35 URLs.")
        for url in images:
            self.verified(url)
        self.check_post(account, info, photo=True)
        publish = Publish(
            account.id,
            "PHOTO",
            "PULL_FROM_URL",
            dict(info),
            self.state.now(),
            urls=tuple(images),
            status="PROCESSING_DOWNLOAD",
        )
        return self.answer({"publish_id": self.new_publish(publish)})

    # -- status --------------------------------------------------------------------------
    @endpoint("POST", "/v2/post/publish/status/fetch/")
    async def status_fetch(self, call: Call) -> Response:
        account = self.user(call)
        self.throttle(call, "status", account, 30)
        pid = str((await self.body(call)).get("publish_id") or "")
        publish = tiktok_world(self.state).publishes.get(pid)
        if publish is None or publish.account_id != account.id:
            raise self.fail(400, "invalid_publish_id", f"publish_id {pid!r} does not exist.")
        arrived = publish.source == "PULL_FROM_URL" or publish.received == publish.size
        if arrived and publish.status.startswith("PROCESSING"):
            if publish.polls_left > 0:
                publish.polls_left -= 1
            elif publish.fail_reason:
                publish.status = "FAILED"
            else:
                self.complete(pid, publish, account)
        data: dict[str, Any] = {"status": publish.status, "uploaded_bytes": publish.received}
        if publish.status == "FAILED":
            data["fail_reason"] = publish.fail_reason
        if publish.post_id and publish.post_info.get("privacy_level") == "PUBLIC_TO_EVERYONE":
            data["publicaly_available_post_id"] = [int(publish.post_id)]
        else:
            data["publicaly_available_post_id"] = []
        return self.answer(data)

    def complete(self, pid: str, publish: Publish, account: SandboxAccount) -> None:
        publish.status = "PUBLISH_COMPLETE"
        publish.post_id = str(7_400_000_000_000_000_000 + self.state.next_number())
        info = publish.post_info
        self.state.record_post(
            AcceptedPost(
                platform=PLATFORM,
                account_id=account.id,
                handle=account.username,
                text=str(info.get("title") or ""),
                remote_id=publish.post_id,
                created_at=self.state.now(),
                idempotency_key=pid,
                extra={
                    "publish_id": pid,
                    "media_type": publish.media_type,
                    "source": publish.source,
                    "privacy_level": info.get("privacy_level"),
                    "disable_comment": info.get("disable_comment"),
                    "disable_duet": info.get("disable_duet"),
                    "disable_stitch": info.get("disable_stitch"),
                    "description": info.get("description"),
                    "bytes": publish.received,
                    "chunks": publish.chunks,
                    "urls": list(publish.urls),
                },
            )
        )
