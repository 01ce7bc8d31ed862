"""YouTube (Data API v3): one video per post, uploaded by the resumable protocol.

The post's text is the video's description (at most 5,000 UTF-8 bytes); settings give the
rest: ``title`` (else the text's first line; required, at most 100 characters, no ``<``
or ``>``), ``tags`` (a list or a comma-separated string, at most 500 characters together),
``category_id`` (default 22, People & Blogs), ``privacy_status`` (private, unlisted,
public), ``publish_at`` (ISO 8601: YouTube publishes the private video then),
``made_for_kids`` and ``shorts`` (a vertical or square video of at most 3 minutes; the
description gets ``#Shorts``). An image beside the video becomes its custom thumbnail
(``thumbnails.set``, JPEG or PNG of at most 2 MB).

API projects that Google has not audited may only upload private videos: unless the
account's settings say ``audited``, anything but ``private`` is refused at creation.

Upload: ``videos.insert`` with ``uploadType=resumable``; the session URI is saved in the
job's progress before the first byte, and the bytes go up in 256 KiB multiples
(``youtube_upload.py``), resumed from the confirmed offset after an interruption, in the
same try or the next. Quota: ``quota_cost`` says what an attempt spends of the project's
budget per Pacific day (``daily_quota``, 10,000); the engine reserves it in the database
ledger every run and worker shares (``core/publishing/quota.py``) and defers a job that does
not fit until midnight Pacific, its attempt unspent. This process's own count
(``QuotaLedger``) is a second guard (``QuotaExhausted``, nothing sent), and YouTube's
``quotaExceeded`` holds the whole platform until the reset, so jobs wait instead of
failing. ``uploadLimitExceeded`` (the channel's own cap) waits a day.

Idempotency: lookup. The engine's key becomes a tag (``pz`` + 12 hex digits); a try whose
outcome is unknown first reads the channel's recent uploads for a video carrying it.
Tokens: Google OAuth 2.0 (``access_type=offline``); access tokens last an hour and are
refreshed at ``oauth2.googleapis.com/token``; ``invalid_grant`` (revoked, unused for six
months, or seven days old for an app in Testing) means reconnect.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthRevoked,
    PartiallyPublished,
    Problem,
    ProviderError,
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
    QuotaCost,
    RateLimit,
    RemotePost,
    TokenSet,
    engagement_of,
    json_body,
    read_media,
    transport_errors,
)
from postiz_pipelines.providers.oauth import client_refused, refresh_grant, token_set
from postiz_pipelines.providers.text import utf8_bytes
from postiz_pipelines.providers.youtube_rules import (
    instant,
    marker_tag,
    metadata_problems,
    tag_list,
    truthy,
    video_title,
    youtube_error,
)
from postiz_pipelines.providers.youtube_upload import (
    CHUNK_QUANTUM,
    PACIFIC,
    QuotaLedger,
    SessionGone,
    resumable_upload,
)

PLATFORM = "youtube"
PRODUCTION_API = "https://www.googleapis.com"
PRODUCTION_OAUTH = "https://oauth2.googleapis.com"
DAILY_QUOTA = 10_000
COSTS = {"insert": 1600, "thumbnail": 50, "list": 1}
VIDEOS_LIST_MAX = 50  # ids in one videos.list call
STATISTICS = {"likes": "likeCount", "replies": "commentCount", "views": "viewCount"}
CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=5000,
    text_unit="UTF-8 bytes",
    count_text=utf8_bytes,
    media=MediaLimits(
        max_items=2,  # the video and its thumbnail
        image_types=frozenset({"image/jpeg", "image/png"}),
        video_types=frozenset(
            {"video/mp4", "video/quicktime", "video/webm", "video/x-msvideo", "video/mpeg"}
        ),
        max_image_bytes=2 * 1024 * 1024,
        max_video_bytes=256 * 1024**3,
        max_videos=1,
        allow_mixed=True,
        requires_media=True,
    ),
    supports_threads=False,
    supports_refresh=True,
    idempotency=IdempotencyMode.LOOKUP,
    rate_limit=RateLimit(requests=6, per_seconds=86400),  # 10,000 units / 1,600 per upload
)


class YouTubeProvider(Provider):
    """Publishes videos to YouTube; see the module docstring.

    ``chunk_size`` (a multiple of 256 KiB, default 8 MiB) is the upload chunk;
    ``max_interruptions`` interruptions in a row end a try (the next resumes);
    ``daily_quota`` is the project's budget in units.
    """

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = PRODUCTION_API
    supports_engagement: ClassVar[bool] = True

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        oauth_base_url: str | None = None,
        client_id: str | None = None,
        client_secret: Secret | None = None,
        chunk_size: int = 32 * CHUNK_QUANTUM,
        max_interruptions: int = 5,
        daily_quota: int = DAILY_QUOTA,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        production = self.base_url == PRODUCTION_API
        self.oauth_base_url = (
            oauth_base_url or (PRODUCTION_OAUTH if production else self.base_url)
        ).rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        if chunk_size <= 0 or chunk_size % CHUNK_QUANTUM:
            raise ValueError(f"chunk_size must be a positive multiple of {CHUNK_QUANTUM}")
        self.chunk_size = chunk_size
        self.max_interruptions = max_interruptions
        self.quota = QuotaLedger(daily_quota)

    # -- validation --------------------------------------------------------------------
    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks plus YouTube's (``youtube_rules.metadata_problems``)."""
        problems = super().validate(content, account)
        return problems + metadata_problems(content, account, self.clock.now())

    def quota_cost(self, content: PostContent, *, reads_back: bool, publishes: bool) -> QuotaCost:
        """A lookup's three list calls, an upload's insert (nothing when a saved session is
        resumed) and its thumbnail, against the project's budget of the Pacific day."""
        units = 3 * COSTS["list"] if reads_back else 0
        if publishes:
            if not content.progress.get("upload_url"):
                units += COSTS["insert"]
            if any(m.kind == "image" for m in content.media):
                units += COSTS["thumbnail"]
        return QuotaCost(units=units, budget=self.quota.daily_units, zone=PACIFIC.key)

    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Upload the video (resuming a saved session), then set its thumbnail."""
        video = next(m for m in content.media if m.kind == "video")
        thumbnail = next((m for m in content.media if m.kind == "image"), None)
        data = read_media(PLATFORM, video)
        now = self.clock.now()
        session = str(content.progress.get("upload_url") or "")
        resource = None
        if session:
            try:
                resource = await self._upload(session, data, resume=True)
            except SessionGone:
                session = ""  # it expired unfinished: no video was made, start again
        if resource is None:
            self.quota.reserve(
                COSTS["insert"] + (COSTS["thumbnail"] if thumbnail else 0),
                now=now,
                what="an upload",
            )
            session = await self._initiate(account, content, video, len(data), idempotency_key)
            await content.save_progress({"upload_url": session})
            try:
                resource = await self._upload(session, data, resume=False)
            except SessionGone as exc:
                raise TransientError(
                    f"{PLATFORM}: the new upload session vanished", platform=PLATFORM
                ) from exc
        vid = str(resource["id"])
        if thumbnail is not None:
            await self._set_thumbnail(account, vid, thumbnail)
        shorts = truthy(content.settings.get("shorts"))
        url = f"https://www.youtube.com/{'shorts/' if shorts else 'watch?v='}{vid}"
        return PublishResult(remote_id=vid, url=url, http_status=200)

    async def _initiate(
        self,
        account: AccountCredentials,
        content: PostContent,
        video: MediaFile,
        size: int,
        key: str,
    ) -> str:
        description = content.text
        if truthy(content.settings.get("shorts")) and "#shorts" not in description.lower():
            description = f"{description}\n#Shorts".strip()
        status: dict[str, Any] = {
            "privacyStatus": str(content.settings.get("privacy_status") or "private"),
            "selfDeclaredMadeForKids": truthy(content.settings.get("made_for_kids")),
        }
        if content.settings.get("publish_at"):
            when = instant(content.settings["publish_at"])
            assert when is not None  # validated at creation
            status["publishAt"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata = {
            "snippet": {
                "title": video_title(content),
                "description": description,
                "tags": tag_list(content.settings.get("tags")) + [marker_tag(key)],
                "categoryId": str(content.settings.get("category_id") or "22"),
            },
            "status": status,
        }
        response = await self._send(
            "POST",
            account,
            "/upload/youtube/v3/videos",
            params={"uploadType": "resumable", "part": "snippet,status"},
            json=metadata,
            headers={
                "X-Upload-Content-Length": str(size),
                "X-Upload-Content-Type": video.mime_type,
            },
        )
        if response.status_code != 200 or not response.headers.get("location"):
            raise self._error(response, media=True)
        self.quota.spend(COSTS["insert"], now=self.clock.now())
        return response.headers["location"]

    async def _upload(self, session: str, data: bytes, *, resume: bool) -> dict[str, Any]:
        return await resumable_upload(
            self.http,
            session,
            data,
            chunk_size=self.chunk_size,
            max_interruptions=self.max_interruptions,
            error=lambda r: self._error(r, media=True),
            resume=resume,
        )

    async def _set_thumbnail(self, account: AccountCredentials, vid: str, image: MediaFile) -> None:
        """``thumbnails.set``; a refusal for good leaves the video out without it."""
        response = await self._send(
            "POST",
            account,
            "/upload/youtube/v3/thumbnails/set",
            params={"videoId": vid},
            content=read_media(PLATFORM, image),
            headers={"Content-Type": image.mime_type},
        )
        if response.status_code == 200:
            self.quota.spend(COSTS["thumbnail"], now=self.clock.now())
            return
        cause = self._error(response, media=True)
        if cause.retryable:
            raise cause  # the next try finds the finished session and sets it again
        raise PartiallyPublished(platform=PLATFORM, remote_id=vid, item=1, cause=cause)

    # -- lookup ------------------------------------------------------------------------
    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """The channel's recent upload carrying this job's tag (three list calls, 3 units)."""
        self.quota.reserve(3 * COSTS["list"], now=self.clock.now(), what="a lookup")
        channels = await self._get(
            account, "/youtube/v3/channels", {"part": "contentDetails", "mine": "true"}
        )
        items = channels.get("items") or []
        if not items:
            return None
        uploads = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]
        listing = await self._get(
            account,
            "/youtube/v3/playlistItems",
            {"part": "snippet,contentDetails", "playlistId": uploads, "maxResults": "25"},
        )
        ids = [
            str(i["contentDetails"]["videoId"])
            for i in listing.get("items") or []
            if (instant(i["snippet"].get("publishedAt")) or since) >= since
        ]
        if not ids:
            return None
        videos = await self._get(
            account, "/youtube/v3/videos", {"part": "snippet", "id": ",".join(ids)}
        )
        tag = marker_tag(idempotency_key)
        for v in videos.get("items") or []:
            if tag in (v["snippet"].get("tags") or []):
                return RemotePost(
                    remote_id=str(v["id"]),
                    url=f"https://www.youtube.com/watch?v={v['id']}",
                    text=str(v["snippet"].get("description") or ""),
                    created_at=instant(v["snippet"].get("publishedAt")),
                )
        return None

    # -- engagement --------------------------------------------------------------------
    def engagement_cost(self, posts: int) -> QuotaCost:
        """One ``videos.list`` unit per 50 videos, from the same Pacific-day budget."""
        calls = -(-posts // VIDEOS_LIST_MAX)
        return QuotaCost(calls * COSTS["list"], budget=self.quota.daily_units, zone=PACIFIC.key)

    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """``videos.list?part=statistics`` (50 ids a call, 1 unit): views, likes and comments
        (a hidden like count stays unknown); a video left out of the answer is deleted."""
        ids = list(remote_ids)
        stats: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), VIDEOS_LIST_MAX):
            self.quota.reserve(COSTS["list"], now=self.clock.now(), what="an engagement read")
            params = {"part": "statistics", "id": ",".join(ids[i : i + VIDEOS_LIST_MAX])}
            for v in (await self._get(account, "/youtube/v3/videos", params)).get("items") or []:
                if isinstance(v, dict) and v.get("id"):
                    stats[str(v["id"])] = v.get("statistics") or {}
        return [engagement_of(vid, stats.get(vid), STATISTICS) for vid in ids]

    async def _get(
        self, account: AccountCredentials, path: str, params: dict[str, str]
    ) -> dict[str, Any]:
        response = await self._send("GET", account, path, params=params)
        self.quota.spend(COSTS["list"], now=self.clock.now())
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise self._error(response)
        return body

    # -- tokens ------------------------------------------------------------------------
    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """A new access token from Google; the refresh token stays the same."""
        form = refresh_grant(
            PLATFORM, account, client_id=self.client_id, client_secret=self.client_secret
        )
        with transport_errors(PLATFORM):
            response = await self.http.post(f"{self.oauth_base_url}/token", data=form)
        body = json_body(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return token_set(body, now=self.clock.now())
        error = body.get("error") if isinstance(body, dict) else None
        kw: dict[str, Any] = {"platform": PLATFORM, "status": response.status_code, "code": error}
        if response.status_code >= 500 or response.status_code == 200:
            raise TransientError(
                f"{PLATFORM}: token refresh failed (HTTP {response.status_code})", **kw
            )
        if error == "invalid_grant":
            raise AuthRevoked(
                f"{PLATFORM}: the refresh token was revoked or expired (Google also ends them "
                "after six months unused, or seven days for an app in Testing); reconnect",
                **kw,
            )
        refused = client_refused(PLATFORM, error, status=response.status_code)
        if refused is not None:
            raise refused
        raise AuthRevoked(f"{PLATFORM}: token refresh refused ({error or 'no reason'})", **kw)

    # -- HTTP --------------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        account: AccountCredentials,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        url = self.base_url_for(account) + path
        all_headers = {"Authorization": f"Bearer {account.access_token.reveal()}"}
        all_headers.update(headers or {})
        with transport_errors(PLATFORM):
            return await self.http.request(method, url, headers=all_headers, **kwargs)

    def _error(self, response: httpx.Response, *, media: bool = False) -> ProviderError:
        return youtube_error(response, now=self.clock.now(), quota=self.quota, media=media)


__all__ = ["CAPABILITIES", "YouTubeProvider", "marker_tag"]
