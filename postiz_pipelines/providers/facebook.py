"""Facebook Pages: posts on a page's feed with a page token, through the Graph API.

The account's ``external_id`` is the page id and its token a page token. Photos go up as
files (``POST /{page}/photos``, ``published=false``) and are attached to one feed post
(``attached_media``); a video is pulled by Facebook from its public URL
(``POST /{page}/videos`` with ``file_url``) and polled until processed. Thread items become
comments on the post, in order. ``settings["link"]`` adds a link to a text post.

Page tokens do not expire and cannot be refreshed: any 190 means reconnecting. There is no
idempotency key, but a page's published posts can be read back, so an uncertain outcome is
resolved by looking (``find_recent``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, ClassVar

from postiz_pipelines.errors import ProviderError, TransientError
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
    read_media,
)
from postiz_pipelines.providers.meta_errors import MEDIA, PUBLISH, READ
from postiz_pipelines.providers.meta_graph import MetaGraphProvider
from postiz_pipelines.providers.text import characters

PLATFORM = "facebook"

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=63_206,
    text_unit="characters",
    count_text=characters,
    media=MediaLimits(
        max_items=10,  # Facebook documents no maximum for attached_media; ten keeps posts sane
        image_types=frozenset(
            {"image/jpeg", "image/png", "image/gif", "image/tiff", "image/heif", "image/webp"}
        ),
        video_types=frozenset({"video/mp4", "video/quicktime"}),
        max_image_bytes=4 * 1024 * 1024,
        max_video_bytes=1024 * 1024 * 1024,  # file_url uploads
        max_videos=1,
        allow_mixed=False,
    ),
    supports_threads=True,
    supports_refresh=False,
    idempotency=IdempotencyMode.LOOKUP,
    rate_limit=RateLimit(requests=200, per_seconds=3600),
)


class FacebookProvider(MetaGraphProvider):
    """Publishes to a Facebook page; see the module docstring."""

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = "https://graph.facebook.com"

    def refreshable(self, account: AccountCredentials) -> bool:
        return False

    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Upload photos (or hand over the video), create the post, then the comments."""
        page = self._page_id(account)
        videos = [m for m in content.media if m.kind == "video"]
        if videos:
            root = await self._post_video(account, page, videos[0], content.text)
        else:
            photo_ids = [await self._upload_photo(account, page, m) for m in content.media]
            root = await self._post_feed(account, page, content, photo_ids)
        comment_ids: list[str] = []
        try:
            for text in content.thread:
                comment_ids.append(await self._comment(account, root, text))
        except ProviderError as exc:
            raise self._live_failure(root, exc) from exc
        url = await self._permalink(account, root, "permalink_url")
        return PublishResult(
            remote_id=root, url=url, thread_ids=tuple(comment_ids), http_status=200
        )

    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """The page's newest published post since ``since`` whose message is ``text``."""
        return await self._find_in_edge(
            account,
            f"/{self._page_id(account)}/published_posts",
            params={"fields": "id,message,created_time,permalink_url"},
            text_field="message",
            time_field="created_time",
            link_field="permalink_url",
            since=since,
            text=text,
        )

    # -- steps -------------------------------------------------------------------------
    def _page_id(self, account: AccountCredentials) -> str:
        if not account.external_id:
            raise ProviderError(
                f"{PLATFORM}: account {account.account_id} has no page id", platform=PLATFORM
            )
        return account.external_id

    async def _upload_photo(self, account: AccountCredentials, page: str, media: MediaFile) -> str:
        data = read_media(PLATFORM, media)
        body = await self._graph(
            "POST",
            account,
            f"/{page}/photos",
            call=MEDIA,
            data={"published": "false"},
            files={"source": (media.path.name, data, media.mime_type)},
        )
        return self._required_id(body, "photo upload")

    async def _post_feed(
        self, account: AccountCredentials, page: str, content: PostContent, photo_ids: list[str]
    ) -> str:
        fields: dict[str, Any] = {"message": content.text}
        if photo_ids:
            fields["attached_media"] = [{"media_fbid": i} for i in photo_ids]
        if link := content.settings.get("link"):
            fields["link"] = str(link)
        body = await self._graph("POST", account, f"/{page}/feed", call=PUBLISH, json=fields)
        return self._new_id(body, 200, "the post")

    async def _post_video(
        self, account: AccountCredentials, page: str, video: MediaFile, text: str
    ) -> str:
        fields = {"file_url": self._public_url(video), "description": text}
        body = await self._graph("POST", account, f"/{page}/videos", call=PUBLISH, data=fields)
        video_id = self._new_id(body, 200, "the video")
        await self._wait_video(account, video_id)
        return video_id

    async def _wait_video(self, account: AccountCredentials, video_id: str) -> None:
        """Poll until processed. A video still processing after the last poll is accepted
        (it appears when done); one that failed was never shown, so it is the media's fault."""
        for poll in range(self.max_polls):
            if poll:
                await asyncio.sleep(self.poll_interval)
            body = await self._graph(
                "GET", account, f"/{video_id}", call=READ, params={"fields": "id,status"}
            )
            status = body.get("status")
            status = status if isinstance(status, dict) else {}
            state = str(status.get("video_status") or "")
            if state in ("ready", "published"):
                return
            if state == "error":
                raise self._processing_error(_video_error(status))

    async def _comment(self, account: AccountCredentials, parent: str, text: str) -> str:
        body = await self._graph(
            "POST", account, f"/{parent}/comments", call=PUBLISH, json={"message": text}
        )
        return self._new_id(body, 200, "the comment")

    def _required_id(self, body: dict[str, Any], what: str) -> str:
        value = str(body.get("id") or "")
        if not value:
            raise TransientError(f"{PLATFORM}: {what} answered without an id", platform=PLATFORM)
        return value


def _video_error(status: dict[str, Any]) -> str:
    phase = status.get("processing_phase")
    errors = phase.get("errors") if isinstance(phase, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        message, code = first.get("message", ""), first.get("code", "")
        return f"video processing failed: {message} (error code {code})"
    return "video processing failed"
