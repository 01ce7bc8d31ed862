"""Pinterest's pin analytics: ``GET /v5/pins/{pin_id}/analytics?start_date=&end_date=
&metric_types=IMPRESSION,SAVE,PIN_CLICK,OUTBOUND_CLICK`` answers ``{"all":
{"summary_metrics": {...}}}`` with the requested metrics over the date range (UTC days).

The counts are the pin's engagement (growing with the sandbox clock) as of the range's end:
views are impressions, reposts saves, likes pin clicks and replies outbound clicks; a range
that ends before the pin was made counts nothing. ``start_date`` may be at most 90 days
back, ``end_date`` not before it nor more than 90 days after it, both ``YYYY-MM-DD``: else
400 code 1 naming the parameter. A pin that is not the caller's (deleted, never made) is 404
code 50 "Pin not found."."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, endpoint
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState

if TYPE_CHECKING:
    from postiz_pipelines.sandbox.base import HttpError

METRICS = {
    "IMPRESSION": "views",
    "SAVE": "reposts",
    "PIN_CLICK": "likes",
    "OUTBOUND_CLICK": "replies",
}
WINDOW_DAYS = 90


class PinAnalyticsEndpoints:
    """Mixed into the Pinterest emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(self, status: int, code: int, message: str) -> HttpError: ...

        def user(self, call: Call) -> SandboxAccount: ...

    def _day(self, call: Call, name: str) -> date:
        try:
            return date.fromisoformat(call.request.query_params.get(name, ""))
        except ValueError:
            raise self.fail(400, 1, f"Invalid parameters: {name} must be YYYY-MM-DD") from None

    @endpoint("GET", "/v5/pins/{pin_id}/analytics")
    async def pin_analytics(self, call: Call) -> Response:
        account = self.user(call)
        q = call.request.query_params
        start, end = self._day(call, "start_date"), self._day(call, "end_date")
        today = self.state.now().date()
        if start < today - timedelta(days=WINDOW_DAYS):
            raise self.fail(
                400, 1, f"Invalid parameters: start_date is more than {WINDOW_DAYS} days ago"
            )
        if end < start or end - start > timedelta(days=WINDOW_DAYS):
            raise self.fail(
                400,
                1,
                f"Invalid parameters: end_date must be 0 to {WINDOW_DAYS} days after start_date",
            )
        asked = [m for m in q.get("metric_types", "").split(",") if m]
        if not asked or set(asked) - set(METRICS):
            raise self.fail(
                400, 1, f"Invalid parameters: metric_types must be among {', '.join(METRICS)}"
            )
        pin_id = call.request.path_params["pin_id"]
        post = self.state.post(self.name, pin_id)
        if post is None or post.account_id != account.id:
            raise self.fail(404, 50, "Pin not found.")
        until = datetime.combine(end + timedelta(days=1), time(), tzinfo=post.created_at.tzinfo)
        counts = self.state.engagement_at(self.name, pin_id, until) or {}
        if until <= post.created_at:
            counts = {}
        summary = {m: counts.get(METRICS[m], 0) for m in asked}
        return JSONResponse({"all": {"summary_metrics": summary}})
