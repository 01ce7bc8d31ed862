"""TikTok's video query: ``POST /v2/video/query/?fields=...`` with
``{"filters": {"video_ids": [...]}}`` (1 to 20 ids) answers ``data.videos`` of the caller's
own videos, each with the requested fields only (``like_count``, ``comment_count``,
``share_count``, ``view_count`` from the post's engagement, growing with the sandbox clock;
``id``, ``title``, ``create_time``). An id that is not one of the caller's videos (deleted,
never made, a ``publish_id``) is left out. Limited to 600 calls a minute per user (429
``rate_limit_exceeded``); an unknown field is 400 ``invalid_params``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import Response

from postiz_pipelines.sandbox.base import Call, endpoint
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState

if TYPE_CHECKING:
    from postiz_pipelines.sandbox.base import HttpError

FIELDS = frozenset(
    {"id", "title", "create_time", "like_count", "comment_count", "share_count", "view_count"}
)
COUNTS = {
    "like_count": "likes",
    "comment_count": "replies",
    "share_count": "reposts",
    "view_count": "views",
}
QUERY_MAX = 20


class VideoQueryEndpoints:
    """Mixed into the TikTok emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def answer(
            self, data: Any, code: str = "ok", message: str = "", *, status: int = 200
        ) -> Response: ...

        def fail(self, status: int, code: str, message: str) -> HttpError: ...

        def user(self, call: Call) -> SandboxAccount: ...

        def throttle(
            self, call: Call, bucket: str, account: SandboxAccount, limit: int
        ) -> None: ...

        async def body(self, call: Call) -> dict[str, Any]: ...

    @endpoint("POST", "/v2/video/query/")
    async def video_query(self, call: Call) -> Response:
        account = self.user(call)
        self.throttle(call, "query", account, 600)
        fields = [f for f in call.request.query_params.get("fields", "").split(",") if f]
        unknown = sorted(set(fields) - FIELDS)
        if not fields or unknown:
            raise self.fail(
                400, "invalid_params", f"fields: unknown or missing field(s) {unknown or ''}"
            )
        filters = (await self.body(call)).get("filters")
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= QUERY_MAX:
            raise self.fail(
                400, "invalid_params", f"filters.video_ids must hold 1 to {QUERY_MAX} ids"
            )
        videos = []
        for vid in (str(i) for i in ids):
            post = self.state.post(self.name, vid)
            counts = self.state.engagement(self.name, vid)
            if post is None or counts is None or post.account_id != account.id:
                continue
            full: dict[str, Any] = {
                "id": vid,
                "title": post.text,
                "create_time": int(post.created_at.timestamp()),
                **{f: counts[m] for f, m in COUNTS.items()},
            }
            videos.append({f: full[f] for f in fields})
        return self.answer({"videos": videos, "cursor": 0, "has_more": False})
