"""LinkedIn: posts on a member's feed or an organization page through the versioned REST API.

The account's ``external_id`` is the author: a full URN (``urn:li:person:…`` or
``urn:li:organization:…``) or a bare id, made a person URN unless
``settings["author_type"] == "organization"``. With no id at all the member's own id is
read from ``/v2/userinfo``.

Images go up through ``/rest/images?action=initializeUpload`` and a PUT of the bytes; a
video through ``/rest/videos?action=initializeUpload``, a PUT per part (keeping each part's
ETag) and ``finalizeUpload``; each asset is then polled until ``AVAILABLE``. One image or
a video is ``content.media``; several images are ``content.multiImage``. The post URN
comes back in the ``x-restli-id`` header. Commentary is escaped for LinkedIn's little
text format so that ``(``, ``#``, ``@`` and friends appear as written.

Access tokens last 60 days; partners with programmatic refresh exchange the refresh token
at ``www.linkedin.com/oauth/v2/accessToken`` (the sandbox serves it under the same base
URL as the API). LinkedIn has no idempotency key and no way to look a post up safely, so
an uncertain outcome needs a person.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
    Problem,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    Capabilities,
    Engagement,
    IdempotencyMode,
    MediaFile,
    MediaLimits,
    PostContent,
    Provider,
    PublishResult,
    RateLimit,
    TokenSet,
    count_or_none,
    json_body,
    read_media,
    retry_after_seconds,
    transport_errors,
)
from postiz_pipelines.providers.oauth import client_refused, refresh_grant, token_set
from postiz_pipelines.providers.text import utf16_units

PLATFORM = "linkedin"
API_VERSION = "202610"
PRODUCTION_API = "https://api.linkedin.com"
PRODUCTION_OAUTH = "https://www.linkedin.com"
VIDEO_MIN_BYTES = 75 * 1024
# Little text format: these characters mean markup unless escaped with a backslash.
RESERVED_RE = re.compile(r"([\\|{}@\[\]()<>#*_~])")
MEDIA_ENDPOINT = "media"
POST_ENDPOINT = "post"
READ_ENDPOINT = "read"

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=3000,
    text_unit="characters",
    count_text=utf16_units,
    # LinkedIn Images and Videos APIs (learn.microsoft.com): images <36,152,320 px, up to
    # 20 per post; video MP4, 75 KB-500 MB, 3 s-30 min.
    media=MediaLimits(
        min_video_bytes=75 * 1024,
        max_items=20,
        image_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
        video_types=frozenset({"video/mp4"}),
        max_image_bytes=5 * 1024 * 1024,
        max_video_bytes=500 * 1024 * 1024,
        max_image_pixels=36_152_320,
        min_video_seconds=3,
        max_video_seconds=30 * 60,
        max_videos=1,
        allow_mixed=False,
    ),
    supports_threads=False,
    supports_refresh=True,
    idempotency=IdempotencyMode.NONE,
    rate_limit=RateLimit(requests=150, per_seconds=86400),
)


# What the author wrote that little text can carry as markup: a hashtag (``#`` after a start
# or a space, then letters, digits or ``_``), and a mention written in the format itself,
# ``@[Name](urn:li:person:ID)`` or ``...(urn:li:organization:ID)`` (a plain ``@name`` has no
# URN to point at, so it stays text).
MARKUP_RE = re.compile(
    r"(?P<tag>(?<!\S)#(?P<word>\w+))"
    r"|(?P<mention>@\[(?P<name>[^\[\]]+)\]\((?P<urn>urn:li:(?:person|organization):[\w-]+)\))"
)


def escape_commentary(text: str) -> str:
    """``text`` in LinkedIn's little text format: hashtags as ``{hashtag|\\#|word}``, mentions
    in the format's own syntax kept as mentions, and every other reserved character escaped,
    so that the post shows as written (an unescaped ``(`` would cut it short)."""
    out, pos = [], 0
    for m in MARKUP_RE.finditer(text):
        out.append(RESERVED_RE.sub(r"\\\1", text[pos : m.start()]))
        if m.group("tag"):
            out.append("{hashtag|\\#|" + m.group("word") + "}")
        else:
            name = RESERVED_RE.sub(r"\\\1", m.group("name"))
            out.append(f"@[{name}]({m.group('urn')})")
        pos = m.end()
    out.append(RESERVED_RE.sub(r"\\\1", text[pos:]))
    return "".join(out)


class LinkedInProvider(Provider):
    """Publishes to LinkedIn; see the module docstring.

    ``client_id``/``client_secret`` are the app's OAuth credentials (needed only to
    refresh); ``oauth_base_url`` defaults to www.linkedin.com in production and to the
    API base URL otherwise (the sandbox). ``poll_interval`` seconds pass between asset
    status polls, at most ``max_polls`` times.
    """

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    supports_engagement: ClassVar[bool] = True
    default_base_url: ClassVar[str] = PRODUCTION_API

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        oauth_base_url: str | None = None,
        client_id: str | None = None,
        client_secret: Secret | None = None,
        api_version: str = API_VERSION,
        poll_interval: float = 2.0,
        max_polls: int = 150,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        production = self.base_url == PRODUCTION_API
        self.oauth_base_url = (
            oauth_base_url or (PRODUCTION_OAUTH if production else self.base_url)
        ).rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_version = api_version
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks plus LinkedIn's own: a video is at least 75 KB, and the
        author type is a person or an organization."""
        problems = super().validate(content, account)
        for i, media in enumerate(content.media):
            if media.kind == "video" and media.size_bytes < VIDEO_MIN_BYTES:
                problems.append(
                    Problem(
                        f"{PLATFORM}.media[{i}]",
                        f"{media.size_bytes} bytes, minimum {VIDEO_MIN_BYTES}",
                        media.size_bytes,
                        VIDEO_MIN_BYTES,
                    )
                )
        author_type = (account.settings.get("author_type") if account else None) or "person"
        if author_type not in ("person", "organization"):
            problems.append(
                Problem(
                    f"{PLATFORM}.author_type",
                    "must be person or organization",
                    author_type,
                    "person, organization",
                )
            )
        return problems

    # -- platform calls ----------------------------------------------------------------
    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Upload each media file, wait until it is available, then create the post."""
        author = await self.author_urn(account)
        urns = [await self._upload(account, author, media) for media in content.media]
        body: dict[str, Any] = {
            "author": author,
            "commentary": escape_commentary(content.text),
            "visibility": _visibility(content.settings.get("visibility")),
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        alts = [m.alt_text for m in content.media]
        if len(urns) == 1:
            body["content"] = {"media": {"id": urns[0], **_alt(alts[0])}}
            if content.media[0].kind == "video" and content.settings.get("video_title"):
                body["content"]["media"]["title"] = str(content.settings["video_title"])
        elif urns:
            images = [{"id": u, **_alt(a)} for u, a in zip(urns, alts, strict=True)]
            body["content"] = {"multiImage": {"images": images}}
        response = await self._send("POST", account, "/rest/posts", json=body, restli=True)
        if response.status_code != 201:
            raise self._error(response, POST_ENDPOINT)
        urn = response.headers.get("x-restli-id", "")
        if not urn:
            # A 201 means the post exists; without its URN we cannot say which it is.
            raise OutcomeUnknown(
                f"{PLATFORM}: post created but the answer had no x-restli-id",
                platform=PLATFORM,
                status=201,
            )
        return PublishResult(
            remote_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}/", http_status=201
        )

    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """A new access token from the refresh token (LinkedIn keeps the refresh token)."""
        form = refresh_grant(
            PLATFORM, account, client_id=self.client_id, client_secret=self.client_secret
        )
        with transport_errors(PLATFORM):
            response = await self.http.post(
                f"{self.oauth_base_url}/oauth/v2/accessToken", data=form
            )
        body = json_body(response)
        if (
            response.status_code != 200
            or not isinstance(body, dict)
            or not body.get("access_token")
        ):
            raise _oauth_error(response, body)
        return token_set(body, now=self.clock.now())

    async def author_urn(self, account: AccountCredentials) -> str:
        """The URN the account posts as (see the module docstring)."""
        ident = account.external_id.strip()
        if ident.startswith("urn:li:"):
            return ident
        if account.settings.get("author_type") == "organization":
            return f"urn:li:organization:{ident}"
        if not ident:
            response = await self._send("GET", account, "/v2/userinfo", versioned=False)
            if response.status_code != 200:
                raise self._error(response, READ_ENDPOINT)
            body = json_body(response)
            if not isinstance(body, dict) or not body.get("sub"):
                raise TransientError(
                    f"{PLATFORM}: unreadable userinfo", platform=PLATFORM, status=200
                )
            ident = str(body["sub"])
        return f"urn:li:person:{ident}"

    # -- uploads -----------------------------------------------------------------------
    async def _upload(self, account: AccountCredentials, owner: str, media: MediaFile) -> str:
        data = read_media(PLATFORM, media)
        if media.kind == "video":
            urn = await self._upload_video(account, owner, data)
        else:
            urn = await self._upload_image(account, owner, data, media.mime_type)
        await self._wait_available(account, urn)
        return urn

    async def _upload_image(
        self, account: AccountCredentials, owner: str, data: bytes, mime: str
    ) -> str:
        value = await self._initialize(account, "/rest/images", {"owner": owner})
        url, urn = str(value.get("uploadUrl") or ""), str(value.get("image") or "")
        if not url or not urn:
            raise TransientError(
                f"{PLATFORM}: image upload answered without a URL", platform=PLATFORM, status=200
            )
        response = await self._send(
            "PUT", account, url, content=data, headers={"Content-Type": mime}, versioned=False
        )
        if response.status_code not in (200, 201):
            raise self._error(response, MEDIA_ENDPOINT)
        return urn

    async def _upload_video(self, account: AccountCredentials, owner: str, data: bytes) -> str:
        request = {
            "owner": owner,
            "fileSizeBytes": len(data),
            "uploadCaptions": False,
            "uploadThumbnail": False,
        }
        value = await self._initialize(account, "/rest/videos", request)
        urn = str(value.get("video") or "")
        instructions = value.get("uploadInstructions") or []
        if not urn or not instructions:
            raise TransientError(
                f"{PLATFORM}: video upload answered without instructions",
                platform=PLATFORM,
                status=200,
            )
        etags: list[str] = []
        for part in instructions:
            chunk = data[int(part["firstByte"]) : int(part["lastByte"]) + 1]
            with transport_errors(PLATFORM):
                # Part URLs are pre-signed: the token must not travel to them.
                response = await self.http.put(
                    str(part["uploadUrl"]),
                    content=chunk,
                    headers={"Content-Type": "application/octet-stream"},
                )
            if response.status_code not in (200, 201) or not response.headers.get("etag"):
                raise self._error(response, MEDIA_ENDPOINT)
            etags.append(response.headers["etag"])
        finalize = {
            "finalizeUploadRequest": {
                "video": urn,
                "uploadToken": value.get("uploadToken", ""),
                "uploadedPartIds": etags,
            }
        }
        response = await self._send(
            "POST", account, "/rest/videos", params={"action": "finalizeUpload"}, json=finalize
        )
        if response.status_code not in (200, 201):
            raise self._error(response, MEDIA_ENDPOINT)
        return urn

    async def _initialize(
        self, account: AccountCredentials, path: str, request: dict[str, Any]
    ) -> dict[str, Any]:
        response = await self._send(
            "POST",
            account,
            path,
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": request},
        )
        if response.status_code != 200:
            raise self._error(response, MEDIA_ENDPOINT)
        body = json_body(response)
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, dict):
            raise TransientError(
                f"{PLATFORM}: unreadable answer to initializeUpload", platform=PLATFORM, status=200
            )
        return value

    async def _wait_available(self, account: AccountCredentials, urn: str) -> None:
        kind = "videos" if urn.startswith("urn:li:video:") else "images"
        path = f"/rest/{kind}/{quote(urn, safe='')}"
        for attempt in range(self.max_polls):
            if attempt:
                await asyncio.sleep(self.poll_interval)
            response = await self._send("GET", account, path)
            if response.status_code != 200:
                raise self._error(response, MEDIA_ENDPOINT)
            body = json_body(response)
            body = body if isinstance(body, dict) else {}
            status = body.get("status")
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                reason = body.get("processingFailureReason") or "processing failed"
                raise MediaRejected(
                    f"{PLATFORM}: {urn}: {reason}", platform=PLATFORM, status=200, code=status
                )
        raise TransientError(
            f"{PLATFORM}: {urn} still not available after {self.max_polls} polls",
            platform=PLATFORM,
            status=200,
        )

    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """``GET /rest/socialActions/{urn}``: total likes and comments (LinkedIn's member
        posts expose no views here); 404 is a deleted post."""
        out = []
        for urn in remote_ids:
            response = await self._send(
                "GET", account, f"/rest/socialActions/{quote(urn, safe='')}", restli=True
            )
            if response.status_code == 404:
                out.append(Engagement(urn, found=False))
                continue
            if response.status_code != 200:
                raise self._error(response, READ_ENDPOINT)
            body = json_body(response)
            body = body if isinstance(body, dict) else {}
            likes = (body.get("likesSummary") or {}).get("totalLikes")
            comments = body.get("commentsSummary") or {}
            replies = comments.get(
                "aggregatedTotalComments", comments.get("totalFirstLevelComments")
            )
            out.append(Engagement(urn, likes=count_or_none(likes), replies=count_or_none(replies)))
        return out

    # -- HTTP --------------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        account: AccountCredentials,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        versioned: bool = True,
        restli: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        url = path if path.startswith("http") else self.base_url_for(account) + path
        all_headers = {"Authorization": f"Bearer {account.access_token.reveal()}"}
        if versioned:
            all_headers["LinkedIn-Version"] = self.api_version
        if restli:
            all_headers["X-Restli-Protocol-Version"] = "2.0.0"
        all_headers.update(headers or {})
        with transport_errors(PLATFORM):
            return await self.http.request(method, url, headers=all_headers, **kwargs)

    def _error(self, response: httpx.Response, endpoint: str) -> ProviderError:
        """The error of a failed call, from its status and LinkedIn's Rest.li error body."""
        status = response.status_code
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        service = body.get("serviceErrorCode")
        code = body.get("code") or service
        detail = body.get("message") or f"HTTP {status} {response.reason_phrase}".strip()
        message = f"{PLATFORM}: {detail}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": code}
        if status == 429:
            retry = retry_after_seconds(response.headers, now=self.clock.now())
            if retry is None:  # LinkedIn's limits are daily and reset at midnight UTC
                retry = _seconds_to_midnight(self.clock.now())
            return RateLimited(message, retry_after=retry, **kw)
        if status >= 500:
            return TransientError(message, **kw)
        if status == 401:
            if service == 65602 or body.get("code") == "EXPIRED_ACCESS_TOKEN":
                return AuthExpired(message, **kw)
            return AuthRevoked(message, **kw)
        if status == 403:
            return AuthRevoked(message, **kw)
        if status == 426:
            return ProviderError(f"{message} (update the LinkedIn-Version)", **kw)
        if endpoint == MEDIA_ENDPOINT and 400 <= status < 500:
            return MediaRejected(message, **kw)
        if status == 422 and "/content" in str(detail):
            return MediaRejected(message, **kw)
        if endpoint == POST_ENDPOINT and status in (400, 404, 409, 422):
            return ContentRejected(message, **kw)
        if 200 <= status < 300:
            return TransientError(f"{message} (unexpected answer)", **kw)
        return ProviderError(message, **kw)


def _visibility(value: Any) -> str:
    """LinkedIn's own visibilities pass; anything else (another platform's word) is PUBLIC."""
    wanted = str(value or "").upper()
    return wanted if wanted in ("CONNECTIONS", "LOGGED_IN") else "PUBLIC"


def _alt(text: str) -> dict[str, str]:
    return {"altText": text} if text else {}


def _seconds_to_midnight(now: datetime) -> float:
    now = now.astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return (midnight - now).total_seconds()


def _oauth_error(response: httpx.Response, body: Any) -> ProviderError:
    """A refresh that failed: a refused grant or client is permanent, the rest transient."""
    status = response.status_code
    error = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description") if isinstance(body, dict) else None
    message = f"{PLATFORM}: token refresh failed: {description or error or f'HTTP {status}'}"
    kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": error}
    if status == 429:
        return RateLimited(message, retry_after=retry_after_seconds(response.headers), **kw)
    if status >= 500 or status == 200:
        return TransientError(message, **kw)
    return client_refused(PLATFORM, error, status=status) or AuthRevoked(message, **kw)
