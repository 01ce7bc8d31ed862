"""Reddit's ``GET /api/info?id=t3_a,t3_b`` (at most 100 fullnames): a ``Listing`` of the
posts asked for, each with its score, ``ups``, ``upvote_ratio``, ``num_comments`` and
``num_crossposts`` from the post's engagement (growing with the sandbox clock: likes are
the score, replies the comments, reposts the crossposts, and one vote in ten is a down
vote). A post its author deleted keeps its place with ``[deleted]`` as author and text and
``removed_by_category: "deleted"``, as Reddit shows it; an id Reddit never had is left out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.reddit_world import thing
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState

INFO_MAX = 100


def votes(counts: dict[str, int]) -> dict[str, Any]:
    """Score, ups and ratio of a post whose engagement is ``counts``."""
    score = counts["likes"]
    downs = score // 10
    ups = score + downs
    ratio = round(ups / (ups + downs), 2) if ups else 1.0
    return {
        "score": score,
        "ups": ups,
        "downs": 0,  # Reddit no longer reveals down votes
        "upvote_ratio": ratio,
        "num_comments": counts["replies"],
        "num_crossposts": counts["reposts"],
        "view_count": None,
    }


class InfoEndpoints:
    """Mixed into the Reddit emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def user(self, call: Call) -> SandboxAccount: ...

    @endpoint("GET", "/api/info")
    async def info(self, call: Call) -> Response:
        self.user(call)
        names = [n for n in call.request.query_params.get("id", "").split(",") if n]
        if len(names) > INFO_MAX:
            raise HttpError(
                JSONResponse(
                    {"message": f"too many ids (at most {INFO_MAX})", "error": 400},
                    status_code=400,
                )
            )
        children = []
        for name in names:
            post = self.state.post(self.name, name)
            counts = self.state.engagement(self.name, name)
            if post is not None and counts is not None:
                children.append({"kind": "t3", "data": {**thing(post), **votes(counts)}})
            elif (gone := self.state.deleted(self.name, name)) is not None:
                data = {**thing(gone), **votes(dict.fromkeys(("likes", "replies", "reposts"), 0))}
                data.update(author="[deleted]", selftext="[deleted]", removed_by_category="deleted")
                children.append({"kind": "t3", "data": data})
        return JSONResponse(
            {"kind": "Listing", "data": {"children": children, "after": None, "before": None}}
        )
