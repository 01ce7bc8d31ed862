"""Worker and batch endpoints, authenticated by their own keys rather than user tokens:
``POST /api/postiz/worker/process`` and ``GET /api/postiz/worker/stats`` (the batch
refresh, ``POST /api/postiz/oauth/refresh-batch``, is ``oauth_refresh.py``).
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from postiz_pipelines.api.deps import State, worker_key
from postiz_pipelines.api.jsonable import jsonable
from postiz_pipelines.api.schemas.worker import WorkerProcessIn
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.observability.stats import worker_stats
from postiz_pipelines.core.publishing.runner import publish_due

router = APIRouter(prefix="/api/postiz", tags=["worker"])
EXPANSION_MODULE = "postiz_pipelines.core.scheduling.expansion"


def run_scheduler(st: Any) -> dict[str, Any]:
    """Expand recurring and evergreen schedules into jobs, when that module is installed."""
    import importlib

    try:
        expansion = importlib.import_module(EXPANSION_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != EXPANSION_MODULE:
            raise
        return {"ran": False, "reason": f"{EXPANSION_MODULE} is not available in this build"}
    result = expansion.expand_schedules(st.app.db, now=st.now())
    return {"ran": True, "result": jsonable(result)}


@router.post(
    "/worker/process",
    dependencies=[Depends(worker_key)],
    summary="Process due jobs now (Authorization: Bearer POSTIZ_WORKER_API_KEY)",
)
def process(st: State, body: WorkerProcessIn | None = None) -> JSONResponse:
    body = body or WorkerProcessIn()
    started = st.now()
    scheduler = run_scheduler(st) if body.include_scheduler else None
    owner = f"api:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    report = publish_due(
        st.app,
        owner=owner,
        clock=st.clock,
        workspace_id=body.workspace_id,
        platform=body.platform,
        limit=body.max_jobs,
        transport=st.transport,
    )
    summary: dict[str, Any] = report.as_dict()
    with st.app.db.session() as s:
        audit(
            s,
            actor="worker-api",
            action="worker.process",
            object_type="worker",
            object_id=None,
            now=st.now(),
            **summary,
        )
    return JSONResponse(
        {
            "timestamp": started.isoformat(),
            "processed": summary,
            "jobs": [
                {
                    "jobId": o.job_id,
                    "status": o.status,
                    "platform": o.platform,
                    "errorClass": o.error_class,
                    "error": o.error,
                    "remoteId": o.remote_id,
                }
                for o in report.outcomes
            ],
            "scheduler": scheduler,
        }
    )


@router.get(
    "/worker/stats",
    dependencies=[Depends(worker_key)],
    summary="Queue, 24 h activity and per-workspace figures (Bearer POSTIZ_WORKER_API_KEY)",
)
def stats(st: State) -> JSONResponse:
    with st.app.db.read() as s:
        return JSONResponse(worker_stats(s, now=st.now()))
