"""LinkedIn's social actions of a post: ``GET /rest/socialActions/{urn}`` (URL-encoded URN)
answers ``likesSummary`` and ``commentsSummary`` from the post's engagement
(``sandbox/engagement.py``); a post LinkedIn does not have is 404."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import unquote

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, endpoint
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState

if TYPE_CHECKING:
    from postiz_pipelines.sandbox.base import HttpError


class SocialActionsEndpoints:
    """Mixed into the LinkedIn emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(
            self,
            status: int,
            message: str,
            *,
            code: str | None = None,
            service: int | None = None,
        ) -> HttpError: ...

        def _member(self, call: Call) -> SandboxAccount: ...

        def _versioned(self, call: Call, *, restli: bool = False) -> None: ...

    @endpoint("GET", "/rest/socialActions/{urn}")
    async def social_actions(self, call: Call) -> Response:
        self._member(call)
        self._versioned(call, restli=True)
        urn = unquote(call.request.path_params["urn"])
        counts = self.state.engagement(self.name, urn)
        if counts is None:
            raise self.fail(404, f"Not Found: {urn}", code="NOT_FOUND")
        return JSONResponse(
            {
                "target": urn,
                "likesSummary": {
                    "totalLikes": counts["likes"],
                    "likedByCurrentUser": False,
                    "aggregatedTotalLikes": counts["likes"],
                },
                "commentsSummary": {
                    "totalFirstLevelComments": counts["replies"],
                    "aggregatedTotalComments": counts["replies"],
                },
            }
        )
