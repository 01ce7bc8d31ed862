"""YouTube's resumable ``videos.insert``, as the emulator answers it.

1. ``POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`` with the
   video's metadata as JSON and ``X-Upload-Content-Length``/``-Type``: the metadata is
   checked (title required, at most 100 characters, description at most 5,000 UTF-8
   bytes, neither with ``<`` or ``>``; tags at most 500 characters together, a tag with a
   space counting its quotes; an assignable category; ``publishAt`` in the future and only
   for private videos), 1,600 quota units are spent, and the session URI comes back in
   ``Location``.
2. ``PUT <session>`` with ``Content-Range: bytes a-b/N``: every chunk but the last is a
   multiple of 256 KiB and starts where the kept bytes end (400 otherwise); an incomplete
   upload answers 308 with ``Range: bytes=0-k``; the last byte makes the video (200 and the
   video resource).
3. ``PUT <session>`` with ``Content-Range: bytes */N`` and no body asks how far it got: 308
   (with ``Range`` once a byte is kept) or 200 with the video.

A chunk that starts before the kept offset is accepted but its repeated bytes are counted
in the session's ``resent_bytes``, so tests can prove a client never sends a byte twice.
Sessions last a week (then 404).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, StoredMedia
from postiz_pipelines.sandbox.youtube_world import (
    COSTS,
    PLATFORM,
    UploadSession,
    channel_id,
    pacific_day,
    video_resource,
    youtube_world,
)

if TYPE_CHECKING:
    from postiz_pipelines.sandbox.state import SandboxState

CHUNK_QUANTUM = 256 * 1024
MAX_VIDEO_BYTES = 256 * 1024**3
SESSION_LIFE = timedelta(days=7)
TITLE_MAX = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX = 500
CATEGORIES = frozenset(
    {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}
)
PRIVACY = ("private", "unlisted", "public")
RANGE_RE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")


def tags_length(tags: list[str]) -> int:
    """YouTube's count: the tags joined by commas, a tag with a space in quotes."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


