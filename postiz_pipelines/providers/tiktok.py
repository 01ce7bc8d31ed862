"""TikTok (Content Posting API v2, direct post): a video, or up to 35 photos.

Before each post the creator's settings are read (``creator_info/query``): the privacy
levels they may use, whether comments, duets and stitches can be on, and their longest
video. The same settings, saved on the account when it is connected
(``settings["creator_info"]``), let a post be refused at creation. Post settings:
``privacy_level`` (default ``SELF_ONLY``), ``allow_comments``, ``allow_duet``,
``allow_stitch`` (off unless asked), ``source`` (``FILE_UPLOAD``, the default, or
``PULL_FROM_URL`` from our signed link on a verified domain), ``photo_title`` for photo
posts (whose text is the description). An app TikTok has not audited posts ``SELF_ONLY``
to private accounts only, for five users a day: refused at creation unless the account's
settings say ``audited``.

Videos: ``video/init`` then the bytes in order (one chunk under 5 MB, else chunks of
``chunk_size`` bytes, 5 to 64 MB, the last one taking the remainder). Photos:
``content/init`` with our links. Then ``status/fetch`` until ``PUBLISH_COMPLETE`` or
``FAILED``. The ``publish_id`` (and the upload URL) is saved in the job's progress as soon
as TikTok answers, before any upload or poll (idempotency ``stored_id``): a try that died
goes on polling that id, finishes its upload from the bytes TikTok has, and never submits
again. A try polls ``max_polls`` times, then the job looks again later (``StillProcessing``)
for up to ``max_wait`` after the submission; past that it fails saying the post may be live.

Tokens: access tokens last 2 hours (older apps 24); refreshing at ``/v2/oauth/token/``
rotates the refresh token, and the new one is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    Problem,
    ProviderError,
    StillProcessing,
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
    json_body,
    read_media,
    transport_errors,
)
from postiz_pipelines.providers.oauth import client_refused, refresh_grant, token_set
from postiz_pipelines.providers.text import utf16_units
from postiz_pipelines.providers.tiktok_rules import (
    MEDIA_CODES,
    PHOTO_DESCRIPTION_MAX,
    PHOTO_TITLE_MAX,
    PRIVACY_LEVELS,
    chunk_plan,
    creator_problems,
    instant,
    pulled_url,
    tiktok_error,
    truthy,
    video_engagement,
)

PLATFORM = "tiktok"
PRODUCTION_API = "https://open.tiktokapis.com"
MB = 1024 * 1024
VIDEO_QUERY_MAX = 20  # ids in one video/query call
VIDEO_FIELDS = "id,like_count,comment_count,share_count,view_count"
CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=2200,
    text_unit="UTF-16 characters",
    count_text=utf16_units,
    media=MediaLimits(
        max_items=35,
        image_types=frozenset({"image/jpeg", "image/webp"}),
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_image_bytes=20 * MB,
        max_video_bytes=4 * 1024 * MB,
        min_video_seconds=3,
        max_video_seconds=600,
        max_videos=1,
        allow_mixed=False,
        requires_media=True,
        requires_public_url=True,  # photos (and PULL_FROM_URL videos) are fetched by TikTok
    ),
    supports_threads=False,
    supports_refresh=True,
    idempotency=IdempotencyMode.STORED_ID,
    rate_limit=RateLimit(requests=6, per_seconds=60),  # video/init per user token
)


class TikTokProvider(Provider):
    """Publishes to TikTok; see the module docstring.

    ``client_key``/``client_secret`` refresh tokens; ``chunk_size`` (5 to 64 MB, default
    10 MB); ``poll_interval`` seconds between ``max_polls`` status polls of one try;
    ``poll_later`` seconds before the next try looks again; ``max_wait`` after submitting,
    the job gives up looking.
    """

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = PRODUCTION_API
    supports_engagement: ClassVar[bool] = True

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        client_key: str | None = None,
        client_secret: Secret | None = None,
        chunk_size: int = 10 * MB,
        poll_interval: float = 5.0,
        max_polls: int = 12,
        poll_later: float = 120.0,
        max_wait: timedelta = timedelta(hours=24),
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        if not 5 * MB <= chunk_size <= 64 * MB:
            raise ValueError("chunk_size must be 5 to 64 MB")
        self.client_key = client_key
        self.client_secret = client_secret
        self.chunk_size = chunk_size
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self.poll_later = poll_later
        self.max_wait = max_wait

    # -- validation ----------------------------------------------------------------------
    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks plus TikTok's: photos by link only, the photo title, and the
        creator's settings and the app's audit status, when the account has them."""
        p = PLATFORM
        problems = super().validate(content, account)
        photos = [m for m in content.media if m.kind == "image"]
        if photos:
            title = str(content.settings.get("photo_title") or "")
            if utf16_units(title) > PHOTO_TITLE_MAX:
                problems.append(
                    Problem(
                        f"{p}.photo_title",
                        f"photo title is {utf16_units(title)} characters, limit {PHOTO_TITLE_MAX}",
                        utf16_units(title),
                        PHOTO_TITLE_MAX,
                    )
                )
            if (n := utf16_units(content.text)) > PHOTO_DESCRIPTION_MAX:
                problems.append(
                    Problem(
                        f"{p}.text",
                        f"text is {n} characters, limit {PHOTO_DESCRIPTION_MAX}",
                        n,
                        PHOTO_DESCRIPTION_MAX,
                    )
                )
        privacy = str(content.settings.get("privacy_level") or "SELF_ONLY")
        if privacy not in PRIVACY_LEVELS:
            problems.append(
                Problem(
                    f"{p}.privacy_level",
                    "not a TikTok privacy level",
                    privacy,
                    ", ".join(PRIVACY_LEVELS),
                )
            )
        if account is None:
            return problems
        if privacy != "SELF_ONLY" and not truthy(account.settings.get("audited")):
            problems.append(
                Problem(
                    f"{p}.privacy_level",
                    "this TikTok app is not audited: it may post SELF_ONLY (seen by the creator "
                    "alone), to private accounts, for five users a day; use SELF_ONLY or get the "
                    "app audited and mark the account audited",
                    privacy,
                    "SELF_ONLY",
                )
            )
        info = account.settings.get("creator_info")
        if isinstance(info, dict):
            problems += creator_problems(info, content, privacy)
        return problems

    # -- publishing ----------------------------------------------------------------------
    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Submit once (saving the publish id), upload if needed, then poll; see the module."""
        progress = dict(content.progress)
        if not progress.get("publish_id"):
            info = await self.creator_info(account)
            privacy = str(content.settings.get("privacy_level") or "SELF_ONLY")
            refused = creator_problems(info, content, privacy)
            if refused:
                raise ContentRejected(
                    f"{PLATFORM}: " + "; ".join(str(x) for x in refused),
                    platform=PLATFORM,
                    code="creator_settings",
                )
            progress = await self._submit(account, content, info)
            progress["submitted_at"] = self.clock.now().isoformat()
            await content.save_progress(progress)
        video = next((m for m in content.media if m.kind == "video"), None)
        if progress.get("upload_url") and video is not None:
            await self._upload(progress, video, account)
        return await self._poll(account, content, progress)

    async def creator_info(self, account: AccountCredentials) -> dict[str, Any]:
        """The creator's current posting settings (``creator_info/query``)."""
        return await self._call(account, "/v2/post/publish/creator_info/query/", {})

    async def _submit(
        self, account: AccountCredentials, content: PostContent, creator: dict[str, Any]
    ) -> dict[str, Any]:
        s = content.settings
        privacy = str(s.get("privacy_level") or "SELF_ONLY")
        photos = [m for m in content.media if m.kind == "image"]
        info: dict[str, Any] = {
            "privacy_level": privacy,
            "disable_comment": not truthy(s.get("allow_comments")),
        }
        if photos:
            info.update(
                title=str(s.get("photo_title") or ""), description=content.text, auto_add_music=True
            )
            body = {
                "post_info": info,
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_cover_index": 0,
                    "photo_images": [pulled_url(m) for m in photos],
                },
                "post_mode": "DIRECT_POST",
                "media_type": "PHOTO",
            }
            data = await self._call(account, "/v2/post/publish/content/init/", body)
            return {"publish_id": str(data["publish_id"])}
        video = content.media[0]
        info.update(
            title=content.text,
            disable_duet=not truthy(s.get("allow_duet")),
            disable_stitch=not truthy(s.get("allow_stitch")),
        )
        if str(s.get("source") or "") == "PULL_FROM_URL":
            source: dict[str, Any] = {"source": "PULL_FROM_URL", "video_url": pulled_url(video)}
        else:
            chunk, count = chunk_plan(video.size_bytes, self.chunk_size)
            source = {
                "source": "FILE_UPLOAD",
                "video_size": video.size_bytes,
                "chunk_size": chunk,
                "total_chunk_count": count,
            }
        data = await self._call(
            account, "/v2/post/publish/video/init/", {"post_info": info, "source_info": source}
        )
        out = {"publish_id": str(data["publish_id"])}
        if data.get("upload_url"):
            out.update(
                upload_url=str(data["upload_url"]),
                chunk_size=source["chunk_size"],
                chunks=source["total_chunk_count"],
            )
        return out

    async def _upload(
        self, progress: dict[str, Any], video: MediaFile, account: AccountCredentials
    ) -> None:
        """Send the chunks TikTok does not have yet, in order."""
        status = await self._call(
            account, "/v2/post/publish/status/fetch/", {"publish_id": progress["publish_id"]}
        )
        if status.get("status") != "PROCESSING_UPLOAD":
            return
        data = read_media(PLATFORM, video)
        size, chunk, count = len(data), int(progress["chunk_size"]), int(progress["chunks"])
        done = int(status.get("uploaded_bytes") or 0)
        for index in range(done // chunk if chunk else 0, count):
            first = index * chunk
            last = size - 1 if index == count - 1 else first + chunk - 1
            with transport_errors(PLATFORM):
                response = await self.http.put(
                    str(progress["upload_url"]),
                    content=data[first : last + 1],
                    headers={
                        "Content-Range": f"bytes {first}-{last}/{size}",
                        "Content-Type": video.mime_type,
                    },
                )
            if response.status_code not in (201, 206):
                raise tiktok_error(response, self.clock.now())

    async def _poll(
        self, account: AccountCredentials, content: PostContent, progress: dict[str, Any]
    ) -> PublishResult:
        pid = str(progress["publish_id"])
        for attempt in range(self.max_polls):
            if attempt:  # on the provider's clock, which tests move
                await self.clock.sleep_until(
                    self.clock.now() + timedelta(seconds=self.poll_interval)
                )
            data = await self._call(account, "/v2/post/publish/status/fetch/", {"publish_id": pid})
            status = data.get("status")
            if status == "PUBLISH_COMPLETE":
                ids = data.get("publicaly_available_post_id") or []
                remote = str(ids[0]) if ids else pid
                url = f"https://www.tiktok.com/@{account.handle}/video/{ids[0]}" if ids else None
                return PublishResult(remote_id=remote, url=url, http_status=200)
            if status == "FAILED":
                # nothing was published: forget the id, so a retry (after a fix) submits anew
                await content.save_progress(dict.fromkeys(progress))
                reason = str(data.get("fail_reason") or "unknown")
                kind = (
                    MediaRejected if reason in MEDIA_CODES or "check" in reason else ContentRejected
                )
                raise kind(
                    f"{PLATFORM}: TikTok did not publish {pid}: {reason}",
                    platform=PLATFORM,
                    code=reason,
                )
        submitted = instant(progress.get("submitted_at")) or self.clock.now()
        waited = self.clock.now() - submitted
        if waited >= self.max_wait:
            raise ProviderError(
                f"{PLATFORM}: {pid} is still processing {waited} after it was submitted; it may be "
                "live or still in moderation: check the TikTok app before posting it again",
                platform=PLATFORM,
                code="still_processing",
                retryable=False,
            )
        raise StillProcessing(
            f"{PLATFORM}: {pid} is still processing ({status}); looking again later",
            platform=PLATFORM,
            code=str(status),
            retry_after=self.poll_later,
        )

    # -- engagement ----------------------------------------------------------------------
    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """``POST /v2/video/query/`` (20 ids a call, ``video.list`` scope) for the video ids
        the publish status gave (see ``tiktok_rules.video_engagement``)."""
        ids = [i for i in remote_ids if i.isdigit()]
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), VIDEO_QUERY_MAX):
            body = {"filters": {"video_ids": ids[i : i + VIDEO_QUERY_MAX]}}
            data = await self._call(account, f"/v2/video/query/?fields={VIDEO_FIELDS}", body)
            for video in data.get("videos") or []:
                if isinstance(video, dict) and video.get("id") is not None:
                    found[str(video["id"])] = video
        return [video_engagement(vid, found) for vid in remote_ids]

    # -- tokens --------------------------------------------------------------------------
    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """New tokens; TikTok rotates the refresh token, so the new one replaces the old."""
        form = refresh_grant(
            PLATFORM, account, client_id=self.client_key, client_secret=self.client_secret
        )
        form["client_key"] = form.pop("client_id")
        with transport_errors(PLATFORM):
            response = await self.http.post(
                f"{self.base_url_for(account)}/v2/oauth/token/", data=form
            )
        body = json_body(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return token_set(body, now=self.clock.now())
        error = body.get("error") if isinstance(body, dict) else None
        kw: dict[str, Any] = {"platform": PLATFORM, "status": response.status_code, "code": error}
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(
                f"{PLATFORM}: token refresh failed (HTTP {response.status_code})", **kw
            )
        refused = client_refused(PLATFORM, error, status=response.status_code)
        if refused is not None:
            raise refused
        raise AuthRevoked(
            f"{PLATFORM}: token refresh refused ({error or 'no reason'}); reconnect", **kw
        )

    # -- HTTP ----------------------------------------------------------------------------
    async def _call(
        self, account: AccountCredentials, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        with transport_errors(PLATFORM):
            response = await self.http.post(
                self.base_url_for(account) + path,
                json=body,
                headers={
                    "Authorization": f"Bearer {account.access_token.reveal()}",
                    "Content-Type": "application/json; charset=UTF-8",
                },
            )
        answer = json_body(response)
        error = answer.get("error") if isinstance(answer, dict) else None
        if response.status_code == 200 and isinstance(error, dict) and error.get("code") == "ok":
            data = answer.get("data")
            return data if isinstance(data, dict) else {}
        raise tiktok_error(response, self.clock.now())
