"""``/healthz`` (the process answers) and ``/readyz`` (the database answers, at the latest
schema)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from postiz_pipelines.api.deps import State
from postiz_pipelines.api.problems import problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness: database reachable and migrated")
def readyz(st: State) -> JSONResponse:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from postiz_pipelines.core.migrate import alembic_config

    try:
        with st.app.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        return problem_response(503, f"database unreachable ({type(exc).__name__})")
    head = ScriptDirectory.from_config(alembic_config(st.app.db.url)).get_current_head()
    if current != head:
        return problem_response(
            503, f"database schema is at {current}, expected {head}; run db upgrade"
        )
    return JSONResponse({"status": "ready", "schema": current})
