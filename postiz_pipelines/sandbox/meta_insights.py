"""The Graph insights edge of a published Facebook post, Instagram media or Threads post:
``GET /{version}/{id}/insights?metric=a,b`` answers ``{"data": [{"name", "period",
"values": [{"value"}], "id"}]}`` from the post's engagement (``sandbox/engagement.py``).
An unknown metric is Graph error 100; an id the platform does not have is the usual
"Unsupported get request"."""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, endpoint


class InsightsEndpoints:
    """Mixed into a ``MetaGraphSandbox``; ``insight_metrics`` maps each Graph metric name to
    the engagement count it reports (a dict of reactions for ``post_reactions_by_type_total``)."""

    insight_metrics: ClassVar[dict[str, str]] = {}

    @endpoint("GET", "/{version}/{node_id}/insights")
    async def insights(self, call: Call) -> Response:
        self.check_version(call)  # type: ignore[attr-defined]
        params = await self.params(call)  # type: ignore[attr-defined]
        account = self.authenticate(call, params)  # type: ignore[attr-defined]
        node_id = call.request.path_params["node_id"]
        post = self.state.post(self.name, node_id)  # type: ignore[attr-defined]
        counts = self.state.engagement(self.name, node_id)  # type: ignore[attr-defined]
        if post is None or counts is None or post.account_id != account.id:
            raise self.unsupported("get", node_id)  # type: ignore[attr-defined]
        wanted = [m for m in str(params.get("metric", "")).split(",") if m]
        unknown = [m for m in wanted if m not in self.insight_metrics]
        if not wanted or unknown:
            raise self.graph_error(  # type: ignore[attr-defined]
                f"(#100) metric[0] must be one of the following values: "
                f"{', '.join(self.insight_metrics)}",
                100,
            )
        data = []
        for name in wanted:
            source = self.insight_metrics[name]
            value: Any = counts.get(source, 0)  # quotes: none in the sandbox
            if name == "post_reactions_by_type_total":
                value = {"like": counts["likes"]}
            data.append(
                {
                    "name": name,
                    "period": "lifetime",
                    "values": [{"value": value}],
                    "id": f"{node_id}/insights/{name}/lifetime",
                }
            )
        return JSONResponse({"data": data})
