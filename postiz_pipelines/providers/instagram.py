"""Instagram: feed posts, carousels, reels and stories through content publishing.

The account's ``external_id`` is the Instagram professional account id (ig-user-id).
``settings["login"]`` says how it was connected: ``"instagram"`` (the default; the
``graph.instagram.com`` host, a 60-day token refreshed with ``ig_refresh_token``) or
``"facebook"`` (``graph.facebook.com`` with a page-linked token that cannot be refreshed).
Post settings: ``post_type`` ``"post"`` (default) or ``"story"``; ``share_to_feed`` (reels).

Instagram downloads every file itself, so each ``MediaFile`` needs a ``public_url``. One
image becomes an IMAGE container, one video a REELS container, several items a carousel
(children with ``is_carousel_item``, each polled until FINISHED, then a CAROUSEL parent
with the caption). The container is polled until FINISHED and published with
``media_publish``. There is no idempotency key; ``find_recent`` reads the account's recent
media back and matches the caption. The publishing limit (100 posts per 24 h, a carousel
counts once) is read before anything is sent (``content_publishing_limit``): a full window
is ``QuotaExhausted``, so the job waits, its attempt unspent, until the next UTC day; should
the platform still answer 9/2207042, that waits the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import httpx
import regex

from postiz_pipelines.clock import Clock
from postiz_pipelines.errors import (
    ContentRejected,
    MediaRejected,
    Problem,
    ProviderError,
    QuotaExhausted,
    TransientError,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    Capabilities,
    IdempotencyMode,
    MediaFile,
    MediaLimits,
    PostContent,
    PublishResult,
    RateLimit,
    RemotePost,
    validate_against,
)
from postiz_pipelines.providers.meta_errors import MEDIA, PUBLISH, READ, seconds_to_next_utc_day
from postiz_pipelines.providers.meta_graph import MetaGraphProvider
from postiz_pipelines.providers.text import characters

PLATFORM = "instagram"
INSTAGRAM_HOST = "https://graph.instagram.com"
FACEBOOK_HOST = "https://graph.facebook.com"
LOGINS = ("instagram", "facebook")
POST_TYPES = ("post", "story")
IMAGE_MIN_ASPECT, IMAGE_MAX_ASPECT = 0.8, 1.91  # 4:5 to 1.91:1, feed images
HASHTAG_LIMIT = 30
HASHTAG_RE = regex.compile(r"(?<!\w)#\w+")

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=2200,
    text_unit="characters",
    count_text=characters,
    # Instagram Graph API, content publishing (developers.facebook.com): images JPEG only,
    # <=8 MB, aspect 4:5-1.91:1, width 320-1440; Reels MOV/MP4, H.264 or HEVC + AAC,
    # 3 s-15 min, 23-60 fps, <=300 MB.
    media=MediaLimits(
        max_items=10,
        image_types=frozenset({"image/jpeg"}),
        video_types=frozenset({"video/mp4", "video/quicktime"}),
        max_image_bytes=8 * 1024 * 1024,
        max_video_bytes=300 * 1024 * 1024,
        min_video_seconds=3,
        max_video_seconds=900,
        min_aspect_ratio=4 / 5,
        max_aspect_ratio=1.91,
        max_image_width=1440,
        min_image_width=320,
        video_codecs=frozenset({"h264", "hevc"}),
        min_video_fps=23,
        max_video_fps=60,
        max_videos=10,  # a carousel may hold videos
        allow_mixed=True,
        requires_media=True,
        requires_public_url=True,
    ),
    supports_threads=False,
    supports_refresh=True,
    idempotency=IdempotencyMode.LOOKUP,
    rate_limit=RateLimit(requests=100, per_seconds=86_400),
)


class InstagramProvider(MetaGraphProvider):
    """Publishes to an Instagram professional account; see the module docstring."""

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    supports_engagement: ClassVar[bool] = True
    insight_metrics: ClassVar[dict[str, str]] = {
        "views": "views",
        "likes": "likes",
        "comments": "replies",
        "shares": "reposts",
    }
    default_base_url: ClassVar[str] = INSTAGRAM_HOST
    refresh_grant: ClassVar[str | None] = "ig_refresh_token"

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        base_url: str | None = None,
        api_version: str | None = None,
        poll_interval: float = 3.0,
        max_polls: int = 100,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            http,
            base_url=base_url,
            api_version=api_version,
            poll_interval=poll_interval,
            max_polls=max_polls,
            clock=clock,
        )
        self._explicit_base = base_url

    def base_url_for(self, account: AccountCredentials) -> str:
        """The account's or the configured base URL, else the host of the account's login."""
        if account.base_url or self._explicit_base:
            return super().base_url_for(account)
        return FACEBOOK_HOST if _login(account) == "facebook" else INSTAGRAM_HOST

    def refreshable(self, account: AccountCredentials) -> bool:
        return _login(account) == "instagram"

    # -- validation (pure) -------------------------------------------------------------
    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks, plus Instagram's: feed images 4:5 to 1.91:1, at most 30
        hashtags, a known ``post_type``, and a story of exactly one item."""
        problems = validate_against(self.capabilities, content, self.text_limit(account))
        post_type = str(content.settings.get("post_type", "post"))
        if post_type not in POST_TYPES:
            allowed = ", ".join(POST_TYPES)
            problems.append(
                Problem(f"{PLATFORM}.post_type", f"must be one of {allowed}", post_type, allowed)
            )
        if post_type == "story" and len(content.media) > 1:
            n = len(content.media)
            problems.append(Problem(f"{PLATFORM}.media", f"a story has one item, not {n}", n, 1))
        tags = len(HASHTAG_RE.findall(content.text))
        if tags > HASHTAG_LIMIT:
            problems.append(
                Problem(
                    f"{PLATFORM}.text",
                    f"{tags} hashtags, limit {HASHTAG_LIMIT}",
                    tags,
                    HASHTAG_LIMIT,
                )
            )
        for i, media in enumerate(content.media):
            if post_type == "story" or media.kind != "image" or not (media.width and media.height):
                continue
            ratio = media.width / media.height
            if not IMAGE_MIN_ASPECT - 1e-9 <= ratio <= IMAGE_MAX_ASPECT + 1e-9:
                problems.append(
                    Problem(
                        f"{PLATFORM}.media[{i}]",
                        f"aspect ratio {ratio:.3f}, allowed {IMAGE_MIN_ASPECT}-{IMAGE_MAX_ASPECT}",
                        round(ratio, 3),
                        f"{IMAGE_MIN_ASPECT}-{IMAGE_MAX_ASPECT}",
                    )
                )
        return problems

    # -- platform calls ----------------------------------------------------------------
    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Create the container(s), wait for processing, publish, read the permalink."""
        user = self._user_id(account)
        if not content.media:
            raise MediaRejected(
                f"{PLATFORM}: a post needs at least one image or video", platform=PLATFORM
            )
        if content.thread:
            raise ContentRejected(f"{PLATFORM} does not support threads", platform=PLATFORM)
        urls = [self._public_url(m) for m in content.media]  # all of them before any call
        await self._check_quota(account)
        story = content.settings.get("post_type") == "story"
        if len(content.media) == 1:
            fields = self._single_fields(content.media[0], urls[0], content, story)
        else:
            children = [
                await self._container(account, user, self._child_fields(m, url))
                for m, url in zip(content.media, urls, strict=True)
            ]
            for child in children:
                await self._wait(account, child)
            fields = {"media_type": "CAROUSEL", "children": ",".join(children)}
            fields["caption"] = content.text
        container = await self._container(account, user, fields)
        await self._wait(account, container)
        body = await self._graph(
            "POST", account, f"/{user}/media_publish", call=PUBLISH, data={"creation_id": container}
        )
        media_id = self._new_id(body, 200, "media_publish")
        url = await self._permalink(account, media_id, "permalink")
        return PublishResult(remote_id=media_id, url=url, http_status=200)

    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """The account's newest media since ``since`` whose caption is ``text``."""
        return await self._find_in_edge(
            account,
            f"/{self._user_id(account)}/media",
            params={"fields": "id,caption,timestamp,permalink"},
            text_field="caption",
            time_field="timestamp",
            link_field="permalink",
            since=since,
            text=text,
        )

    async def publishing_quota(self, account: AccountCredentials) -> tuple[int, int]:
        """Posts published in the current window and the window's limit."""
        usage, total, _ = await self._quota(account)
        return usage, total

    async def _quota(self, account: AccountCredentials) -> tuple[int, int, int]:
        """``content_publishing_limit``: usage, the limit, and the window in seconds."""
        body = await self._graph(
            "GET",
            account,
            f"/{self._user_id(account)}/content_publishing_limit",
            call=READ,
            params={"fields": "quota_usage,config"},
        )
        try:
            entry = body["data"][0]
            config = entry["config"]
            window = int(config.get("quota_duration") or 86_400)
            return int(entry["quota_usage"]), int(config["quota_total"]), window
        except (KeyError, IndexError, TypeError, ValueError):
            raise TransientError(
                f"{PLATFORM}: unreadable publishing limit", platform=PLATFORM, status=200
            ) from None

    async def _check_quota(self, account: AccountCredentials) -> None:
        """``QuotaExhausted`` (nothing sent) when the account's publishing window is full.

        The window's end is not in the answer; the wait is until the next UTC day, at most
        the window's length, and the next try reads the quota again. A quota that cannot be
        read (5xx, network) does not stop the post: the platform's own 9/2207042 does."""
        try:
            usage, total, window = await self._quota(account)
        except TransientError:
            return
        if usage < total:
            return
        wait = min(seconds_to_next_utc_day(self.clock.now()), float(window))
        raise QuotaExhausted(
            f"{PLATFORM}: {usage} of the {total} posts allowed per {window // 3600} h are "
            "published (content_publishing_limit); the post waits for the window to free",
            platform=PLATFORM,
            code="2207042",
            retry_after=wait,
        )

    # -- steps -------------------------------------------------------------------------
    def _user_id(self, account: AccountCredentials) -> str:
        if not account.external_id:
            raise ProviderError(
                f"{PLATFORM}: account {account.account_id} has no Instagram user id",
                platform=PLATFORM,
            )
        return account.external_id

    def _single_fields(
        self, media: MediaFile, url: str, content: PostContent, story: bool
    ) -> dict[str, Any]:
        if media.kind == "video":
            fields: dict[str, Any] = {"media_type": "STORIES" if story else "REELS"}
            fields["video_url"] = url
            if not story:
                fields["share_to_feed"] = str(content.settings.get("share_to_feed", True)).lower()
        else:
            fields = {"image_url": url}
            if story:
                fields["media_type"] = "STORIES"
            elif media.alt_text:
                fields["alt_text"] = media.alt_text
        if not story:
            fields["caption"] = content.text
        return fields

    def _child_fields(self, media: MediaFile, url: str) -> dict[str, Any]:
        if media.kind == "video":
            return {"media_type": "VIDEO", "video_url": url, "is_carousel_item": "true"}
        fields = {"image_url": url, "is_carousel_item": "true"}
        if media.alt_text:
            fields["alt_text"] = media.alt_text
        return fields

    async def _container(
        self, account: AccountCredentials, user: str, fields: dict[str, Any]
    ) -> str:
        body = await self._graph("POST", account, f"/{user}/media", call=MEDIA, data=fields)
        value = str(body.get("id") or "")
        if not value:  # a container is invisible until published: safe to try again
            raise TransientError(
                f"{PLATFORM}: container answered without an id", platform=PLATFORM, status=200
            )
        return value

    async def _wait(self, account: AccountCredentials, container: str) -> None:
        await self._wait_container(account, container, field="status_code", error_field="status")


def _login(account: AccountCredentials | None) -> str:
    value = (account.settings.get("login") if account else None) or "instagram"
    return str(value)
