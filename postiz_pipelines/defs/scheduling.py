"""Expanding recurring and evergreen schedules into jobs (every 5 minutes: schedules.py)."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from datetime import timedelta

from dagster import OpExecutionContext, job, op

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.scheduling.expansion import expand_schedules
from postiz_pipelines.defs.resources import PostizResource


@op
def expand_due_schedules(context: OpExecutionContext, postiz: PostizResource) -> dict:
    """Turn the next 24 h of every active recurring and evergreen schedule into jobs."""
    app = postiz.app()
    report = expand_schedules(
        app.db, now=utcnow(), horizon=timedelta(hours=24), max_attempts=app.settings.max_retries + 1
    )
    summary = report.as_dict()
    context.add_output_metadata({k: v for k, v in summary.items() if isinstance(v, int)})
    return summary


@job(
    description="Expand recurring and evergreen schedules into publish jobs (idempotent).",
    tags={"postiz/kind": "expand"},
)
def expand_schedules_job() -> None:
    expand_due_schedules()


# its schedule is in schedules.py
