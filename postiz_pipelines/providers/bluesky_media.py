"""Bluesky media for ``BlueskyProvider``: images as blobs on the PDS (``uploadBlob``), a
video through the video service.

The video flow: ``getServiceAuth`` (aud ``did:web:<PDS host>``, lxm
``com.atproto.repo.uploadBlob``, 30 minutes), ``uploadVideo?did=&name=`` with the service
token, then ``getJobStatus`` every ``poll_interval`` until the job carries a blob. The
service answers the upload with a bare job status (no ``jobStatus`` wrapper), and the same
bytes again with 409 ``already_exists`` naming the finished job.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import MediaRejected, TransientError
from postiz_pipelines.providers.base import AccountCredentials, MediaFile, json_body, read_media

if TYPE_CHECKING:
    import httpx

    from postiz_pipelines.clock import Clock
    from postiz_pipelines.errors import ProviderError

PLATFORM = "bluesky"
MEDIA = "media"  # the endpoint kind that makes a 4xx a MediaRejected
UPLOAD_LXM = "com.atproto.repo.uploadBlob"
SERVICE_AUTH_SECONDS = 30 * 60


class BlueskyMediaSteps:
    """The media steps of ``BlueskyProvider``, over its HTTP helpers."""

    if TYPE_CHECKING:
        video_base_url: str
        poll_interval: float
        max_polls: int
        clock: Clock

        def base_url_for(self, account: AccountCredentials) -> str: ...

        async def _send(
            self, method: str, account: AccountCredentials, path: str, **kwargs: Any
        ) -> httpx.Response: ...

        async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response: ...

        def _expect(
            self, response: httpx.Response, endpoint: str, ok: tuple[int, ...] = (200,)
        ) -> dict[str, Any]: ...

        def _error(self, response: httpx.Response, endpoint: str) -> ProviderError: ...

    async def _embed(
        self, account: AccountCredentials, did: str, media: tuple[MediaFile, ...]
    ) -> dict[str, Any] | None:
        if not media:
            return None
        video = next((m for m in media if m.kind == "video"), None)
        if video is not None:
            embed: dict[str, Any] = {
                "$type": "app.bsky.embed.video",
                "video": await self._upload_video(account, did, video),
            }
            if video.alt_text:
                embed["alt"] = video.alt_text
            return with_aspect(embed, video)
        images = []
        for item in media:
            response = await self._send(
                "POST",
                account,
                "/xrpc/com.atproto.repo.uploadBlob",
                content=read_media(PLATFORM, item),
                headers={"Content-Type": item.mime_type},
            )
            blob = self._expect(response, MEDIA).get("blob")
            images.append(with_aspect({"image": blob, "alt": item.alt_text}, item))
        return {"$type": "app.bsky.embed.images", "images": images}

    async def _upload_video(
        self, account: AccountCredentials, did: str, video: MediaFile
    ) -> dict[str, Any]:
        data = read_media(PLATFORM, video)
        host = urlparse(self.base_url_for(account)).hostname or ""
        expires = int(self.clock.now().timestamp()) + SERVICE_AUTH_SECONDS
        params = {"aud": f"did:web:{host}", "lxm": UPLOAD_LXM, "exp": str(expires)}
        response = await self._send(
            "GET", account, "/xrpc/com.atproto.server.getServiceAuth", params=params
        )
        token = Secret(str(self._expect(response, MEDIA).get("token", "")))
        response = await self._request(
            "POST",
            f"{self.video_base_url}/xrpc/app.bsky.video.uploadVideo",
            token=token,
            params={"did": did, "name": video.path.name},
            content=data,
            headers={"Content-Type": video.mime_type},
        )
        body = json_body(response)
        already = (
            response.status_code == 409
            and isinstance(body, dict)
            and body.get("error") == "already_exists"
        )
        if response.status_code != 200 and not already:
            raise self._error(response, MEDIA)
        status = self._expect(response, MEDIA, ok=(200, 409))
        status = status.get("jobStatus", status)
        for _ in range(self.max_polls + 1):
            if isinstance(status.get("blob"), dict):
                return status["blob"]
            if status.get("state") == "JOB_STATE_FAILED":
                raise MediaRejected(
                    f"{PLATFORM}: {status.get('message') or 'video processing failed'}",
                    platform=PLATFORM,
                    status=200,
                    code=status.get("error"),
                )
            if not status.get("jobId"):
                raise TransientError(f"{PLATFORM}: video job without an id", platform=PLATFORM)
            await asyncio.sleep(self.poll_interval)
            response = await self._request(
                "GET",
                f"{self.video_base_url}/xrpc/app.bsky.video.getJobStatus",
                params={"jobId": status["jobId"]},
            )
            polled = self._expect(response, MEDIA).get("jobStatus")
            status = polled if isinstance(polled, dict) else {}
        raise TransientError(
            f"{PLATFORM}: video still processing after {self.max_polls} polls", platform=PLATFORM
        )


def with_aspect(item: dict[str, Any], media: MediaFile) -> dict[str, Any]:
    if media.width and media.height:
        item["aspectRatio"] = {"width": media.width, "height": media.height}
    return item
