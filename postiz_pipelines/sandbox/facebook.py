"""The Facebook Pages emulator: the Graph API endpoints a page token publishes with.

Mounted at ``/facebook``: ``https://graph.facebook.com/v24.0/{page-id}/feed`` becomes
``<sandbox>/facebook/v24.0/{page-id}/feed``. A page token reaches one page (the sandbox
account; its id is the page id). Endpoints:

    GET  /{version}/{node}                  me, the page, a post, a photo, a video (status)
    POST /{version}/{page}/feed             message, link, published, scheduled_publish_time,
                                            attached_media (unpublished photos)
    GET  /{version}/{page}/feed             the page's posts, newest first (also
    GET  /{version}/{page}/published_posts  ``published_posts``), cursor paging
    POST /{version}/{page}/photos           ``source`` (multipart) or ``url``; published=false
                                            keeps it for ``attached_media``
    POST /{version}/{page}/videos           ``file_url`` (Meta pulls it) or ``source``,
                                            ``description``; processing is polled on the node
    POST /{version}/{object}/comments       a comment on one of the page's posts

Validation as Graph answers it: a message over 63,206 characters (100), nothing to post
(100), the same message as one of the page's posts of the last 24 hours (506), a photo
over 4 MB or of another type (100/1366046), an unreadable image (324), a video URL that
cannot be fetched (389) or a file type Facebook does not take (352), another page's id
(200 to post, 100/33 to read). Page tokens fall under the Business Use Case budget, with
throttle code 32.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, endpoint
from postiz_pipelines.sandbox.meta_connect import FacebookConnect
from postiz_pipelines.sandbox.meta_graph import (
    PROCESSING_POLLS,
    MetaGraphSandbox,
    graph_time,
    select_fields,
    truthy,
    unreachable,
    url_mime_type,
)
from postiz_pipelines.sandbox.meta_insights import InsightsEndpoints
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, StoredMedia

MAX_MESSAGE = 63_206
PHOTO_LIMIT_BYTES = 4 * 1024 * 1024
PHOTO_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/tiff", "image/heif", "image/webp"}
)
VIDEO_TYPES = frozenset(
    {"video/mp4", "video/quicktime", "video/x-msvideo", "video/x-matroska", "video/webm"}
)
DUPLICATE_WINDOW = timedelta(hours=24)
SCHEDULE_MIN = timedelta(minutes=10)
SCHEDULE_MAX = timedelta(days=30)
PHOTO_REFUSED = (
    "Your photos couldn't be uploaded. Photos should be less than 4 MB and saved as JPG, "
    "PNG, GIF, TIFF, HEIF or WebP files."
)


class FacebookSandbox(FacebookConnect, InsightsEndpoints, MetaGraphSandbox):
    """See the module docstring."""

    name: ClassVar[str] = "facebook"
    insight_metrics: ClassVar[dict[str, str]] = {
        "post_impressions": "views",
        "post_reactions_by_type_total": "likes",
    }
    usage_type: ClassVar[str] = "pages"
    throttle_code: ClassVar[int] = 32
    throttle_message: ClassVar[str] = "(#32) Page request limit reached"

    async def _page(self, call: Call, *, write: bool) -> tuple[SandboxAccount, dict[str, Any]]:
        """The caller's page and the request's parameters; refuses another page's id."""
        self.check_version(call)
        params = await self.params(call)
        page = self.authenticate(call, params)
        node_id = call.request.path_params["node_id"]
        if node_id not in (page.id, "me"):
            if write:
                raise self.graph_error(
                    "(#200) If posting to a page, requires both pages_read_engagement and "
                    "pages_manage_posts as an admin with sufficient administrative permission",
                    200,
                    status=403,
                    kind="OAuthException",
                )
            raise self.unsupported("get", node_id)
        return page, params

    def _post_id(self, page: SandboxAccount) -> str:
        return f"{page.id}_{self.graph_id()}"

    def _permalink(self, call: Call, post: AcceptedPost) -> str:
        page_id, _, number = post.remote_id.partition("_")
        return f"{call.platform_url}/{page_id}/posts/{number}"

    def _post_json(self, call: Call, post: AcceptedPost) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": post.remote_id,
            "created_time": graph_time(post.created_at),
            "permalink_url": self._permalink(call, post),
            "is_published": bool(post.extra.get("published", True)),
        }
        if post.text:
            out["message"] = post.text
        if post.extra.get("link"):
            out["link"] = post.extra["link"]
        return out

    # -- reading -------------------------------------------------------------------------
    @endpoint("GET", "/{version}/{node_id}")
    async def node(self, call: Call) -> Response:
        self.check_version(call)
        params = await self.params(call)
        page = self.authenticate(call, params)
        node_id = call.request.path_params["node_id"]
        if node_id in ("me", page.id):
            return JSONResponse(
                select_fields({"id": page.id, "name": page.display_name}, params, "id,name")
            )
        post = self.state.post(self.name, node_id)
        if post is not None and post.account_id == page.id:
            return JSONResponse(select_fields(self._post_json(call, post), params, "id,message"))
        media = self.state.media(self.name, node_id)
        if media is not None and media.account_id == page.id:
            return JSONResponse(select_fields(self._media_json(call, media), params, "id"))
        raise self.unsupported("get", node_id)

    def _media_json(self, call: Call, media: StoredMedia) -> dict[str, Any]:
        out: dict[str, Any] = {"id": media.id, "created_time": graph_time(media.created_at)}
        if media.mime_type.startswith("image/"):
            out["images"] = [
                {"width": media.width, "height": media.height, "source": self._cdn(call, media)}
            ]
            return out
        ready = media.ready
        if not ready:  # this read still sees it processing; a later one will not
            self.state.update_media(self.name, media.id, pending_polls=media.pending_polls - 1)
        out["description"] = media.description
        out["permalink_url"] = f"/{media.account_id}/videos/{media.id}/"
        out["status"] = {
            "video_status": "ready" if ready else "processing",
            "processing_progress": 100 if ready else 50,
            "uploading_phase": {"status": "complete"},
            "processing_phase": {"status": "complete" if ready else "in_progress"},
            "publishing_phase": {
                "status": "complete" if ready else "not_started",
                **({"publish_status": "published"} if ready else {}),
            },
        }
        return out

    def _cdn(self, call: Call, media: StoredMedia) -> str:
        return f"{call.platform_url}/cdn/{media.id}.{media.mime_type.split('/')[-1]}"

    @endpoint("GET", "/{version}/{node_id}/feed")
    async def feed(self, call: Call) -> Response:
        return await self.published_posts(call)

    @endpoint("GET", "/{version}/{node_id}/published_posts")
    async def published_posts(self, call: Call) -> Response:
        page, params = await self._page(call, write=False)
        posts = [
            select_fields(self._post_json(call, post), params, "id,message,created_time")
            for post in reversed(self.state.accepted(self.name))
            if post.account_id == page.id and post.reply_to is None
        ]
        return self.paged(call, posts, params)

    # -- publishing ----------------------------------------------------------------------
    @endpoint("POST", "/{version}/{node_id}/feed", publish=True)
    async def create_post(self, call: Call) -> Response:
        page, params = await self._page(call, write=True)
        message = str(params.get("message") or "")
        link = str(params.get("link") or "") or None
        published = truthy(params.get("published", True))
        if len(message) > MAX_MESSAGE:
            raise self.graph_error(
                f"(#100) The message is {len(message)} characters long, the maximum is "
                f"{MAX_MESSAGE}",
                100,
            )
        extra: dict[str, Any] = {"link": link, "published": published, "kind": "feed"}
        if params.get("scheduled_publish_time") not in (None, ""):
            extra["scheduled_publish_time"] = self._schedule(params, published)
        with self.state.lock:  # the duplicate check and the record are one step
            media = self._attachable(page, self._attached_ids(params))
            if not message.strip() and not link and not media:
                raise self.graph_error("(#100) Missing message or attachment", 100)
            if message.strip() and self._duplicate(page, message):
                raise self.graph_error(
                    "(#506) Duplicate status message",
                    506,
                    title="Duplicate Status Message",
                    user_msg="This status update is identical to the last one you posted. "
                    "Try posting something different, or delete your previous update.",
                )
            post = self._record(page, message, media, extra)
        return JSONResponse({"id": post.remote_id})

    def _schedule(self, params: dict[str, Any], published: bool) -> int:
        try:
            when = int(params["scheduled_publish_time"])
        except (TypeError, ValueError):
            when = -1
        now = self.state.now().timestamp()
        ok = SCHEDULE_MIN.total_seconds() <= when - now <= SCHEDULE_MAX.total_seconds()
        if published or not ok:
            raise self.graph_error("(#100) The specified scheduled publish time is invalid.", 100)
        return when

    def _attached_ids(self, params: dict[str, Any]) -> list[str]:
        """``attached_media`` as a JSON list, or form fields ``attached_media[N]``."""
        raw: Any = params.get("attached_media")
        if raw is None:
            keyed = sorted(
                (int(k[len("attached_media[") : -1]), v)
                for k, v in params.items()
                if k.startswith("attached_media[") and k[len("attached_media[") : -1].isdigit()
            )
            raw = [v for _, v in keyed]
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise self.graph_error(
                    "(#100) param attached_media must be an array", 100
                ) from None
        if not isinstance(raw, list):
            raise self.graph_error("(#100) param attached_media must be an array", 100)
        ids = []
        for i, item in enumerate(raw):
            if isinstance(item, str):
                try:
                    item = json.loads(item)
                except ValueError:
                    item = None
            fbid = item.get("media_fbid") if isinstance(item, dict) else None
            if not fbid:
                raise self.graph_error(f"(#100) param attached_media[{i}] must be an object", 100)
            ids.append(str(fbid))
        return ids

    def _attachable(self, page: SandboxAccount, ids: list[str]) -> tuple[StoredMedia, ...]:
        media = []
        for i, media_id in enumerate(ids):
            found = self.state.media(self.name, media_id)
            if (
                found is None
                or found.account_id != page.id
                or found.attached_to is not None
                or not found.mime_type.startswith("image/")
            ):
                raise self.graph_error(
                    f"(#100) param attached_media[{i}] has an invalid media_fbid {media_id}", 100
                )
            media.append(found)
        return tuple(media)

    def _duplicate(self, page: SandboxAccount, message: str) -> bool:
        since = self.state.now() - DUPLICATE_WINDOW
        return any(
            post.account_id == page.id and post.text == message and post.created_at > since
            for post in self.state.accepted(self.name)
            if post.reply_to is None
        )

    def _record(
        self,
        page: SandboxAccount,
        message: str,
        media: tuple[StoredMedia, ...],
        extra: dict[str, Any],
        *,
        remote_id: str | None = None,
        reply_to: str | None = None,
    ) -> AcceptedPost:
        return self.state.record_post(
            AcceptedPost(
                platform=self.name,
                account_id=page.id,
                handle=page.username,
                text=message,
                remote_id=remote_id or self._post_id(page),
                created_at=self.state.now(),
                media=media,
                reply_to=reply_to,
                extra=extra,
            )
        )

    @endpoint("POST", "/{version}/{node_id}/photos")
    async def upload_photo(self, call: Call) -> Response:
        page, params = await self._page(call, write=True)
        source = params.get("source")
        url = str(params.get("url") or "")
        if isinstance(source, UploadFile):
            data = await source.read()
            mime = (source.content_type or "").split(";")[0].strip().lower()
            media = self._photo(page, mime, data, source.filename or "")
        elif url:
            mime = url_mime_type(url) or ""
            if unreachable(url):
                raise self.graph_error("(#324) Missing or invalid image file", 324)
            if mime not in PHOTO_TYPES:
                raise self.graph_error(PHOTO_REFUSED, 100, subcode=1366046)
            media = self._stored(page, mime, 0, hashlib.sha256(url.encode()).hexdigest(), url)
        else:
            raise self.graph_error("(#324) Requires upload file", 324)
        caption = str(params.get("caption") or params.get("message") or "")
        self.state.put_media(media)
        if not truthy(params.get("published", True)):
            return JSONResponse({"id": media.id})
        post = self._record(page, caption, (media,), {"published": True, "kind": "photo"})
        return JSONResponse({"id": media.id, "post_id": post.remote_id})

    def _photo(self, page: SandboxAccount, mime: str, data: bytes, filename: str) -> StoredMedia:
        if mime not in PHOTO_TYPES or len(data) > PHOTO_LIMIT_BYTES:
            raise self.graph_error(PHOTO_REFUSED, 100, subcode=1366046, title="Can't Upload Photos")
        from PIL import Image, UnidentifiedImageError  # only photo uploads need Pillow

        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError, ValueError):
            raise self.graph_error("(#324) Missing or invalid image file", 324) from None
        media = self._stored(page, mime, len(data), hashlib.sha256(data).hexdigest(), filename)
        return replace(media, width=width, height=height)

    def _stored(
        self, page: SandboxAccount, mime: str, size: int, digest: str, filename: str
    ) -> StoredMedia:
        return StoredMedia(
            platform=self.name,
            id=self.graph_id(),
            account_id=page.id,
            mime_type=mime,
            size_bytes=size,
            sha256=digest,
            created_at=self.state.now(),
            filename=filename,
        )

    @endpoint("POST", "/{version}/{node_id}/videos", publish=True)
    async def upload_video(self, call: Call) -> Response:
        page, params = await self._page(call, write=True)
        file_url = str(params.get("file_url") or "")
        source = params.get("source")
        if isinstance(source, UploadFile):
            data = await source.read()
            mime = (source.content_type or "").split(";")[0].strip().lower()
            digest, size, name = hashlib.sha256(data).hexdigest(), len(data), source.filename
        elif file_url:
            if unreachable(file_url):
                raise self.graph_error("(#389) Unable to fetch video file from URL.", 389)
            mime = url_mime_type(file_url) or "video/mp4"
            digest, size, name = hashlib.sha256(file_url.encode()).hexdigest(), 0, file_url
        else:
            raise self.graph_error("(#100) The video file is missing: pass file_url or source", 100)
        if mime not in VIDEO_TYPES:
            raise self.graph_error(
                "(#352) Sorry, the video file you selected is in a format that we don't support.",
                352,
            )
        description = str(params.get("description") or "")
        media = self._stored(page, mime, size, digest, name or "")
        media = replace(media, description=description, pending_polls=PROCESSING_POLLS)
        self.state.put_media(media)
        extra = {"published": True, "kind": "video", "title": params.get("title")}
        self._record(page, description, (media,), extra, remote_id=f"{page.id}_{media.id}")
        return JSONResponse({"id": media.id})

    @endpoint("POST", "/{version}/{node_id}/comments", publish=True)
    async def create_comment(self, call: Call) -> Response:
        self.check_version(call)
        params = await self.params(call)
        page = self.authenticate(call, params)
        node_id = call.request.path_params["node_id"]
        parent = self.state.post(self.name, node_id)
        if parent is None:  # a video is commented on through its own id too
            media = self.state.media(self.name, node_id)
            parent = self.state.post(self.name, f"{page.id}_{node_id}") if media else None
        if parent is None or parent.account_id != page.id:
            raise self.unsupported("post", node_id)
        message = str(params.get("message") or "")
        if not message.strip() and not params.get("attachment_url"):
            raise self.graph_error("(#100) Missing message or attachment", 100)
        if len(message) > MAX_MESSAGE:
            raise self.graph_error(f"(#100) The message is longer than {MAX_MESSAGE}", 100)
        comment_id = f"{parent.remote_id.rpartition('_')[2]}_{self.graph_id()}"
        self._record(
            page, message, (), {"kind": "comment"}, remote_id=comment_id, reply_to=parent.remote_id
        )
        return JSONResponse({"id": comment_id})