class UploadEndpoints:
    """The resumable upload, mixed into the YouTube emulator."""

    state: SandboxState

    if TYPE_CHECKING:

        def channel(self, call: Call) -> SandboxAccount: ...
        def charge(self, units: int) -> None: ...
        def fail(
            self, status: int, reason: str, message: str, *, domain: str = ...
        ) -> HttpError: ...

    @endpoint("POST", "/upload/youtube/v3/videos")
    async def initiate_upload(self, call: Call) -> Response:
        account = self.channel(call)
        q = call.request.query_params
        if q.get("uploadType") != "resumable":
            raise self.fail(400, "invalidParameter", "Only uploadType=resumable is served here.")
        parts = set((q.get("part") or "").split(","))
        if "snippet" not in parts:
            raise self.fail(400, "missingRequiredParameter", "part must include snippet.")
        try:
            size = int(call.request.headers.get("x-upload-content-length", ""))
        except ValueError:
            raise self.fail(
                400, "uploadLengthRequired", "X-Upload-Content-Length is required."
            ) from None
        ctype = call.request.headers.get("x-upload-content-type", "")
        if not (ctype.startswith("video/") or ctype == "application/octet-stream"):
            raise self.fail(400, "invalidContentType", f"{ctype or 'no type'} is not a video type.")
        if not 0 < size <= MAX_VIDEO_BYTES:
            raise self.fail(400, "uploadTooLarge", f"A video is 1 to {MAX_VIDEO_BYTES} bytes.")
        try:
            metadata = json.loads(await call.request.body() or b"{}")
        except json.JSONDecodeError:
            raise self.fail(400, "parseError", "The metadata is not JSON.") from None
        w = youtube_world(self.state)
        if account.id in w.forbidden:
            raise self.fail(
                403, "forbidden", "The request is not properly authorized to upload this video."
            )
        self._check_metadata(metadata if isinstance(metadata, dict) else {})
        key = (account.id, pacific_day(self.state.now()))
        if w.uploads.get(key, 0) >= w.uploads_per_day:
            raise self.fail(
                400,
                "uploadLimitExceeded",
                "The user has exceeded the number of videos they may upload.",
                domain="youtube.video",
            )
        self.charge(COSTS["insert"])
        upload_id = base64.urlsafe_b64encode(
            hashlib.sha256(f"upload:{self.state.next_number()}".encode()).digest()
        ).decode()[:32]
        w.sessions[upload_id] = UploadSession(account.id, size, ctype, metadata, self.state.now())
        location = (
            f"{call.platform_url}/upload/youtube/v3/videos?uploadType=resumable"
            f"&upload_id={upload_id}"
        )
        return Response(status_code=200, headers={"Location": location})

    def _check_metadata(self, metadata: dict[str, Any]) -> None:
        snippet = metadata.get("snippet") or {}
        status = metadata.get("status") or {}
        title = str(snippet.get("title") or "")
        if not title.strip() or len(title) > TITLE_MAX or "<" in title or ">" in title:
            raise self.fail(
                400,
                "invalidTitle",
                "The request metadata specifies an invalid or empty video title.",
                domain="youtube.video",
            )
        description = str(snippet.get("description") or "")
        if (
            len(description.encode()) > DESCRIPTION_MAX_BYTES
            or "<" in description
            or ">" in description
        ):
            raise self.fail(
                400,
                "invalidDescription",
                "The request metadata specifies an invalid video description.",
                domain="youtube.video",
            )
        tags = snippet.get("tags") or []
        if not isinstance(tags, list) or tags_length([str(t) for t in tags]) > TAGS_MAX:
            raise self.fail(
                400,
                "invalidTags",
                "The request metadata specifies invalid video keywords.",
                domain="youtube.video",
            )
        if str(snippet.get("categoryId") or "22") not in CATEGORIES:
            raise self.fail(
                400,
                "invalidCategoryId",
                "The snippet.categoryId property specifies an invalid category ID.",
                domain="youtube.video",
            )
        privacy = status.get("privacyStatus", "public")
        if privacy not in PRIVACY:
            raise self.fail(400, "invalidVideoMetadata", f"Unknown privacyStatus {privacy!r}.")
        if status.get("publishAt"):
            try:
                when = datetime.fromisoformat(str(status["publishAt"]).replace("Z", "+00:00"))
            except ValueError:
                when = None
            if (
                when is None
                or when.tzinfo is None
                or when <= self.state.now()
                or privacy != "private"
            ):
                raise self.fail(
                    400,
                    "invalidPublishAt",
                    "The request metadata specifies an invalid scheduled publishing time "
                    "(a future time, for a private video).",
                    domain="youtube.video",
                )

    @endpoint("PUT", "/upload/youtube/v3/videos", publish=True)
    async def upload_bytes(self, call: Call) -> Response:
        w = youtube_world(self.state)
        session = w.sessions.get(call.request.query_params.get("upload_id", ""))
        if session is None or self.state.now() - session.created_at > SESSION_LIFE:
            raise self.fail(404, "notFound", "The upload session does not exist or has expired.")
        data = await call.request.body()
        header = call.request.headers.get("content-range")
        match = RANGE_RE.match(header or f"bytes 0-{len(data) - 1}/{session.size}")
        if match is None or int(match[3]) != session.size:
            raise self.fail(400, "invalidContentRange", f"Bad Content-Range {header!r}.")
        if match[1] is not None:
            self._keep(session, int(match[1]), int(match[2]), data)
        elif data:
            raise self.fail(400, "invalidContentRange", "A status query carries no bytes.")
        if session.video_id is None and len(session.received) == session.size:
            session.video_id = self._make_video(session)
        if session.video_id is not None:
            post = self.state.post(PLATFORM, session.video_id)
            assert post is not None
            return JSONResponse(video_resource(post))
        headers = {"Range": f"bytes=0-{len(session.received) - 1}"} if session.received else {}
        return Response(status_code=308, headers=headers)

    def _keep(self, session: UploadSession, first: int, last: int, data: bytes) -> None:
        kept = len(session.received)
        if last < first or len(data) != last - first + 1 or last >= session.size:
            raise self.fail(400, "invalidContentRange", "The chunk does not match its range.")
        if first > kept:
            raise self.fail(
                400,
                "invalidContentRange",
                f"The chunk starts at {first}; only {kept} bytes are kept.",
            )
        if last + 1 < session.size and len(data) % CHUNK_QUANTUM:
            raise self.fail(
                400,
                "invalidChunkSize",
                f"A chunk other than the last must be a multiple of {CHUNK_QUANTUM} bytes.",
            )
        overlap = min(kept, last + 1) - first
        session.resent_bytes += overlap
        session.received.extend(data[overlap:])
        session.chunks += 1

    def _make_video(self, session: UploadSession) -> str:
        w = youtube_world(self.state)
        account = self.state.account(PLATFORM, session.account_id)
        assert account is not None
        number = self.state.next_number()
        vid = base64.urlsafe_b64encode(hashlib.sha256(f"v{number}".encode()).digest()).decode()[:11]
        snippet = session.metadata.get("snippet") or {}
        status = session.metadata.get("status") or {}
        asked = status.get("privacyStatus", "public")
        locked = not w.audited and asked != "private"
        data = bytes(session.received)
        media = StoredMedia(
            PLATFORM,
            f"media-{vid}",
            account.id,
            session.content_type,
            len(data),
            hashlib.sha256(data).hexdigest(),
            self.state.now(),
            filename=f"{vid}.video",
        )
        self.state.record_post(
            AcceptedPost(
                platform=PLATFORM,
                account_id=account.id,
                handle=account.username,
                text=str(snippet.get("description") or ""),
                remote_id=vid,
                created_at=self.state.now(),
                media=(media,),
                extra={
                    "title": str(snippet["title"]),
                    "tags": [str(t) for t in snippet.get("tags") or []],
                    "categoryId": str(snippet.get("categoryId") or "22"),
                    "privacyStatus": "private" if locked else asked,
                    "requestedPrivacy": asked,
                    "locked_private": locked,
                    "publishAt": status.get("publishAt"),
                    "madeForKids": bool(status.get("selfDeclaredMadeForKids", False)),
                    "channelId": channel_id(account),
                    "chunks": session.chunks,
                },
            )
        )
        key = (account.id, pacific_day(self.state.now()))
        w.uploads[key] = w.uploads.get(key, 0) + 1
        return vid
