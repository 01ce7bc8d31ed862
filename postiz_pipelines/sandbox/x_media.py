"""X media upload (API v2), mixed into the X emulator.

- ``POST /2/media/upload``: one multipart request (``media``, ``media_category``) for images.
- Chunked, for GIFs and video: ``POST /2/media/upload/initialize`` (JSON ``media_type``,
  ``total_bytes``, ``media_category``), ``POST /2/media/upload/{id}/append`` (multipart
  ``media`` and ``segment_index`` 0-999, at most 5 MB a segment), ``POST
  /2/media/upload/{id}/finalize``. The older ``command=INIT|APPEND|FINALIZE`` form on
  ``POST /2/media/upload`` is served as well.
- Finalizing a GIF or video answers ``processing_info {state: "pending", check_after_secs}``;
  ``GET /2/media/upload?command=STATUS&media_id=`` then reports ``in_progress`` twice and
  ``succeeded`` (or ``failed`` for a file that is no MP4 or GIF). Images need no processing.
- ``POST /2/media/metadata`` sets alt text (at most 1,000 characters).

Limits: images 5 MB (JPEG, PNG, WebP, GIF), GIFs 15 MB, video 512 MB (MP4, MOV). Uploaded
media expire after 24 hours. The bytes are not kept: each segment's size and digest are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState, StoredMedia

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
VIDEO_TYPES = ("video/mp4", "video/quicktime")
CATEGORIES = {
    "tweet_image": ("image", IMAGE_TYPES, 5 * 1024 * 1024, "3"),
    "tweet_gif": ("gif", ("image/gif",), 15 * 1024 * 1024, "16"),
    "tweet_video": ("video", VIDEO_TYPES, 512 * 1024 * 1024, "7"),
    "amplify_video": ("video", VIDEO_TYPES, 512 * 1024 * 1024, "13"),
}
SEGMENT_MAX_BYTES = 5 * 1024 * 1024
MAX_SEGMENTS = 1000
EXPIRES_AFTER = timedelta(hours=24)
ALT_TEXT_LIMIT = 1000
MEDIA_LIMIT = (1875, 900.0)
PROCESSING = (("in_progress", 40), ("in_progress", 85))
CHECK_AFTER_SECS = 1


@dataclass(frozen=True)
class XMedia(StoredMedia):
    """An upload as X tracks it. ``segments`` holds (index, size, sha256) per APPEND."""

    category: str = "tweet_image"
    total_bytes: int = 0
    segments: tuple[tuple[int, int, str], ...] = ()
    finalized: bool = False
    playable: bool = True

    @property
    def kind(self) -> str:
        return CATEGORIES[self.category][0]

    @property
    def key(self) -> str:
        return f"{CATEGORIES[self.category][3]}_{self.id}"

    def expired(self, now: datetime) -> bool:
        return now >= self.created_at + EXPIRES_AFTER

    def processing_info(self) -> dict[str, Any] | None:
        if self.kind == "image":
            return None
        if self.pending_polls > 0:
            state, percent = PROCESSING[len(PROCESSING) - self.pending_polls]
            return {
                "state": state,
                "check_after_secs": CHECK_AFTER_SECS,
                "progress_percent": percent,
            }
        if self.playable:
            return {"state": "succeeded", "progress_percent": 100}
        return {
            "state": "failed",
            "progress_percent": 100,
            "error": {
                "code": 1,
                "name": "InvalidMedia",
                "message": "Invalid or Unsupported media, Reason: UnsupportedMedia.",
            },
        }

    def succeeded(self, now: datetime) -> bool:
        if not self.finalized or self.expired(now):
            return False
        info = self.processing_info()
        return info is None or info["state"] == "succeeded"


class MediaEndpoints:
    """The media endpoints of the X emulator (see the module docstring)."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def _user(self, call: Call) -> SandboxAccount: ...

        def _invalid(
            self, message: str, parameters: dict[str, list[Any]] | None = None
        ) -> HttpError: ...

        def _throttle(
            self,
            call: Call,
            bucket: str,
            key: str,
            budget: tuple[int, float],
            prefix: str = "x-rate-limit",
        ) -> None: ...

        def _snowflake(self) -> str: ...

    # -- endpoints ---------------------------------------------------------------------
    @endpoint("POST", "/2/media/upload")
    async def upload(self, call: Call) -> Response:
        user = self._user(call)
        self._throttle(call, "media", user.id, MEDIA_LIMIT)
        form = await call.request.form()
        fields = {k: v for k, v in form.items()}
        command = str(call.request.query_params.get("command") or fields.get("command") or "")
        if command == "INIT":
            return self._initialize(user, {k: str(v) for k, v in fields.items()})
        if command in ("APPEND", "FINALIZE"):
            media = self._own(user, str(fields.get("media_id") or ""))
            if command == "FINALIZE":
                return self._finalize(media)
            return self._append(media, fields)
        if command:
            raise self._invalid(f"Unknown command {command}", {"command": [command]})
        category = str(fields.get("media_category") or "tweet_image")
        if CATEGORIES.get(category, ("video",))[0] == "video":
            raise self._invalid(
                f"media_category {category} needs the chunked upload",
                {"media_category": [category]},
            )
        data = _field_bytes(fields)
        if data is None:
            raise self._invalid("media is required", {"media": []})
        sniffed = _image_type(data)
        if sniffed is None:
            raise self._invalid("media type unrecognized.", {"media": []})
        media = self._new(user, category, sniffed, len(data))
        return self._finalize(_with_segment(media, 0, data))

    @endpoint("POST", "/2/media/upload/initialize")
    async def initialize(self, call: Call) -> Response:
        user = self._user(call)
        self._throttle(call, "media", user.id, MEDIA_LIMIT)
        try:
            body = json.loads(await call.request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise self._invalid("Request body must be a JSON object.")
        return self._initialize(user, body)

    @endpoint("POST", "/2/media/upload/{media_id}/append")
    async def append(self, call: Call) -> Response:
        user = self._user(call)
        self._throttle(call, "media", user.id, MEDIA_LIMIT)
        media = self._own(user, call.request.path_params["media_id"])
        form = await call.request.form()
        return self._append(media, {k: v for k, v in form.items()})

    @endpoint("POST", "/2/media/upload/{media_id}/finalize")
    async def finalize(self, call: Call) -> Response:
        user = self._user(call)
        self._throttle(call, "media", user.id, MEDIA_LIMIT)
        return self._finalize(self._own(user, call.request.path_params["media_id"]))

    @endpoint("GET", "/2/media/upload")
    async def status(self, call: Call) -> Response:
        user = self._user(call)
        params = call.request.query_params
        if params.get("command") != "STATUS":
            raise self._invalid("command must be STATUS", {"command": [params.get("command")]})
        with self.state.lock:
            media = self._own(user, params.get("media_id") or "")
            if not media.finalized:
                raise self._invalid("The media has not been finalized.", {"media_id": [media.id]})
            body = self._data(media)
            if media.pending_polls > 0:  # this poll sees the stage; the next, the one after
                self.state.update_media(self.name, media.id, pending_polls=media.pending_polls - 1)
        return JSONResponse({"data": body})

    @endpoint("POST", "/2/media/metadata")
    async def metadata(self, call: Call) -> Response:
        user = self._user(call)
        self._throttle(call, "media", user.id, MEDIA_LIMIT)
        try:
            body = json.loads(await call.request.body() or b"null")
            text = body["metadata"]["alt_text"]["text"]
            media_id = str(body["id"])
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError):
            raise self._invalid("Expected {id, metadata: {alt_text: {text}}}.") from None
        if not isinstance(text, str) or len(text) > ALT_TEXT_LIMIT:
            raise self._invalid(
                f"alt_text.text must be at most {ALT_TEXT_LIMIT} characters",
                {"metadata.alt_text.text": [text]},
            )
        self._own(user, media_id)
        self.state.update_media(self.name, media_id, description=text)
        return JSONResponse(
            {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": text}}}}
        )

    # -- steps -------------------------------------------------------------------------
    def _new(self, user: SandboxAccount, category: str, mime: str, total: int) -> XMedia:
        if category not in CATEGORIES:
            raise self._invalid(
                f"media_category {category} is not one of {sorted(CATEGORIES)}",
                {"media_category": [category]},
            )
        _, types, limit, _ = CATEGORIES[category]
        if mime not in types:
            raise self._invalid(
                f"media type unrecognized: {mime or 'none'} for {category}", {"media_type": [mime]}
            )
        if total > limit:
            raise self._invalid(f"File size exceeds {limit} bytes.", {"total_bytes": [total]})
        media = XMedia(
            platform=self.name,
            id=self._snowflake(),
            account_id=user.id,
            mime_type=mime,
            size_bytes=0,
            sha256="",
            created_at=self.state.now(),
            category=category,
            total_bytes=total,
        )
        return self.state.put_media(media)  # type: ignore[return-value]

    def _initialize(self, user: SandboxAccount, body: dict[str, Any]) -> Response:
        try:
            total = int(body.get("total_bytes") or 0)
        except (TypeError, ValueError):
            total = 0
        if total < 1:
            raise self._invalid(
                "total_bytes must be a positive integer", {"total_bytes": [body.get("total_bytes")]}
            )
        category = str(body.get("media_category") or "tweet_image")
        media = self._new(user, category, str(body.get("media_type") or ""), total)
        return JSONResponse(
            {
                "data": {
                    "id": media.id,
                    "media_key": media.key,
                    "expires_after_secs": int(EXPIRES_AFTER.total_seconds()),
                }
            }
        )

    def _own(self, user: SandboxAccount, media_id: str) -> XMedia:
        media = self.state.media(self.name, media_id)
        if (
            not isinstance(media, XMedia)
            or media.account_id != user.id
            or media.expired(self.state.now())
        ):
            raise self._invalid("media_id not found", {"media_id": [media_id]})
        return media

    def _append(self, media: XMedia, fields: dict[str, Any]) -> Response:
        if media.finalized:
            raise self._invalid("The media has already been finalized.", {"media_id": [media.id]})
        try:
            index = int(str(fields.get("segment_index")))
        except ValueError:
            index = -1
        if not 0 <= index < MAX_SEGMENTS:
            raise self._invalid(
                "segment_index must be within 0..999",
                {"segment_index": [fields.get("segment_index")]},
            )
        data = _field_bytes(fields)
        if data is None:
            raise self._invalid("media is required", {"media": []})
        if len(data) > SEGMENT_MAX_BYTES:
            raise self._invalid(
                f"Segment exceeds {SEGMENT_MAX_BYTES} bytes.", {"media": [len(data)]}
            )
        self.state.put_media(_with_segment(media, index, data))
        expires = int((media.created_at + EXPIRES_AFTER).timestamp())
        return JSONResponse({"data": {"expires_at": expires}})

    def _finalize(self, media: XMedia) -> Response:
        if media.finalized:
            raise self._invalid("The media has already been finalized.", {"media_id": [media.id]})
        if media.kind == "image" and not media.playable:
            raise self._invalid("media type unrecognized.", {"media_id": [media.id]})
        indexes = sorted(i for i, _, _ in media.segments)
        received = sum(size for _, size, _ in media.segments)
        if indexes != list(range(len(indexes))) or received != media.total_bytes:
            raise self._invalid(
                f"File size mismatch: expected {media.total_bytes} bytes, received {received}",
                {"media_id": [media.id]},
            )
        digest = hashlib.sha256("".join(sha for _, _, sha in sorted(media.segments)).encode())
        pending = 0 if media.kind == "image" else len(PROCESSING)
        media = self.state.update_media(
            self.name,
            media.id,
            finalized=True,
            size_bytes=received,
            sha256=digest.hexdigest(),
            pending_polls=pending,
        )  # type: ignore[assignment]
        return JSONResponse({"data": self._data(media)})

    def _data(self, media: XMedia) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": media.id,
            "media_key": media.key,
            "size": media.size_bytes,
            "expires_after_secs": max(
                0, int((media.created_at + EXPIRES_AFTER - self.state.now()).total_seconds())
            ),
        }
        if (info := media.processing_info()) is not None:
            body["processing_info"] = info
        return body


def _with_segment(media: XMedia, index: int, data: bytes) -> XMedia:
    segments = tuple(s for s in media.segments if s[0] != index)
    segments += ((index, len(data), hashlib.sha256(data).hexdigest()),)
    playable = media.playable
    if index == 0:  # a file's magic is at its start
        if media.kind == "video":
            playable = data[4:8] == b"ftyp"
        else:
            playable = _image_type(data) in CATEGORIES[media.category][1]
    return replace(media, segments=segments, playable=playable)


def _field_bytes(fields: dict[str, Any]) -> bytes | None:
    value = fields.get("media")
    if isinstance(value, UploadFile):
        value.file.seek(0)
        return value.file.read()
    if isinstance(value, str):
        return value.encode("latin-1")
    encoded = fields.get("media_data")
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return None
    return None


def _image_type(data: bytes) -> str | None:
    """The image type its first bytes name, as X's media type detection reads them."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
