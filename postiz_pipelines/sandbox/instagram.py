"""The Instagram emulator: content publishing through media containers.

Mounted at ``/instagram``. It stands for both hosts, whose publishing endpoints are the
same: ``https://graph.instagram.com`` (Instagram Login) and ``https://graph.facebook.com``
(Facebook Login, an account linked to a page), so ``.../v24.0/{ig-user-id}/media``
becomes ``<sandbox>/instagram/v24.0/{ig-user-id}/media``. The resumable upload host
(``rupload.facebook.com``) is not emulated: publishing pulls media by URL.

    GET  /refresh_access_token                  grant_type=ig_refresh_token (Instagram Login)
    GET  /{version}/{node}                      me, the user, a container (status_code,
                                                status), a published media
    POST /{version}/{ig-user-id}/media          a container: image_url, or video_url with
                                                media_type REELS|STORIES (VIDEO only as a
                                                carousel item), is_carousel_item, or
                                                media_type=CAROUSEL with 2-10 children
    POST /{version}/{ig-user-id}/media_publish  creation_id -> the published media id
    GET  /{version}/{ig-user-id}/media          the user's media, newest first, paged
    GET  /{version}/{ig-user-id}/content_publishing_limit   quota_usage and config

Errors as the Instagram error-code table gives them: caption over 2,200 characters or over
30 hashtags (100/2207010), an image that is not JPEG (36001/2207005), media that cannot be
fetched (9004/2207052; for video, the container ends in ERROR), a video format other than
MP4/MOV (the container ends in ERROR with 2207026), a container not ready (9007/2207027),
expired (-2/2207020) or unknown (24/2207006), and the publishing limit of 100 posts per
UTC day (9/2207042; a carousel counts once). Throttle code 80002 over the BUC budget.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import regex
from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.meta_graph import (
    PROCESSING_POLLS,
    Container,
    MetaGraphSandbox,
    graph_time,
    select_fields,
    shortcode,
    truthy,
    unreachable,
    url_mime_type,
)
from postiz_pipelines.sandbox.meta_insights import InsightsEndpoints
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount

CAPTION_LIMIT = 2200
HASHTAG_LIMIT = 30
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
PUBLISH_LIMIT = 100
IMAGE_TYPES = frozenset({"image/jpeg"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
HASHTAG_RE = regex.compile(r"(?<!\w)#\w+")
STATUS_TEXT = {
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "PUBLISHED": "Published: Media has been published.",
    "EXPIRED": "Expired: Media was not published within 24 hours.",
}
# A container that failed processing answers the publish call with its own code.
PROCESSING_ERRORS = {
    "2207026": (352, "The video format is not supported. Please check the video specifications."),
    "2207052": (9004, "Media download has failed. The media URI doesn't meet our requirements."),
}


class InstagramSandbox(InsightsEndpoints, MetaGraphSandbox):
    """See the module docstring."""

    name: ClassVar[str] = "instagram"
    insight_metrics: ClassVar[dict[str, str]] = {
        "views": "views",
        "likes": "likes",
        "comments": "replies",
        "shares": "reposts",
    }
    usage_type: ClassVar[str] = "instagram"
    throttle_code: ClassVar[int] = 80002
    throttle_message: ClassVar[str] = (
        "(#80002) There have been too many calls to this Instagram account. "
        "Wait a bit and try again."
    )
    graph_id_base: ClassVar[int] = 17_900_000_000_000_000

    async def _user(self, call: Call) -> tuple[SandboxAccount, dict[str, Any]]:
        self.check_version(call)
        params = await self.params(call)
        account = self.authenticate(call, params)
        node_id = call.request.path_params["node_id"]
        if node_id not in (account.id, "me"):
            raise self.unsupported(call.request.method.lower(), node_id)
        return account, params

    @endpoint("GET", "/refresh_access_token")
    async def refresh_access_token(self, call: Call) -> Response:
        return await self.refresh(call, "ig_refresh_token", "IGAA")

    # -- reading -------------------------------------------------------------------------
    @endpoint("GET", "/{version}/{node_id}")
    async def node(self, call: Call) -> Response:
        self.check_version(call)
        params = await self.params(call)
        account = self.authenticate(call, params)
        node_id = call.request.path_params["node_id"]
        if node_id in ("me", account.id):
            posts = [p for p in self.state.accepted(self.name) if p.account_id == account.id]
            user = {
                "id": account.id,
                "user_id": account.id,
                "username": account.username,
                "name": account.display_name,
                "account_type": "BUSINESS",
                "media_count": len(posts),
            }
            return JSONResponse(select_fields(user, params, "id,username"))
        container = self.container(node_id, account)
        if container is not None:
            status = self.container_status(container, consume=True)
            text = STATUS_TEXT.get(status)
            if status == "ERROR":
                text = f"Error: Media upload has failed with error code {container.error}"
            body = {"id": container.id, "status_code": status, "status": text}
            return JSONResponse(select_fields(body, params, "id,status_code"))
        post = self.state.post(self.name, node_id)
        if post is not None and post.account_id == account.id:
            return JSONResponse(select_fields(self._media_json(call, post), params, "id"))
        raise self.unsupported("get", node_id)

    def _media_json(self, call: Call, post: AcceptedPost) -> dict[str, Any]:
        kind = str(post.extra.get("media_type", "IMAGE"))
        shown = "IMAGE"
        if kind == "CAROUSEL":
            shown = "CAROUSEL_ALBUM"
        elif post.media and post.media[0].mime_type.startswith("video/"):
            shown = "VIDEO"
        out: dict[str, Any] = {
            "id": post.remote_id,
            "media_type": shown,
            "media_product_type": {"REELS": "REELS", "STORIES": "STORY"}.get(kind, "FEED"),
            "timestamp": graph_time(post.created_at),
            "permalink": f"{call.platform_url}/p/{shortcode(post.remote_id)}/",
            "username": post.handle,
        }
        if post.text:
            out["caption"] = post.text
        return out

    @endpoint("GET", "/{version}/{node_id}/media")
    async def list_media(self, call: Call) -> Response:
        account, params = await self._user(call)
        items = [
            select_fields(self._media_json(call, post), params, "id")
            for post in reversed(self.state.accepted(self.name))
            if post.account_id == account.id
        ]
        return self.paged(call, items, params)

    @endpoint("GET", "/{version}/{node_id}/content_publishing_limit")
    async def publishing_limit(self, call: Call) -> Response:
        account, _ = await self._user(call)
        start, limit = self.window_start(account, "publish", PUBLISH_LIMIT)
        usage = self.quota_usage(account, "publish", start)
        config = {"quota_total": limit, "quota_duration": 86_400}
        return JSONResponse({"data": [{"quota_usage": usage, "config": config}]})

    # -- containers ----------------------------------------------------------------------
    @endpoint("POST", "/{version}/{node_id}/media")
    async def create_container(self, call: Call) -> Response:
        account, params = await self._user(call)
        media_type = str(params.get("media_type") or "").upper()
        is_item = truthy(params.get("is_carousel_item", False))
        caption = "" if is_item else str(params.get("caption") or "")
        self._check_caption(caption)
        common: dict[str, Any] = {
            "id": self.graph_id(),
            "account_id": account.id,
            "created_at": self.state.now(),
            "text": caption,
            "is_carousel_item": is_item,
        }
        if media_type == "CAROUSEL":
            children = self._children(account, params.get("children"))
            container = Container(media_type="CAROUSEL", children=children, **common)
            return self._created(container, 0)
        image_url = str(params.get("image_url") or "")
        video_url = str(params.get("video_url") or "")
        if media_type == "VIDEO" and not is_item:
            raise self.graph_error(
                "(#100) The VIDEO media type is no longer supported for single feed videos; "
                "use media_type=REELS.",
                100,
            )
        if media_type in ("REELS", "VIDEO") or (media_type == "STORIES" and video_url):
            if not video_url:
                raise self.graph_error("(#100) The parameter video_url is required.", 100)
            container = Container(media_type=media_type, url=video_url, **common)
            return self._created(container, PROCESSING_POLLS, error=self._video_error(video_url))
        if media_type not in ("", "IMAGE", "STORIES"):
            raise self.graph_error(
                f"(#100) Param media_type must be one of IMAGE, VIDEO, REELS, STORIES, "
                f"CAROUSEL; got {media_type}",
                100,
            )
        if not image_url:
            raise self.graph_error("(#100) The parameter image_url is required.", 100)
        self._check_image(image_url)
        container = Container(media_type=media_type or "IMAGE", url=image_url, **common)
        return self._created(container, 0)

    def _created(self, container: Container, polls: int, *, error: str | None = None) -> Response:
        if error:
            container = replace(container, error=error)
        self.put_container(container, pending_polls=polls)
        return JSONResponse({"id": container.id})

    def _check_caption(self, caption: str) -> None:
        if len(caption) > CAPTION_LIMIT or len(HASHTAG_RE.findall(caption)) > HASHTAG_LIMIT:
            raise self.graph_error(
                "The caption is too long.",
                100,
                subcode=2207010,
                title="Caption too long",
                user_msg=f"The caption can have at most {CAPTION_LIMIT} characters and "
                f"{HASHTAG_LIMIT} hashtags.",
            )

    def _check_image(self, url: str) -> None:
        if unreachable(url):
            raise self.graph_error(
                "Media download has failed. The media URI doesn't meet our requirements.",
                9004,
                subcode=2207052,
                title="Media download has failed",
                user_msg=f"The media could not be fetched from this uri: {url}",
            )
        mime = url_mime_type(url)
        if mime is not None and mime not in IMAGE_TYPES:
            raise self.graph_error(
                "The image format is not supported.",
                36001,
                subcode=2207005,
                title="Unsupported image format",
                user_msg="The image format is not supported. Supported formats are: JPEG",
            )

    def _video_error(self, url: str) -> str | None:
        """What processing the video will end in: a download or a format error, or none."""
        if unreachable(url):
            return "2207052"
        mime = url_mime_type(url)
        return "2207026" if mime is not None and mime not in VIDEO_TYPES else None

    def _children(self, account: SandboxAccount, raw: Any) -> tuple[str, ...]:
        ids = raw if isinstance(raw, list) else str(raw or "").split(",")
        ids = [str(i).strip() for i in ids if str(i).strip()]
        if not CAROUSEL_MIN <= len(ids) <= CAROUSEL_MAX:
            raise self.graph_error(
                "(#100) The carousel has too little or too many attachments: it needs "
                f"{CAROUSEL_MIN} to {CAROUSEL_MAX} children.",
                100,
                subcode=2207028,
            )
        for child_id in ids:
            child = self.container(child_id, account)
            if child is None or not child.is_carousel_item:
                raise self.graph_error(
                    f"(#100) Param children contains {child_id}, which is not a carousel item "
                    "of this user.",
                    100,
                    subcode=2207028,
                )
            if self.container_status(child) != "FINISHED":
                raise self._not_ready()
        return tuple(ids)

    def _not_ready(self) -> HttpError:
        return self.graph_error(
            "Media ID is not available",
            9007,
            subcode=2207027,
            title="Media not ready for publishing",
            user_msg="The media is not ready for publishing, please wait for a moment",
        )

    # -- publishing ----------------------------------------------------------------------
    @endpoint("POST", "/{version}/{node_id}/media_publish", publish=True)
    async def publish(self, call: Call) -> Response:
        account, params = await self._user(call)
        creation_id = str(params.get("creation_id") or "")
        if not creation_id:
            raise self.graph_error("(#100) The parameter creation_id is required.", 100)
        with self.state.lock:  # the quota check and the record are one step
            container = self.container(creation_id, account)
            if container is None or container.is_carousel_item:
                raise self.graph_error(
                    f"The media with id {creation_id} cannot be found.", 24, subcode=2207006
                )
            self._check_publishable(container)
            start, limit = self.window_start(account, "publish", PUBLISH_LIMIT)
            if self.quota_usage(account, "publish", start) >= limit:
                raise self.graph_error(
                    "(#9) Application request limit reached",
                    9,
                    subcode=2207042,
                    title="Maximum number of posts reached",
                    user_msg="You reached maximum number of posts that is allowed to be "
                    "published by Content Publishing API.",
                )
            media = self.attached_media(container.children or (container.id,))
            post = self.state.record_post(
                AcceptedPost(
                    platform=self.name,
                    account_id=account.id,
                    handle=account.username,
                    text=container.text,
                    remote_id=self.graph_id(),
                    created_at=self.state.now(),
                    media=media,
                    extra={
                        "media_type": container.media_type,
                        "container_id": container.id,
                        "quota": "publish",
                        "media_urls": [m.filename for m in media],
                    },
                )
            )
            if container.children:
                self.state.update_media(self.name, container.id, attached_to=post.remote_id)
        return JSONResponse({"id": post.remote_id})

    def _check_publishable(self, container: Container) -> None:
        status = self.container_status(container)
        if status == "PUBLISHED":
            raise self.graph_error(
                f"The media with id {container.id} cannot be found.", 24, subcode=2207006
            )
        if status == "EXPIRED":
            raise self.graph_error(
                "The media you are trying to access has expired. Please try to upload again.",
                -2,
                subcode=2207020,
            )
        if status == "IN_PROGRESS":
            raise self._not_ready()
        if status == "ERROR" and container.error:
            code, message = PROCESSING_ERRORS.get(container.error, (-1, "Media upload failed"))
            raise self.graph_error(message, code, subcode=int(container.error))
