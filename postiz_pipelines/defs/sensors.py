"""Sensors: launch publish runs for due posts; recover jobs whose run died."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.publishing.dispatch import dispatch_due, run_key
from postiz_pipelines.core.publishing.recovery import recover_expired_leases
from postiz_pipelines.defs.partitions import WORKSPACES, partition_key
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.resources import PostizResource


@sensor(
    job=publish_job,
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="One publish run per (workspace, platform) with posts due within the look-ahead.",
)
def due_posts_sensor(
    context: SensorEvaluationContext, postiz: PostizResource
) -> SensorResult | SkipReason:
    now = utcnow()
    groups = dispatch_due(postiz.app(), now=now)
    if not groups:
        return SkipReason(f"no posts due by {now.isoformat(timespec='seconds')} + look-ahead")
    known = set(context.instance.get_dynamic_partitions(WORKSPACES))
    new = sorted({g.workspace_slug for g in groups} - known)
    if new:
        # Added before the run requests so that their partition keys are valid.
        context.instance.add_dynamic_partitions(WORKSPACES, new)
    requests = [
        RunRequest(
            run_key=run_key(g),
            partition_key=partition_key(g.workspace_slug, g.platform),
            tags={
                "postiz/platform": g.platform,
                "postiz/workspace": g.workspace_slug,
                "postiz/jobs": str(len(g.job_ids)),
            },
        )
        for g in groups
    ]
    return SensorResult(run_requests=requests, cursor=now.isoformat())


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Return jobs whose lease expired (their run died) to the queue, or fail them "
    "as uncertain_outcome where the platform cannot tell whether they were published.",
)
def lease_recovery_sensor(context: SensorEvaluationContext, postiz: PostizResource) -> SkipReason:
    report = recover_expired_leases(postiz.app().db, now=utcnow())
    return SkipReason(f"recovered: {report.as_dict()}")
