"""The Mastodon emulator: the instance, account, media and status endpoints of a
Mastodon 4.x server, with its validation messages, ``Idempotency-Key`` handling (one
hour, per account), Rack::Attack rate limits (300 requests per 5 min per account, media
uploads 30 per 30 min) and ``X-RateLimit-*`` headers with an ISO 8601 reset.

Images are processed synchronously (200); GIFs, video and audio answer 202 with ``url:
null`` and report 206 for ``PROCESSING_POLLS`` polls of ``GET /api/v1/media/:id``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.counting import mastodon_counted
from postiz_pipelines.sandbox.mastodon_entities import (
    AUDIO_TYPES,
    CHARACTERS_RESERVED_PER_URL,
    DESCRIPTION_LIMIT,
    IMAGE_MATRIX_LIMIT,
    IMAGE_SIZE_LIMIT,
    IMAGE_TYPES,
    MAX_CHARACTERS,
    MAX_MEDIA_ATTACHMENTS,
    VIDEO_SIZE_LIMIT,
    VIDEO_TYPES,
    account_json,
    instance_json,
    iso,
    media_json,
    needs_processing,
    status_json,
)
from postiz_pipelines.sandbox.mastodon_oauth import OAuthEndpoints
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    RateWindow,
    SandboxAccount,
    StoredMedia,
    TokenStatus,
)

VISIBILITIES = ("public", "unlisted", "private", "direct")
IDEMPOTENCY_SECONDS = 3600
API_LIMIT = (300, 300.0)
MEDIA_LIMIT = (30, 1800.0)
PROCESSING_POLLS = 2
BAD_GATEWAY_PAGE = (
    "<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


def _truthy(value: Any) -> bool:
    return str(value).lower() in {"1", "true", "t", "on", "yes"}


class MastodonSandbox(OAuthEndpoints, PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = "mastodon"

    def error_response(self, status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status in (502, 504):  # these come from the reverse proxy, as an HTML page
            phrase = f"{status} {'Bad Gateway' if status == 502 else 'Gateway Time-out'}"
            return HTMLResponse(BAD_GATEWAY_PAGE.format(phrase), status_code=status)
        if status == 429:
            limit = API_LIMIT[0]
            response = self.error_response(429, "Too many requests")
            response.headers["X-RateLimit-Limit"] = str(limit)
            response.headers["X-RateLimit-Remaining"] = "0"
            if reset_at is not None:
                response.headers["X-RateLimit-Reset"] = iso(reset_at)
            return response
        if status == 503:
            message = "There was a temporary problem serving your request, please try again"
            return self.error_response(503, message)
        return super().fault_response(status, reset_at=reset_at, call=call)

    # -- auth and throttling -------------------------------------------------------------
    def _throttle(self, call: Call, bucket: str, key: str, budget: tuple[int, float]) -> None:
        window = self.state.hit_rate_limit(
            self.name, bucket, key, limit=budget[0], per_seconds=budget[1]
        )
        self._rate_headers(call, window)
        if window.exceeded:
            raise self.error(429, "Too many requests")

    @staticmethod
    def _rate_headers(call: Call, window: RateWindow) -> None:
        call.headers["X-RateLimit-Limit"] = str(window.limit)
        call.headers["X-RateLimit-Remaining"] = str(window.remaining)
        call.headers["X-RateLimit-Reset"] = iso(window.reset_at)

    def _account(self, call: Call, *, required: bool = True) -> SandboxAccount | None:
        """The caller's account (401/403 as Mastodon answers them), after throttling."""
        token = call.bearer_token()
        if token is None:
            if required:
                raise self.error(401, "The access token is invalid")
            client = call.request.client.host if call.request.client else "unknown"
            self._throttle(call, "api", f"ip:{client}", API_LIMIT)
            return None
        auth = self.state.authenticate(self.name, token)
        if auth.status is TokenStatus.REVOKED:
            raise self.error(401, "The access token was revoked")
        if auth.status is TokenStatus.EXPIRED:
            raise self.error(401, "The access token expired")
        if auth.account.disabled:
            raise self.error(403, "Your login is currently disabled")
        self._throttle(call, "api", auth.account.id, API_LIMIT)
        return auth.account

    # -- rendering ---------------------------------------------------------------------
    def _account_json(self, call: Call, account: SandboxAccount) -> dict[str, Any]:
        count, last = self.state.activity(self.name, account.id)
        return account_json(call.platform_url, account, count, last)

    def _status_json(self, call: Call, post: AcceptedPost) -> dict[str, Any]:
        account = self.state.account(self.name, post.account_id)
        assert account is not None
        parent = self.state.post(self.name, post.reply_to) if post.reply_to else None
        author = self._account_json(call, account)
        return status_json(call.platform_url, post, author, parent)

    # -- endpoints -----------------------------------------------------------------------
    @endpoint("GET", "/api/v2/instance")
    async def instance(self, call: Call) -> Response:
        self._account(call, required=False)
        return JSONResponse(
            instance_json(
                call.request.url.netloc,
                max_characters=self._limit("max_characters", MAX_CHARACTERS),
                max_media_attachments=self._limit("max_media_attachments", MAX_MEDIA_ATTACHMENTS),
                characters_reserved_per_url=self._limit(
                    "characters_reserved_per_url", CHARACTERS_RESERVED_PER_URL
                ),
            )
        )

    def _limit(self, name: str, default: int) -> int:
        """The instance's configured limit (``state.configure("mastodon", ...)``), else
        Mastodon's default: servers differ, and a client must read them."""
        return int(self.state.setting(self.name, name, default))

    @endpoint("GET", "/api/v1/accounts/verify_credentials")
    async def verify_credentials(self, call: Call) -> Response:
        account = self._account(call)
        assert account is not None
        body = self._account_json(call, account)
        body["source"] = {
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "note": "",
            "fields": [],
        }
        return JSONResponse(body)

    @endpoint("GET", "/api/v1/accounts/{account_id}/statuses")
    async def account_statuses(self, call: Call) -> Response:
        viewer = self._account(call, required=False)
        owner = self.state.account(self.name, call.request.path_params["account_id"])
        if owner is None:
            raise self.error(404, "Record not found")
        params = call.request.query_params
        try:
            limit = min(40, max(1, int(params.get("limit", 20))))
            max_id = int(params["max_id"]) if params.get("max_id") else None
            since_id = int(params.get("since_id") or params.get("min_id") or 0)
        except ValueError:
            raise self.error(422, "Validation failed: invalid pagination parameter") from None
        shown = {"public", "unlisted"} | (
            {"private", "direct"} if viewer and viewer.id == owner.id else set()
        )
        found = []
        for post in reversed(self.state.accepted(self.name)):
            if post.account_id != owner.id or post.extra.get("visibility", "public") not in shown:
                continue
            number = int(post.remote_id)
            if (max_id is not None and number >= max_id) or number <= since_id:
                continue
            if _truthy(params.get("exclude_replies", "false")) and post.reply_to:
                continue
            found.append(self._status_json(call, post))
            if len(found) == limit:
                break
        return JSONResponse(found)

    @endpoint("POST", "/api/v2/media")
    async def upload_media(self, call: Call) -> Response:
        account = self._account(call)
        assert account is not None
        self._throttle(call, "media", account.id, MEDIA_LIMIT)
        try:
            form = await call.request.form()
        except HTTPException as exc:
            raise self.error(422, f"Validation failed: {exc.detail}") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise self.error(422, "Validation failed: File can't be blank")
        data = await upload.read()
        mime = (upload.content_type or "").split(";")[0].strip().lower()
        description = str(form.get("description") or "")
        media = StoredMedia(
            platform=self.name,
            id=self._snowflake(),
            account_id=account.id,
            mime_type=mime,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=self.state.now(),
            filename=upload.filename or "",
            description=description,
            focus=self._focus(str(form.get("focus") or "")),
        )
        media = self._check_media(media, data)
        self.state.put_media(media, data)
        status = 200 if media.ready else 202
        return JSONResponse(media_json(call.platform_url, media), status_code=status)

    def _snowflake(self) -> str:
        # Mastodon ids are 64-bit numbers that sort by time; a large base keeps that look.
        return str(110_000_000_000_000_000 + self.state.next_number())

    def _focus(self, raw: str) -> tuple[float, float] | None:
        if not raw:
            return None
        try:
            x, y = (float(part) for part in raw.split(","))
        except ValueError:
            raise self.error(422, "Validation failed: Focus is invalid") from None
        if not (-1 <= x <= 1 and -1 <= y <= 1):
            raise self.error(422, "Validation failed: Focus is invalid")
        return x, y

    def _check_media(self, media: StoredMedia, data: bytes) -> StoredMedia:
        """Mastodon's validation of an upload; returns the media with what was learned."""
        if media.mime_type not in (*IMAGE_TYPES, *VIDEO_TYPES, *AUDIO_TYPES):
            raise self.error(422, "Validation failed: File content type is invalid")
        if len(media.description) > DESCRIPTION_LIMIT:
            raise self.error(
                422,
                f"Validation failed: Description is too long (maximum is {DESCRIPTION_LIMIT} "
                f"characters)",
            )
        is_image = media.mime_type in IMAGE_TYPES
        limit = IMAGE_SIZE_LIMIT if is_image else VIDEO_SIZE_LIMIT
        if media.size_bytes > limit:
            raise self.error(
                422, f"Validation failed: File file size must be less than {limit // 2**20} MB"
            )
        if is_image:
            width, height = self._image_size(data)
            if width * height > IMAGE_MATRIX_LIMIT:
                raise self.error(
                    422,
                    f"Validation failed: File dimensions of {width}x{height} exceed the limit",
                )
            media = replace(media, width=width, height=height)
        if needs_processing(media.mime_type):
            media = replace(media, pending_polls=PROCESSING_POLLS)
        return media

    def _image_size(self, data: bytes) -> tuple[int, int]:
        from PIL import Image, UnidentifiedImageError  # only the media endpoint needs Pillow

        try:
            with Image.open(io.BytesIO(data)) as image:
                return image.size
        except (UnidentifiedImageError, OSError, ValueError):
            raise self.error(422, "Validation failed: File could not be processed") from None

    @endpoint("GET", "/api/v1/media/{media_id}")
    async def media_status(self, call: Call) -> Response:
        account = self._account(call)
        assert account is not None
        media_id = call.request.path_params["media_id"]
        media = self.state.media(self.name, media_id)
        if media is None or media.account_id != account.id:
            raise self.error(404, "Record not found")
        if not media.ready:  # this poll still sees it processing; a later one will not
            self.state.update_media(self.name, media_id, pending_polls=media.pending_polls - 1)
            return JSONResponse(media_json(call.platform_url, media), status_code=206)
        return JSONResponse(media_json(call.platform_url, media))

    @endpoint("GET", "/api/v1/statuses/{status_id}")
    async def get_status(self, call: Call) -> Response:
        """One status with its engagement counts (growing, see ``sandbox/engagement.py``)."""
        self._account(call, required=False)
        status_id = call.request.path_params["status_id"]
        post = self.state.post(self.name, status_id)
        counts = self.state.engagement(self.name, status_id)
        if post is None or counts is None:
            raise self.error(404, "Record not found")
        return JSONResponse(
            {
                **self._status_json(call, post),
                "favourites_count": counts["likes"],
                "reblogs_count": counts["reposts"],
                "replies_count": counts["replies"],
            }
        )

    @endpoint("POST", "/api/v1/statuses", publish=True)
    async def create_status(self, call: Call) -> Response:
        account = self._account(call)
        assert account is not None
        try:
            params = await call.json_or_form()
        except (ValueError, HTTPException):
            raise self.error(400, "Error while parsing request body") from None
        key = call.request.headers.get("idempotency-key")
        with self.state.lock:  # the check and the record are one step, as Redis makes them
            if key:
                prior = self.state.find_by_idempotency_key(
                    self.name, account.id, key, within_seconds=IDEMPOTENCY_SECONDS
                )
                if prior is not None:
                    return JSONResponse(self._status_json(call, prior))
            post = self._new_status(account, params, key)
            self.state.record_post(post)
        return JSONResponse(self._status_json(call, post))

    def _new_status(
        self, account: SandboxAccount, params: dict[str, Any], key: str | None
    ) -> AcceptedPost:
        """Validate a status as Mastodon does and build it (not yet recorded)."""
        text = str(params.get("status") or "")
        spoiler = str(params.get("spoiler_text") or "")
        media_ids = params.get("media_ids[]", params.get("media_ids")) or []
        media_ids = [str(m) for m in (media_ids if isinstance(media_ids, list) else [media_ids])]
        visibility = str(params.get("visibility") or "public")
        if visibility not in VISIBILITIES:
            raise self.error(422, "Validation failed: Visibility is not included in the list")
        media = self._attachable_media(account, media_ids)
        if not text.strip() and not media:
            raise self.error(422, "Validation failed: Text can't be blank")
        limit = self._limit("max_characters", MAX_CHARACTERS)
        per_url = self._limit("characters_reserved_per_url", CHARACTERS_RESERVED_PER_URL)
        if mastodon_counted(spoiler, per_url) + mastodon_counted(text, per_url) > limit:
            raise self.error(422, f"Validation failed: Text character limit of {limit} exceeded")
        reply_to = str(params["in_reply_to_id"]) if params.get("in_reply_to_id") else None
        if reply_to is not None and self.state.post(self.name, reply_to) is None:
            raise self.error(404, "Record not found")
        return AcceptedPost(
            platform=self.name,
            account_id=account.id,
            handle=account.username,
            text=text,
            remote_id=self._snowflake(),
            created_at=self.state.now(),
            media=media,
            reply_to=reply_to,
            idempotency_key=key,
            extra={
                "visibility": visibility,
                "sensitive": _truthy(params.get("sensitive", False)),
                "spoiler_text": spoiler,
                "language": params.get("language") or None,
            },
        )

    def _attachable_media(
        self, account: SandboxAccount, media_ids: list[str]
    ) -> tuple[StoredMedia, ...]:
        most = self._limit("max_media_attachments", MAX_MEDIA_ATTACHMENTS)
        if len(media_ids) > most:
            raise self.error(422, f"Cannot attach more than {most} files")
        found = {i: self.state.media(self.name, i) for i in media_ids}
        missing = [
            i
            for i, m in found.items()
            if m is None or m.account_id != account.id or m.attached_to is not None
        ]
        if missing:
            ids = ", ".join(missing)
            raise self.error(422, f"Media {ids} not found or already attached to another post")
        media = tuple(m for m in found.values() if m is not None)
        if any(not m.ready for m in media):
            raise self.error(
                422, "Cannot attach files that have not finished processing. Try again in a moment!"
            )
        if len(media) > 1 and any(needs_processing(m.mime_type) for m in media):
            raise self.error(422, "Cannot attach a video to a post that already contains images")
        return media
