"""The LinkedIn emulator: the versioned REST Posts, Images and Videos APIs, the member's
OpenID ``userinfo``, and the OAuth 2.0 token endpoint, as LinkedIn answers them.

Hosts, mounted under ``/linkedin``::

    https://api.linkedin.com/rest/...            -> /linkedin/rest/...
    https://api.linkedin.com/v2/userinfo         -> /linkedin/v2/userinfo
    https://www.linkedin.com/dms-uploads/...     -> /linkedin/dms-uploads/...   (upload URLs)
    https://www.linkedin.com/oauth/v2/accessToken -> /linkedin/oauth/v2/accessToken

Every ``/rest`` call needs ``LinkedIn-Version: YYYYMM`` (versions older than a year are
sunset: 426); creating a post also needs ``X-Restli-Protocol-Version: 2.0.0``. A post
answers 201 with an empty body and its URN in ``x-restli-id``. Commentary is "little
text": reserved characters arrive backslash-escaped and are stored unescaped; its limit
is 3,000 UTF-16 units. The same commentary twice from one author is ``DUPLICATE_POST``
(422). A member may publish 150 posts a day (429, no rate headers; limits reset at
midnight UTC). Errors are Rest.li bodies ``{status, serviceErrorCode, code, message}``:
65600 invalid, 65601 revoked, 65602 expired, 65604 empty token; 403 ``ACCESS_DENIED``.

Uploads: an image is ``WAITING_UPLOAD`` until its bytes are PUT, then ``AVAILABLE``
(``PROCESSING_FAILED`` when they are not a JPEG, PNG or GIF under 36,152,320 pixels). A
video is cut into 4 MiB parts; each part's PUT answers an ``ETag``; ``finalizeUpload``
with the ETags in order starts processing, reported as ``PROCESSING`` for
``VIDEO_PROCESSING_POLLS`` polls, then ``AVAILABLE`` (``PROCESSING_FAILED`` when the bytes
are not an MP4).

Tokens: any unseen bearer token is a member. The token endpoint grants
``authorization_code`` (any unused code makes a new member) and ``refresh_token``: a new
60-day access token; the refresh token keeps its value and its 365-day life from the
first grant.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, ClassVar

from starlette.responses import HTMLResponse, JSONResponse, Response

from postiz_pipelines.providers.text import utf16_units
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    SandboxAccount,
    SandboxState,
    StoredMedia,
    TokenStatus,
)

PLATFORM = "linkedin"
COMMENTARY_LIMIT = 3000
MAX_IMAGES = 20
MAX_IMAGE_PIXELS = 36_152_320
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
VIDEO_MIN_BYTES = 75 * 1024
VIDEO_MAX_BYTES = 500 * 1024 * 1024
VIDEO_PART_BYTES = 4 * 1024 * 1024
VIDEO_PROCESSING_POLLS = 2
POSTS_PER_DAY = 150
ACCESS_TOKEN_SECONDS = 60 * 24 * 3600
REFRESH_TOKEN_SECONDS = 365 * 24 * 3600
VERSION_RE = re.compile(r"^(\d{4})(\d{2})(?:\.\d{2})?$")
PERSON_PREFIX = "urn:li:person:"
ORGANIZATION_PREFIX = "urn:li:organization:"
UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
TOKEN_ERRORS = {
    "invalid": (65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
    "revoked": (
        65601,
        "REVOKED_ACCESS_TOKEN",
        "The token used in the request has been revoked by the user",
    ),
    "expired": (65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
    "empty": (65604, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token"),
}
GATEWAY_PAGE = "<html><body><h1>{0}</h1><p>Request could not be completed.</p></body></html>"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unescape_commentary(commentary: str) -> str:
    """LinkedIn's little text format back to what readers see: ``\\(`` is ``(``."""
    return UNESCAPE_RE.sub(r"\1", commentary)


@dataclass
class _Issued:
    account_id: str
    expires_at: datetime


@dataclass
class _Upload:
    """A video upload session: its parts' ETags and the bytes received so far."""

    account_id: str
    size: int
    etags: list[str]
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass
class _Asset:
    """An image or video as the Assets service tracks it: its owner URN and status."""

    owner: str
    status: str = "WAITING_UPLOAD"
    polls_left: int = 0  # status polls still answered PROCESSING


