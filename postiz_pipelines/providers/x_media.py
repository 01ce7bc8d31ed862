"""X media uploads for ``XProvider`` (API v2).

A still image goes up in one multipart ``POST /2/media/upload`` (``tweet_image``); a GIF
(``tweet_gif``) or video (``tweet_video``) in chunks: ``initialize``, one ``append`` per
``chunk_bytes`` with its ``segment_index``, ``finalize``. When the answer carries
``processing_info``, ``GET /2/media/upload?command=STATUS`` is polled after
``check_after_secs`` (or ``poll_interval`` when set) until ``succeeded``; ``failed`` is
``MediaRejected`` with X's error name. Alt text goes to ``POST /2/media/metadata``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from postiz_pipelines.errors import MediaRejected, TransientError
from postiz_pipelines.providers.base import AccountCredentials, MediaFile, read_media

if TYPE_CHECKING:
    import httpx

    from postiz_pipelines.errors import ProviderError

PLATFORM = "x"
MEDIA = "media"  # the endpoint kind that makes a 4xx a MediaRejected
CHUNK_BYTES = 4 * 1024 * 1024


class XMediaUploads:
    """The media steps of ``XProvider``, over its HTTP helpers."""

    if TYPE_CHECKING:
        chunk_bytes: int
        poll_interval: float | None
        max_polls: int

        async def _send(
            self, method: str, account: AccountCredentials, path: str, **kwargs: Any
        ) -> httpx.Response: ...

        def _expect(
            self, response: httpx.Response, endpoint: str, account: AccountCredentials | None
        ) -> dict[str, Any]: ...

        def _error(
            self, response: httpx.Response, endpoint: str, account: AccountCredentials | None
        ) -> ProviderError: ...

    async def _upload(self, account: AccountCredentials, media: MediaFile) -> str:
        data = read_media(PLATFORM, media)
        if media.kind == "image" and not media.is_gif:
            response = await self._send(
                "POST",
                account,
                "/2/media/upload",
                files={"media": (media.path.name, data, media.mime_type)},
                data={"media_category": "tweet_image", "media_type": media.mime_type},
            )
            uploaded = self._data(response, account)
        else:
            uploaded = await self._upload_chunked(account, media, data)
        media_id = str(uploaded.get("id") or "")
        if not media_id:
            raise TransientError(f"{PLATFORM}: media upload without an id", platform=PLATFORM)
        if uploaded.get("processing_info"):
            await self._wait_processed(account, media_id, uploaded["processing_info"])
        if media.alt_text:
            metadata = {"id": media_id, "metadata": {"alt_text": {"text": media.alt_text}}}
            response = await self._send("POST", account, "/2/media/metadata", json=metadata)
            self._data(response, account)
        return media_id

    async def _upload_chunked(
        self, account: AccountCredentials, media: MediaFile, data: bytes
    ) -> dict[str, Any]:
        category = "tweet_gif" if media.is_gif else "tweet_video"
        init = {"media_type": media.mime_type, "total_bytes": len(data), "media_category": category}
        response = await self._send("POST", account, "/2/media/upload/initialize", json=init)
        media_id = str(self._data(response, account).get("id") or "")
        if not media_id:
            raise TransientError(f"{PLATFORM}: media initialize without an id", platform=PLATFORM)
        for index, start in enumerate(range(0, len(data), self.chunk_bytes)):
            response = await self._send(
                "POST",
                account,
                f"/2/media/upload/{media_id}/append",
                files={
                    "media": (
                        "chunk",
                        data[start : start + self.chunk_bytes],
                        "application/octet-stream",
                    )
                },
                data={"segment_index": str(index)},
            )
            if response.status_code not in (200, 204):
                raise self._error(response, MEDIA, account)
        response = await self._send("POST", account, f"/2/media/upload/{media_id}/finalize")
        return self._data(response, account)

    async def _wait_processed(
        self, account: AccountCredentials, media_id: str, info: dict[str, Any]
    ) -> None:
        for _ in range(self.max_polls):
            state = info.get("state")
            if state == "succeeded":
                return
            if state == "failed":
                error = info.get("error") or {}
                raise MediaRejected(
                    f"{PLATFORM}: {error.get('message') or 'media processing failed'}",
                    platform=PLATFORM,
                    status=200,
                    code=error.get("name") or error.get("code"),
                )
            wait = self.poll_interval
            if wait is None:
                wait = float(info.get("check_after_secs") or 1)
            await asyncio.sleep(wait)
            response = await self._send(
                "GET",
                account,
                "/2/media/upload",
                params={"command": "STATUS", "media_id": media_id},
            )
            info = self._data(response, account).get("processing_info") or {"state": "succeeded"}
        raise TransientError(
            f"{PLATFORM}: media {media_id} still processing after {self.max_polls} polls",
            platform=PLATFORM,
        )

    def _data(self, response: httpx.Response, account: AccountCredentials) -> dict[str, Any]:
        data = self._expect(response, MEDIA, account).get("data")
        if not isinstance(data, dict):
            raise TransientError(
                f"{PLATFORM}: media answer without data",
                platform=PLATFORM,
                status=response.status_code,
            )
        return data
