"""``POST /api/postiz/oauth/refresh-batch``: the hourly token refresh on demand, authenticated
by ``POSTIZ_BATCH_API_KEY`` like the worker endpoints. Each account's refresh writes
``token_refreshed`` or ``token_refresh_failed``; the answer counts them, per account."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from postiz_pipelines.api.deps import State, batch_key
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.publishing.token_refresh import refresh_batch as refresh_batch_

router = APIRouter(prefix="/api/postiz", tags=["worker"])


@router.post(
    "/oauth/refresh-batch",
    dependencies=[Depends(batch_key)],
    summary="Refresh every token expiring within 24 h (Bearer POSTIZ_BATCH_API_KEY)",
)
def refresh_batch(st: State) -> JSONResponse:
    now = st.now()
    report = refresh_batch_(st.app, now=now, transport=st.transport)
    out = report.as_dict()
    with st.app.db.session() as s:
        audit(
            s,
            actor="batch-api",
            action="tokens.refresh_batch",
            object_type="worker",
            object_id=None,
            now=now,
            checked=out["checked"],
            refreshed=out["refreshed"],
            failed=out["failed"],
        )
    return JSONResponse({"timestamp": now.isoformat(), **out})