@dataclass
class _World:
    access: dict[str, _Issued] = field(default_factory=dict)  # token digest -> member
    refresh: dict[str, _Issued] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)
    assets: dict[str, _Asset] = field(default_factory=dict)  # URN -> asset
    uploads: dict[str, _Upload] = field(default_factory=dict)  # video URN -> session


_WORLDS: weakref.WeakKeyDictionary[SandboxState, _World] = weakref.WeakKeyDictionary()
_WORLD_MARK = "~linkedin-world"


def _world(state: SandboxState) -> _World:
    """LinkedIn's own memory for ``state``, renewed after ``state.reset()``.

    A marker row in the state's media tells whether the state was reset since the memory
    was made (a reset forgets the marker), so tokens issued before a reset die with it.
    """
    with state.lock:
        world = _WORLDS.get(state)
        if world is None or state.media(PLATFORM, _WORLD_MARK) is None:
            world = _WORLDS[state] = _World()
            state.put_media(
                StoredMedia(PLATFORM, _WORLD_MARK, "", "", 0, "", state.now(), filename="marker")
            )
        return world


class LinkedInSandbox(PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = PLATFORM

    # -- error bodies ------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        return self.restli_error(status, message)

    def restli_error(
        self, status: int, message: str, *, code: str | None = None, service: int | None = None
    ) -> Response:
        body: dict[str, Any] = {"status": status, "message": message}
        if code:
            body["code"] = code
        if service is not None:
            body["serviceErrorCode"] = service
        return JSONResponse(body, status_code=status)

    def fail(
        self, status: int, message: str, *, code: str | None = None, service: int | None = None
    ) -> HttpError:
        return HttpError(self.restli_error(status, message, code=code, service=service))

    def unprocessable(self, message: str) -> HttpError:
        return self.fail(422, message, code="UNPROCESSABLE_ENTITY")

    def illegal(self, message: str) -> HttpError:
        return self.fail(400, message, code="ILLEGAL_ARGUMENT")

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status in (502, 504):  # the edge answers these, as a page
            phrase = "Bad Gateway" if status == 502 else "Gateway Timeout"
            return HTMLResponse(GATEWAY_PAGE.format(f"{status} {phrase}"), status_code=status)
        if status == 429:  # LinkedIn documents no rate-limit headers
            return self.restli_error(
                429, _throttle_message("APPLICATION"), code="TOO_MANY_REQUESTS", service=101
            )
        return self.restli_error(status, HTTPStatus(status).phrase)

    # -- auth --------------------------------------------------------------------------
    def _member(self, call: Call) -> SandboxAccount:
        token = call.bearer_token()
        if token is None:
            raise self._token_error("empty")
        auth = self.state.authenticate(self.name, token)
        issued = _world(self.state).access.get(_digest(token))
        account = self.state.account(self.name, issued.account_id) if issued else None
        account = account or auth.account
        if auth.status is TokenStatus.REVOKED:
            raise self._token_error("revoked")
        lapsed = issued is not None and self.state.now() >= issued.expires_at
        if auth.status is TokenStatus.EXPIRED or lapsed:
            raise self._token_error("expired")
        if account.disabled:
            raise self._token_error("invalid")
        return account

    def _token_error(self, kind: str) -> HttpError:
        service, code, message = TOKEN_ERRORS[kind]
        return self.fail(401, message, code=code, service=service)

    def _versioned(self, call: Call, *, restli: bool = False) -> None:
        """LinkedIn's header checks of every ``/rest`` call."""
        version = call.request.headers.get("linkedin-version")
        if not version:
            raise self.fail(
                400,
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        match = VERSION_RE.match(version)
        now = self.state.now()
        oldest = (now.year - 1) * 12 + now.month
        if match is None or int(match[1]) * 12 + int(match[2]) < oldest:
            raise self.fail(
                426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION"
            )
        if restli and call.request.headers.get("x-restli-protocol-version") != "2.0.0":
            raise self.illegal(
                "The X-Restli-Protocol-Version header must be 2.0.0 for this resource"
            )

    def _may_act_as(self, member: SandboxAccount, urn: str, call: Call) -> None:
        """A member acts as themself or as an organization (the sandbox makes every member
        an administrator of every organization)."""
        if urn == f"{PERSON_PREFIX}{member.id}":
            return
        if urn.startswith(ORGANIZATION_PREFIX) and urn[len(ORGANIZATION_PREFIX) :].isdigit():
            return
        version = call.request.headers.get("linkedin-version", "")
        raise self.fail(
            403,
            f"Not enough permissions to access: partnerApiPostsExternal.CREATE.{version}",
            code="ACCESS_DENIED",
            service=100,
        )

    async def _json(self, call: Call) -> dict[str, Any]:
        try:
            body = await call.json_or_form()
        except ValueError:
            raise self.illegal("Unable to parse the request body as JSON") from None
        return body

    # -- identity ----------------------------------------------------------------------
    @endpoint("GET", "/v2/userinfo")
    async def userinfo(self, call: Call) -> Response:
        member = self._member(call)
        return JSONResponse(
            {
                "sub": member.id,
                "name": member.display_name,
                "given_name": member.display_name.split(" ")[0],
                "family_name": "",
                "locale": {"country": "US", "language": "en"},
                "email_verified": True,
            }
        )

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
        _world(self.state).assets[urn] = _Asset(owner)
        self.state.put_media(StoredMedia(PLATFORM, urn, member.id, mime, 0, "", self.state.now()))

    @endpoint("PUT", "/dms-uploads/{asset}/uploaded-image/0")
    async def put_image(self, call: Call) -> Response:
        member = self._member(call)
        urn = f"urn:li:image:{call.request.path_params['asset']}"
        asset = _world(self.state).assets.get(urn)
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
        asset = _world(self.state).assets.get(urn)
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
        _world(self.state).uploads[urn] = _Upload(member.id, size, etags)
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
        upload = _world(self.state).uploads.get(urn)
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
        world = _world(self.state)
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

    # -- posts -------------------------------------------------------------------------
    @endpoint("POST", "/rest/posts", publish=True)
    async def create_post(self, call: Call) -> Response:
        member = self._member(call)
        self._versioned(call, restli=True)
        body = await self._json(call)
        author = str(body.get("author") or "")
        self._may_act_as(member, author, call)
        text = unescape_commentary(str(body.get("commentary") or ""))
        media = self._content_media(member, author, body.get("content"))
        self._check_post(body, text, media)
        window = self.state.hit_rate_limit(
            self.name, "posts", member.id, limit=POSTS_PER_DAY, per_seconds=86400
        )
        if window.exceeded:
            raise self.fail(429, _throttle_message("MEMBER"), code="TOO_MANY_REQUESTS", service=101)
        with self.state.lock:  # the duplicate check and the record are one step
            for earlier in self.state.accepted(self.name):
                if earlier.extra.get("author") == author and text and earlier.text == text:
                    raise self.fail(
                        422, f"Content is a duplicate of {earlier.remote_id}", code="DUPLICATE_POST"
                    )
            kind = "ugcPost" if any(m.id.startswith("urn:li:video:") for m in media) else "share"
            urn = f"urn:li:{kind}:{7_400_000_000_000_000_000 + self.state.next_number()}"
            self.state.record_post(
                AcceptedPost(
                    platform=self.name,
                    account_id=member.id,
                    handle=member.username,
                    text=text,
                    remote_id=urn,
                    created_at=self.state.now(),
                    media=media,
                    extra={
                        "author": author,
                        "visibility": body.get("visibility"),
                        "lifecycleState": body.get("lifecycleState"),
                        "alt_texts": _alt_texts(body.get("content")),
                        "version": call.request.headers.get("linkedin-version"),
                    },
                )
            )
        return Response(status_code=201, headers={"x-restli-id": urn})

    def _check_post(self, body: dict[str, Any], text: str, media: tuple[StoredMedia, ...]) -> None:
        if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"):
            raise self.unprocessable(
                "/visibility :: is required and must be PUBLIC, CONNECTIONS, LOGGED_IN or CONTAINER"
            )
        if body.get("lifecycleState") not in ("PUBLISHED", "DRAFT"):
            raise self.unprocessable("/lifecycleState :: must be PUBLISHED or DRAFT")
        distribution = body.get("distribution") or {}
        if distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE"):
            raise self.unprocessable("/distribution/feedDistribution :: is required")
        length = utf16_units(text)
        if length > COMMENTARY_LIMIT:
            raise self.unprocessable(
                f"/commentary :: length {length} exceeds the maximum allowed {COMMENTARY_LIMIT}"
            )
        if not text.strip() and not media:
            raise self.unprocessable("/commentary :: is required when there is no content")

    def _content_media(
        self, member: SandboxAccount, author: str, content: Any
    ) -> tuple[StoredMedia, ...]:
        if not content:
            return ()
        if not isinstance(content, dict):
            raise self.unprocessable("/content :: must be an object")
        if "multiImage" in content:
            images = (content.get("multiImage") or {}).get("images") or []
            if not 2 <= len(images) <= MAX_IMAGES:
                raise self.unprocessable(
                    f"/content/multiImage/images :: must have between 2 and {MAX_IMAGES} items, got {len(images)}"
                )
            ids = [str((i or {}).get("id") or "") for i in images]
            if not all(i.startswith("urn:li:image:") for i in ids):
                raise self.unprocessable("/content/multiImage/images :: only images may be used")
        elif "media" in content:
            ids = [str((content.get("media") or {}).get("id") or "")]
        else:
            raise self.unprocessable("/content :: unsupported content type")
        world = _world(self.state)
        found = []
        for urn in ids:
            asset = world.assets.get(urn)
            media = self.state.media(self.name, urn)
            if asset is None or media is None or media.account_id != member.id:
                raise self.unprocessable(f"/content :: {urn} does not exist")
            if asset.owner != author:
                raise self.unprocessable(
                    f"/content :: the owner of {urn} must be the author {author}"
                )
            if asset.status != "AVAILABLE":
                raise self.unprocessable(f"/content :: {urn} is not available ({asset.status})")
            found.append(media)
        return tuple(found)

    # -- OAuth -------------------------------------------------------------------------
    @endpoint("POST", "/oauth/v2/accessToken")
    async def access_token(self, call: Call) -> Response:
        try:
            form = await call.json_or_form()
        except ValueError:
            return _oauth_error(400, "invalid_request", "The request body must be a form")
        if not form.get("client_id") or not form.get("client_secret"):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        grant = form.get("grant_type")
        world = _world(self.state)
        now = self.state.now()
        if grant == "authorization_code":
            code = str(form.get("code") or "")
            if not code or code in world.codes:
                return _oauth_error(
                    400, "invalid_grant", "The authorization code is invalid or was already used"
                )
            world.codes.add(code)
            account = self.state.provision(self.name, f"code:{code}")
            refresh = f"AQX{secrets.token_urlsafe(24)}"
            world.refresh[_digest(refresh)] = _Issued(
                account.id, now + timedelta(seconds=REFRESH_TOKEN_SECONDS)
            )
        elif grant == "refresh_token":
            refresh = str(form.get("refresh_token") or "")
            grant_ = world.refresh.get(_digest(refresh))
            if (
                grant_ is None
                or now >= grant_.expires_at
                or self.state.account(self.name, grant_.account_id) is None
            ):
                return _oauth_error(
                    400,
                    "invalid_grant",
                    "The provided authorization grant or refresh token is invalid, expired or revoked",
                )
            account = self.state.account(self.name, grant_.account_id)
            assert account is not None
        else:
            return _oauth_error(
                400, "unsupported_grant_type", f"grant_type {grant!r} is not supported"
            )
        access = f"AQV{secrets.token_urlsafe(32)}"
        # The state provisions a placeholder for the new token; the book points it at the member.
        self.state.provision(self.name, access)
        world.access[_digest(access)] = _Issued(
            account.id, now + timedelta(seconds=ACCESS_TOKEN_SECONDS)
        )
        refresh_life = world.refresh[_digest(refresh)].expires_at - now
        return JSONResponse(
            {
                "access_token": access,
                "expires_in": ACCESS_TOKEN_SECONDS,
                "refresh_token": refresh,
                "refresh_token_expires_in": int(refresh_life.total_seconds()),
                "scope": "openid,profile,w_member_social,w_organization_social",
            }
        )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _throttle_message(scope: str) -> str:
    return f"Resource level throttle {scope} DAY limit for calls to this resource is reached."


def _alt_texts(content: Any) -> list[str]:
    if not isinstance(content, dict):
        return []
    if "multiImage" in content:
        return [str(i.get("altText") or "") for i in content["multiImage"].get("images") or []]
    return [str((content.get("media") or {}).get("altText") or "")]


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
