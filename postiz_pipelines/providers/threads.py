"""Threads: text, image, video and carousel posts, and threads of replies, on graph.threads.net.

The account's ``external_id`` is the Threads user id; its token is the 60-day long-lived
token, refreshed with ``th_refresh_token`` while it is still valid. Threads downloads
media itself, so each ``MediaFile`` needs a ``public_url``.

A post is a container (TEXT, IMAGE, VIDEO, or CAROUSEL over 2-20 ``is_carousel_item``
children), polled until FINISHED, then ``threads_publish``. Each thread item is a TEXT
container with ``reply_to_id`` set to the item before it, published the same way. Text is
limited to 500 by Threads' rule (an emoji counts its UTF-8 bytes). There is no idempotency
key; ``find_recent`` reads the user's recent threads back and matches the text.
"""

from __future__ import annotations

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
)
from postiz_pipelines.providers.meta_errors import POST, PUBLISH, READ
from postiz_pipelines.providers.meta_graph import MetaGraphProvider
from postiz_pipelines.providers.text import threads_length

PLATFORM = "threads"

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=500,
    text_unit="characters (an emoji counts its UTF-8 bytes)",
    count_text=threads_length,
    media=MediaLimits(
        max_items=20,
        image_types=frozenset({"image/jpeg", "image/png"}),
        video_types=frozenset({"video/mp4", "video/quicktime"}),
        max_image_bytes=8 * 1024 * 1024,
        max_video_bytes=1024 * 1024 * 1024,
        max_video_seconds=300,
        max_videos=20,  # a carousel may hold videos
        allow_mixed=True,
        requires_public_url=True,
    ),
    supports_threads=True,
    supports_refresh=True,
    idempotency=IdempotencyMode.LOOKUP,
    rate_limit=RateLimit(requests=250, per_seconds=86_400),
)


class ThreadsProvider(MetaGraphProvider):
    """Publishes to a Threads profile; see the module docstring."""

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = "https://graph.threads.net"
    api_version: ClassVar[str] = "v1.0"
    refresh_grant: ClassVar[str | None] = "th_refresh_token"

    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Publish the post, then each thread item as a reply to the one before."""
        user = self._user_id(account)
        urls = [self._public_url(m) for m in content.media]  # all of them before any call
        if not content.media:
            fields: dict[str, Any] = {"media_type": "TEXT"}
        elif len(content.media) == 1:
            fields = self._media_fields(content.media[0], urls[0])
        else:
            children = []
            for media, url in zip(content.media, urls, strict=True):
                child = {**self._media_fields(media, url), "is_carousel_item": "true"}
                children.append(await self._container(account, user, child))
            for child_id in children:
                await self._wait(account, child_id)
            fields = {"media_type": "CAROUSEL", "children": ",".join(children)}
        fields["text"] = content.text
        root = await self._publish_container(account, user, fields)
        replies: list[str] = []
        previous: str = root
        try:
            for text in content.thread:
                reply = {"media_type": "TEXT", "text": text, "reply_to_id": previous}
                previous = await self._publish_container(account, user, reply)
                replies.append(previous)
        except ProviderError as exc:
            raise self._live_failure(root, exc) from exc
        link = await self._permalink(account, root, "permalink")
        return PublishResult(remote_id=root, url=link, thread_ids=tuple(replies), http_status=200)

    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """The user's newest thread since ``since`` whose text is ``text``."""
        return await self._find_in_edge(
            account,
            f"/{self._user_id(account)}/threads",
            params={
                "fields": "id,text,timestamp,permalink",
                "since": str(int(since.timestamp())),
            },
            text_field="text",
            time_field="timestamp",
            link_field="permalink",
            since=since,
            text=text,
        )

    async def publishing_quota(self, account: AccountCredentials) -> dict[str, tuple[int, int]]:
        """``{"posts": (used, limit), "replies": (used, limit)}`` for the current window."""
        body = await self._graph(
            "GET",
            account,
            f"/{self._user_id(account)}/threads_publishing_limit",
            call=READ,
            params={"fields": "quota_usage,config,reply_quota_usage,reply_config"},
        )
        try:
            entry = body["data"][0]
            return {
                "posts": (int(entry["quota_usage"]), int(entry["config"]["quota_total"])),
                "replies": (
                    int(entry["reply_quota_usage"]),
                    int(entry["reply_config"]["quota_total"]),
                ),
            }
        except (KeyError, IndexError, TypeError, ValueError):
            raise TransientError(
                f"{PLATFORM}: unreadable publishing limit", platform=PLATFORM, status=200
            ) from None

    # -- steps -------------------------------------------------------------------------
    def _user_id(self, account: AccountCredentials) -> str:
        if not account.external_id:
            raise ProviderError(
                f"{PLATFORM}: account {account.account_id} has no Threads user id",
                platform=PLATFORM,
            )
        return account.external_id

    def _media_fields(self, media: MediaFile, url: str) -> dict[str, Any]:
        if media.kind == "video":
            return {"media_type": "VIDEO", "video_url": url}
        fields = {"media_type": "IMAGE", "image_url": url}
        if media.alt_text:
            fields["alt_text"] = media.alt_text
        return fields

    async def _container(
        self, account: AccountCredentials, user: str, fields: dict[str, Any]
    ) -> str:
        # A generic refusal (100) of a container is about its text; media faults carry
        # their own codes (9004, 352, 36001...).
        body = await self._graph("POST", account, f"/{user}/threads", call=POST, data=fields)
        value = str(body.get("id") or "")
        if not value:  # a container is invisible until published: safe to try again
            raise TransientError(
                f"{PLATFORM}: container answered without an id", platform=PLATFORM, status=200
            )
        return value

    async def _wait(self, account: AccountCredentials, container: str) -> None:
        await self._wait_container(account, container, field="status", error_field="error_message")

    async def _publish_container(
        self, account: AccountCredentials, user: str, fields: dict[str, Any]
    ) -> str:
        container = await self._container(account, user, fields)
        await self._wait(account, container)
        body = await self._graph(
            "POST",
            account,
            f"/{user}/threads_publish",
            call=PUBLISH,
            data={"creation_id": container},
        )
        return self._new_id(body, 200, "threads_publish")
