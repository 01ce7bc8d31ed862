"""The Threads emulator: posts and replies through media containers on graph.threads.net.

Mounted at ``/threads``: ``https://graph.threads.net/v1.0/{user}/threads`` becomes
``<sandbox>/threads/v1.0/{user}/threads``; the unversioned token endpoints stay at the
root (``<sandbox>/threads/refresh_access_token``).

    GET  /access_token                        grant_type=th_exchange_token (needs client_secret)
    GET  /refresh_access_token                grant_type=th_refresh_token
    GET  /{version}/{node}                    me, the user, a container (status,
                                              error_message), a published thread
    POST /{version}/{user}/threads            a container: media_type TEXT|IMAGE|VIDEO|CAROUSEL,
                                              text, image_url, video_url, is_carousel_item,
                                              children (2-20), reply_to_id
    POST /{version}/{user}/threads_publish    creation_id -> the thread's id
    GET  /{version}/{user}/threads            the user's threads (not replies), newest first,
                                              ``since``/``until`` (epoch seconds), paged
    GET  /{version}/{user}/threads_publishing_limit   quota_usage, reply_quota_usage, configs

Validation: text over 500 by Threads' rule (emoji count their UTF-8 bytes; 100), a TEXT
post without text, an image other than JPEG/PNG (36001/2207005) or a URL that cannot be fetched
(9004/2207052), a video that cannot be fetched or processed (the container ends in ERROR
with ``FAILED_DOWNLOADING_VIDEO`` / ``FAILED_PROCESSING_VIDEO``), and 250 posts plus 1,000
replies per UTC day (code 9). Threads documents no codes for an unready, expired or unknown
container; the emulator answers them as Instagram does (9007/2207027, -2/2207020, 24).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.counting import threads_counted
from postiz_pipelines.sandbox.meta_connect import ThreadsConnect
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

TEXT_LIMIT = 500
CAROUSEL_MIN, CAROUSEL_MAX = 2, 20
POST_LIMIT = 250
REPLY_LIMIT = 1000
MEDIA_TYPES = ("TEXT", "IMAGE", "VIDEO", "CAROUSEL")
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
LISTED_TYPES = {"TEXT": "TEXT_POST", "CAROUSEL": "CAROUSEL_ALBUM"}


class ThreadsSandbox(ThreadsConnect, InsightsEndpoints, MetaGraphSandbox):
    """See the module docstring."""

    graph_versions: ClassVar[tuple[str, ...]] = ("v1.0",)

    name: ClassVar[str] = "threads"
    insight_metrics: ClassVar[dict[str, str]] = {
        "views": "views",
        "likes": "likes",
        "replies": "replies",
        "reposts": "reposts",
        "quotes": "quotes",
    }
    usage_type: ClassVar[str] = "threads"
    throttle_code: ClassVar[int] = 4
    throttle_message: ClassVar[str] = "(#4) Application request limit reached"
    graph_id_base: ClassVar[int] = 18_000_000_000_000_000

    async def _user(self, call: Call) -> tuple[SandboxAccount, dict[str, Any]]:
        self.check_version(call)
        params = await self.params(call)
        account = self.authenticate(call, params)
        node_id = call.request.path_params["node_id"]
        if node_id not in (account.id, "me"):
            raise self.unsupported(call.request.method.lower(), node_id)
        return account, params

    # -- tokens --------------------------------------------------------------------------
    @endpoint("GET", "/refresh_access_token")
    async def refresh_access_token(self, call: Call) -> Response:
        return await self.refresh(call, "th_refresh_token", "THAA")

    @endpoint("GET", "/access_token")
    async def exchange_token(self, call: Call) -> Response:
        """A short-lived token for a long-lived one (``th_exchange_token``)."""
        if not call.request.query_params.get("client_secret"):
            raise self.graph_error("(#100) Missing client_secret parameter", 100)
        return await self.refresh(call, "th_exchange_token", "THAA")

    # -- reading -------------------------------------------------------------------------
    @endpoint("GET", "/{version}/{node_id}")
    async def node(self, call: Call) -> Response:
        self.check_version(call)
        params = await self.params(call)
        account = self.authenticate(call, params)
        node_id = call.request.path_params["node_id"]
        if node_id in ("me", account.id):
            user = {
                "id": account.id,
                "username": account.username,
                "name": account.display_name,
                "threads_profile_picture_url": f"{call.platform_url}/avatars/{account.id}.jpg",
                "threads_biography": "",
            }
            return JSONResponse(select_fields(user, params, "id"))
        container = self.container(node_id, account)
        if container is not None:
            body: dict[str, str | None] = {
                "id": container.id,
                "status": self.container_status(container, consume=True),
            }
            if body["status"] == "ERROR":
                body["error_message"] = container.error
            return JSONResponse(select_fields(body, params, "id,status"))
        post = self.state.post(self.name, node_id)
        if post is not None:
            return JSONResponse(select_fields(self._thread_json(call, post), params, "id"))
        raise self.unsupported("get", node_id)

    def _thread_json(self, call: Call, post: AcceptedPost) -> dict[str, Any]:
        kind = str(post.extra.get("media_type", "TEXT"))
        code = shortcode(post.remote_id)
        return {
            "id": post.remote_id,
            "media_product_type": "THREADS",
            "media_type": LISTED_TYPES.get(kind, kind),
            "text": post.text,
            "timestamp": graph_time(post.created_at),
            "permalink": f"{call.platform_url}/@{post.handle}/post/{code}",
            "shortcode": code,
            "username": post.handle,
            "is_quote_post": False,
            "is_reply": post.reply_to is not None,
        }

    @endpoint("GET", "/{version}/{node_id}/threads")
    async def list_threads(self, call: Call) -> Response:
        account, params = await self._user(call)
        since = self._instant(params.get("since"))
        until = self._instant(params.get("until"))
        items = [
            select_fields(self._thread_json(call, post), params, "id")
            for post in reversed(self.state.accepted(self.name))
            if post.account_id == account.id
            and post.reply_to is None
            and (since is None or post.created_at.timestamp() >= since)
            and (until is None or post.created_at.timestamp() <= until)
        ]
        return self.paged(call, items, params)

    def _instant(self, raw: Any) -> float | None:
        if raw in (None, ""):
            return None
        try:
            return float(raw)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(str(raw)).timestamp()
        except ValueError:
            raise self.graph_error(f"(#100) Invalid time: {raw}", 100) from None

    @endpoint("GET", "/{version}/{node_id}/threads_publishing_limit")
    async def publishing_limit(self, call: Call) -> Response:
        account, _ = await self._user(call)
        start, posts = self.window_start(account, "publish", POST_LIMIT)
        reply_start, replies = self.window_start(account, "reply", REPLY_LIMIT)
        return JSONResponse(
            {
                "data": [
                    {
                        "quota_usage": self.quota_usage(account, "publish", start),
                        "config": {"quota_total": posts, "quota_duration": 86_400},
                        "reply_quota_usage": self.quota_usage(account, "reply", reply_start),
                        "reply_config": {"quota_total": replies, "quota_duration": 86_400},
                    }
                ]
            }
        )

    # -- containers ----------------------------------------------------------------------
    @endpoint("POST", "/{version}/{node_id}/threads")
    async def create_container(self, call: Call) -> Response:
        account, params = await self._user(call)
        media_type = str(params.get("media_type") or "").upper()
        if media_type not in MEDIA_TYPES:
            raise self.graph_error(
                f"(#100) Param media_type must be one of {{{', '.join(MEDIA_TYPES)}}}", 100
            )
        text = str(params.get("text") or "")
        if threads_counted(text) > TEXT_LIMIT:
            raise self.graph_error(
                f"(#100) Param text must be at most {TEXT_LIMIT} characters long.", 100
            )
        is_item = truthy(params.get("is_carousel_item", False))
        reply_to = str(params.get("reply_to_id") or "") or None
        if reply_to is not None and self.state.post(self.name, reply_to) is None:
            raise self.graph_error(f"(#100) Param reply_to_id {reply_to} is not a thread", 100)
        container = Container(
            id=self.graph_id(),
            account_id=account.id,
            media_type=media_type,
            created_at=self.state.now(),
            text=text,
            is_carousel_item=is_item,
            reply_to=reply_to,
        )
        if media_type == "TEXT":
            if not text.strip():
                raise self.graph_error("(#100) Param text is required for a TEXT post", 100)
            return self._created(container, 0)
        if media_type == "CAROUSEL":
            children = self._children(account, params.get("children"))
            return self._created(replace(container, children=children), 0)
        if media_type == "IMAGE":
            url = str(params.get("image_url") or "")
            self._check_image(url)
            return self._created(replace(container, url=url), 0)
        url = str(params.get("video_url") or "")
        if not url:
            raise self.graph_error("(#100) Param video_url is required for a VIDEO post", 100)
        error = None
        if unreachable(url):
            error = "FAILED_DOWNLOADING_VIDEO"
        elif (url_mime_type(url) or "video/mp4") not in VIDEO_TYPES:
            error = "FAILED_PROCESSING_VIDEO"
        return self._created(replace(container, url=url, error=error), PROCESSING_POLLS)

    def _created(self, container: Container, polls: int) -> Response:
        self.put_container(container, pending_polls=polls)
        return JSONResponse({"id": container.id})

    def _check_image(self, url: str) -> None:
        if not url:
            raise self.graph_error("(#100) Param image_url is required for an IMAGE post", 100)
        if unreachable(url):
            raise self.graph_error(
                "The media could not be fetched from this URI.",
                9004,
                subcode=2207052,
                user_msg=f"The media could not be fetched from this uri: {url}",
            )
        mime = url_mime_type(url)
        if mime is not None and mime not in IMAGE_TYPES:
            raise self.graph_error(
                "The image format is not supported.",
                36001,
                subcode=2207005,
                user_msg=f"The image format {mime} is not supported; use JPEG or PNG.",
            )

    def _children(self, account: SandboxAccount, raw: Any) -> tuple[str, ...]:
        ids = raw if isinstance(raw, list) else str(raw or "").split(",")
        ids = [str(i).strip() for i in ids if str(i).strip()]
        if not CAROUSEL_MIN <= len(ids) <= CAROUSEL_MAX:
            raise self.graph_error(
                f"(#100) Param children must have {CAROUSEL_MIN} to {CAROUSEL_MAX} items", 100
            )
        for child_id in ids:
            child = self.container(child_id, account)
            if child is None or not child.is_carousel_item:
                raise self.graph_error(
                    f"(#100) Param children contains {child_id}, which is not a carousel item",
                    100,
                )
            if self.container_status(child) != "FINISHED":
                raise self._not_ready()
        return tuple(ids)

    def _not_ready(self) -> HttpError:
        return self.graph_error(
            "Media ID is not available",
            9007,
            subcode=2207027,
            user_msg="The media is not ready to be published. Please wait a moment.",
        )

    # -- publishing ----------------------------------------------------------------------
    @endpoint("POST", "/{version}/{node_id}/threads_publish", publish=True)
    async def publish(self, call: Call) -> Response:
        account, params = await self._user(call)
        creation_id = str(params.get("creation_id") or "")
        if not creation_id:
            raise self.graph_error("(#100) Param creation_id is required", 100)
        with self.state.lock:  # the quota check and the record are one step
            container = self.container(creation_id, account)
            if container is None or container.is_carousel_item:
                raise self.graph_error(f"The media with id {creation_id} cannot be found.", 24)
            self._check_publishable(container)
            bucket = "reply" if container.reply_to else "publish"
            start, limit = self.window_start(
                account, bucket, REPLY_LIMIT if container.reply_to else POST_LIMIT
            )
            if self.quota_usage(account, bucket, start) >= limit:
                kind = "replies" if container.reply_to else "posts"
                raise self.graph_error(
                    "(#9) Application request limit reached",
                    9,
                    user_msg=f"You reached the maximum number of {kind} allowed in 24 hours.",
                )
            media = (
                ()
                if container.media_type == "TEXT"
                else self.attached_media(container.children or (container.id,))
            )
            post = self.state.record_post(
                AcceptedPost(
                    platform=self.name,
                    account_id=account.id,
                    handle=account.username,
                    text=container.text,
                    remote_id=self.graph_id(),
                    created_at=self.state.now(),
                    media=media,
                    reply_to=container.reply_to,
                    extra={
                        "media_type": container.media_type,
                        "container_id": container.id,
                        "quota": bucket,
                        "media_urls": [m.filename for m in media],
                    },
                )
            )
            if container.media_type in ("TEXT", "CAROUSEL"):
                self.state.update_media(self.name, container.id, attached_to=post.remote_id)
        return JSONResponse({"id": post.remote_id})

    def _check_publishable(self, container: Container) -> None:
        status = self.container_status(container)
        if status == "PUBLISHED":
            raise self.graph_error(f"The media with id {container.id} cannot be found.", 24)
        if status == "EXPIRED":
            raise self.graph_error(
                "The media you are trying to access has expired. Please try to upload again.",
                -2,
                subcode=2207020,
            )
        if status == "IN_PROGRESS":
            raise self._not_ready()
        if status == "ERROR":
            code = 9004 if container.error == "FAILED_DOWNLOADING_VIDEO" else 352
            raise self.graph_error(f"The media failed processing: {container.error}", code)
