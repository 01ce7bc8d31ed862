"""``publish_job``: one run per (workspace, platform) partition: claim, prepare media, publish."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from dagster import (
    Backoff,
    In,
    OpExecutionContext,
    Out,
    RetryPolicy,
    in_process_executor,
    job,
    op,
)

from postiz_pipelines.clock import SystemClock
from postiz_pipelines.core.publishing.partition_run import (
    claim_partition,
    prepare_media,
    publish_partition,
)
from postiz_pipelines.defs.partitions import publish_partitions
from postiz_pipelines.defs.resources import PostizResource


def _partition(context: OpExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    return keys["workspace"], keys["platform"]


def _owner(context: OpExecutionContext) -> str:
    return f"dagster:{context.run_id}"


@op(out=Out(list), retry_policy=RetryPolicy(max_retries=2, delay=1, backoff=Backoff.EXPONENTIAL))
def claim_jobs(context: OpExecutionContext, postiz: PostizResource) -> list[str]:
    """Claim the partition's due jobs under this run's lease."""
    workspace, platform = _partition(context)
    ids = claim_partition(
        postiz.app(),
        workspace_slug=workspace,
        platform=platform,
        owner=_owner(context),
        clock=SystemClock(),
    )
    context.log.info(f"claimed {len(ids)} jobs for {workspace}/{platform}")
    return ids


@op(ins={"job_ids": In(list)}, out=Out(list))
def process_media(
    context: OpExecutionContext, postiz: PostizResource, job_ids: list[str]
) -> list[str]:
    """Make the claimed posts' media variants, so that publishing only uploads."""
    context.add_output_metadata(prepare_media(postiz.app(), job_ids, clock=SystemClock()).as_dict())
    return job_ids


@op(ins={"job_ids": In(list)}, out=Out(dict))
def publish_posts(context: OpExecutionContext, postiz: PostizResource, job_ids: list[str]) -> dict:
    """Publish the claimed jobs concurrently and record every outcome."""
    report = publish_partition(postiz.app(), job_ids, owner=_owner(context), clock=SystemClock())
    summary = report.as_dict()
    context.add_output_metadata(summary)
    context.log.info(f"publish results: {summary}")
    return summary


@job(
    partitions_def=publish_partitions,
    executor_def=in_process_executor,
    tags={"postiz/kind": "publish"},
    description="Publish the due posts of one workspace on one platform.",
)
def publish_job() -> None:
    publish_posts(process_media(claim_jobs()))
