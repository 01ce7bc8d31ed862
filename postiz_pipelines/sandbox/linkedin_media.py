"""The Assets service of the LinkedIn emulator: the versioned REST Images and Videos APIs
and the upload URLs they hand out.

An image is ``WAITING_UPLOAD`` until its bytes are PUT, then ``AVAILABLE``
(``PROCESSING_FAILED`` when they are not a JPEG, PNG or GIF under 36,152,320 pixels). A
video is cut into 4 MiB parts; each part's PUT answers an ``ETag``; ``finalizeUpload``
with the ETags in order starts processing, reported as ``PROCESSING`` for
``VIDEO_PROCESSING_POLLS`` polls, then ``AVAILABLE`` (``PROCESSING_FAILED`` when the bytes
are not an MP4). Only the member who initialized an upload sees its status.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.linkedin_world import (
    PLATFORM,
    Asset,
    VideoUpload,
    linkedin_world,
)
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState, StoredMedia

MAX_IMAGE_PIXELS = 36_152_320
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
VIDEO_MIN_BYTES = 75 * 1024
VIDEO_MAX_BYTES = 500 * 1024 * 1024
VIDEO_PART_BYTES = 4 * 1024 * 1024
VIDEO_PROCESSING_POLLS = 2


class MediaEndpoints:
    """The image and video endpoints, mixed into the LinkedIn emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(
            self,
            status: int,
            message: str,
            *,
            code: str | None = None,
            service: int | None = None,
        ) -> HttpError: ...

        def illegal(self, message: str) -> HttpError: ...

        def _member(self, call: Call) -> SandboxAccount: ...

        def _versioned(self, call: Call, *, restli: bool = False) -> None: ...

        def _may_act_as(self, member: SandboxAccount, urn: str, call: Call) -> None: ...

        async def _json(self, call: Call) -> dict[str, Any]: ...

    # -- images ------------------------------------------------------------------------
    @endpoint("POST", "/rest/images")
    async def images(self, call: Call) -> Response:
        member = self._member(call)
        self._versioned(call)
        if call.request.query_params.get("action") != "initializeUpload":
            raise self.illegal("Unsupported action")
        request = (await self._json(call)).get("initializeUploadRequest") or {}
        owner = str(request.get("owner") or "")
        self._may_act_as(member, owner, call)
        asset = f"D{self.state.next_number():05d}AQ{secrets.token_hex(6)}"
        urn = f"urn:li:image:{asset}"
        self._new_asset(urn, member, owner, "")
        expires = self.state.now() + timedelta(hours=1)
        return JSONResponse(
            {
                "value": {
                    "uploadUrlExpiresAt": int(expires.timestamp() * 1000),
                    "uploadUrl": f"{call.platform_url}/dms-uploads/{asset}/uploaded-image/0",
                    "image": urn,
                }
            }
        )

    def _new_asset(self, urn: str, member: SandboxAccount, owner: str, mime: str) -> None:
        linkedin_world(self.state).assets[urn] = Asset(owner)
        self.state.put_media(StoredMedia(PLATFORM, urn, member.id, mime, 0, "", self.state.now()))

    @endpoint("PUT", "/dms-uploads/{asset}/uploaded-image/0")
    async def put_image(self, call: Call) -> Response:
        member = self._member(call)
        urn = f"urn:li:image:{call.request.path_params['asset']}"
        asset = linkedin_world(self.state).assets.get(urn)
        media = self.state.media(self.name, urn)
        if asset is None or media is None or media.account_id != member.id:
            raise self.fail(404, "Upload URL not found")
        data = await call.request.body()
        mime, width, height = _probe_image(data)
        usable = mime is not None and width * height < MAX_IMAGE_PIXELS
        asset.status = "AVAILABLE" if usable else "PROCESSING_FAILED"
        self.state.update_media(
            self.name,
            urn,
            mime_type=mime or call.request.headers.get("content-type", ""),
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            width=width or None,
            height=height or None,
        )
        return Response(status_code=201)

    @endpoint("GET", "/rest/images/{urn}")
    async def image_status(self, call: Call) -> Response:
        return self._asset_status(call, "image")

    def _asset_status(self, call: Call, kind: str) -> Response:
        member = self._member(call)
        self._versioned(call)
        urn = call.request.path_params["urn"]
        asset = linkedin_world(self.state).assets.get(urn)
        media = self.state.media(self.name, urn)
        if (
            asset is None
            or media is None
            or not urn.startswith(f"urn:li:{kind}:")
            or media.account_id != member.id
        ):
            raise self.fail(404, f"{kind.title()} {urn} does not exist", code="NOT_FOUND")
        body: dict[str, Any] = {"id": urn, "owner": asset.owner, "status": asset.status}
        if asset.status == "PROCESSING":  # this poll still sees it processing; a later one not
            asset.polls_left -= 1
            if asset.polls_left <= 0:
                asset.status = "AVAILABLE"
        elif asset.status == "AVAILABLE":
            body["downloadUrl"] = f"{call.platform_url}/dms/{kind}/{urn}"
        elif asset.status == "PROCESSING_FAILED":
            body["processingFailureReason"] = f"The {kind} could not be processed"
        return JSONResponse(body)

    # -- videos ------------------------------------------------------------------------
    @endpoint("POST", "/rest/videos")
    async def videos(self, call: Call) -> Response:
        member = self._member(call)
        self._versioned(call)
        action = call.request.query_params.get("action")
        body = await self._json(call)
        if action == "initializeUpload":
            return self._initialize_video(call, member, body.get("initializeUploadRequest") or {})
        if action == "finalizeUpload":
            return self._finalize_video(member, body.get("finalizeUploadRequest") or {})
        raise self.illegal("Unsupported action")

    def _initialize_video(
        self, call: Call, member: SandboxAccount, request: dict[str, Any]
    ) -> Response:
        owner = str(request.get("owner") or "")
        self._may_act_as(member, owner, call)
        try:
            size = int(request["fileSizeBytes"])
        except (KeyError, TypeError, ValueError):
            raise self.illegal("/fileSizeBytes :: field is required") from None
        if not VIDEO_MIN_BYTES <= size <= VIDEO_MAX_BYTES:
            raise self.illegal(
                f"/fileSizeBytes :: {size} is outside the allowed range "
                f"[{VIDEO_MIN_BYTES}, {VIDEO_MAX_BYTES}]"
            )
        asset = f"C{self.state.next_number():05d}AQ{secrets.token_hex(6)}"
        urn = f"urn:li:video:{asset}"
        starts = range(0, size, VIDEO_PART_BYTES)
        etags = [
            f"/ambry-video/signedId/{asset}-{i}-{secrets.token_hex(4)}" for i in range(len(starts))
        ]
        linkedin_world(self.state).uploads[urn] = VideoUpload(member.id, size, etags)
        self._new_asset(urn, member, owner, "video/mp4")
        expires = self.state.now() + timedelta(hours=8)
        instructions = [
            {
                "uploadUrl": f"{call.platform_url}/dms-uploads/{asset}/uploadedVideo/{i}",
                "firstByte": start,
                "lastByte": min(size, start + VIDEO_PART_BYTES) - 1,
            }
            for i, start in enumerate(starts)
        ]
        return JSONResponse(
            {
                "value": {
                    "uploadUrlsExpireAt": int(expires.timestamp() * 1000),
                    "video": urn,
                    "uploadInstructions": instructions,
                    "uploadToken": "",
                }
            }
        )

    @endpoint("PUT", "/dms-uploads/{asset}/uploadedVideo/{part:int}")
    async def put_video_part(self, call: Call) -> Response:
        # Part URLs are signed: they need no Authorization header.
        urn = f"urn:li:video:{call.request.path_params['asset']}"
        part = call.request.path_params["part"]
        upload = linkedin_world(self.state).uploads.get(urn)
        if upload is None or part >= len(upload.etags):
            raise self.fail(404, "Upload URL not found")
        data = await call.request.body()
        expected = min(upload.size - part * VIDEO_PART_BYTES, VIDEO_PART_BYTES)
        if len(data) != expected:
            raise self.fail(400, f"Part {part} must be {expected} bytes, got {len(data)}")
        upload.parts[part] = data
        return Response(status_code=200, headers={"ETag": upload.etags[part]})

    def _finalize_video(self, member: SandboxAccount, request: dict[str, Any]) -> Response:
        urn = str(request.get("video") or "")
        world = linkedin_world(self.state)
        upload = world.uploads.get(urn)
        if upload is None or upload.account_id != member.id:
            raise self.fail(404, f"Video {urn} does not exist", code="NOT_FOUND")
        complete = len(upload.parts) == len(upload.etags)
        if not complete or list(request.get("uploadedPartIds") or []) != upload.etags:
            raise self.illegal("uploadedPartIds do not match the uploaded parts")
        data = b"".join(upload.parts[i] for i in range(len(upload.etags)))
        asset = world.assets[urn]
        if data[4:8] == b"ftyp":  # an ISO media file: MP4
            asset.status, asset.polls_left = "PROCESSING", VIDEO_PROCESSING_POLLS
        else:
            asset.status = "PROCESSING_FAILED"
        self.state.update_media(self.name, urn, sha256=hashlib.sha256(data).hexdigest())
        return Response(status_code=200)

    @endpoint("GET", "/rest/videos/{urn}")
    async def video_status(self, call: Call) -> Response:
        return self._asset_status(call, "video")


def _probe_image(data: bytes) -> tuple[str | None, int, int]:
    """The MIME type and size of a JPEG, PNG or GIF; (None, 0, 0) for anything else."""
    from PIL import Image, UnidentifiedImageError  # only uploads need Pillow

    try:
        with Image.open(io.BytesIO(data)) as image:
            mime = IMAGE_FORMATS.get(image.format or "")
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None, 0, 0
    return (mime, width, height) if mime else (None, 0, 0)
