"""``GET /metrics``: the Prometheus exposition of ``core/observability/metrics.py``.

Unauthenticated, as Prometheus scrapes usually are: it carries only aggregate figures by
platform and state (no workspace, account or post ids, never a secret). Keep it on the
internal network, or behind the reverse proxy's auth, like any metrics port.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from postiz_pipelines.core.observability.metrics import Metrics

router = APIRouter(tags=["operations"])


def metrics_of(request: Request) -> Metrics:
    """The app's one ``Metrics`` (registry and process counters), made on first use."""
    found = getattr(request.app.state, "metrics", None)
    if found is None:
        api = request.app.state.api
        found = Metrics(api.app.db, api.clock)
        request.app.state.metrics = found
    return found


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics (text exposition format)",
)
def metrics(request: Request) -> Response:
    body, content_type = metrics_of(request).render()
    return Response(content=body, media_type=content_type)
