"""``publish_job``: one run per (workspace, platform) partition and window.

A run launched by ``due_posts_sensor`` carries its window in its tags (``postiz/window``,
``postiz/window_end``) and serves it: it claims and publishes the partition's jobs as they
fall due, each at its second, until the window and its grace are over. While its partition
is busy it carries on into the next windows (``core/publishing/carry.py``), moving
``postiz/window_end`` forward, so a busy partition is served by one process for up to
``POSTIZ_RUN_MAX_WINDOWS`` windows. A run launched by
hand (no window tags) publishes what is due now, once.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from collections.abc import Mapping

from dagster import OpExecutionContext, Out, RunsFilter, in_process_executor, job, op

from postiz_pipelines.core.publishing.carry import Ask
from postiz_pipelines.core.publishing.dispatch import run_owner
from postiz_pipelines.core.publishing.partition_run import serve_window
from postiz_pipelines.core.publishing.windows import KEY_FORMAT, Window
from postiz_pipelines.defs.partitions import publish_partitions
from postiz_pipelines.defs.resources import PostizResource

WINDOW_TAG = "postiz/window"
WINDOW_END_TAG = "postiz/window_end"
MAX_RUNTIME_TAG = "dagster/max_runtime"


def run_window(tags: Mapping[str, str]) -> Window | None:
    """The window a run serves, from its tags; None for a run launched by hand."""
    if WINDOW_TAG not in tags or WINDOW_END_TAG not in tags:
        return None
    return Window.from_keys(tags[WINDOW_TAG], tags[WINDOW_END_TAG])


def _partition(context: OpExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    return keys["workspace"], keys["platform"]


def carry_on(context: OpExecutionContext, workspace: str, platform: str) -> Ask:
    """The run's answer to "may I serve the next window too?" (``core/publishing/carry.py``):
    yes when the instance has no run for that window yet; the run's tags then say it serves
    it (its window end, and a longer ``dagster/max_runtime``), which the sensor reads."""
    instance = context.instance
    budget = {"seconds": int(context.run.tags.get(MAX_RUNTIME_TAG, "0") or 0)}

    def ask(following: Window) -> bool:
        others = instance.get_run_records(
            RunsFilter(
                job_name=context.job_name,
                tags={
                    "postiz/workspace": workspace,
                    "postiz/platform": platform,
                    WINDOW_TAG: following.key,
                },
            ),
            limit=1,
        )
        if others:
            return False
        tags = {WINDOW_END_TAG: following.end.strftime(KEY_FORMAT)}
        if budget["seconds"]:
            budget["seconds"] += int((following.end - following.start).total_seconds())
            tags[MAX_RUNTIME_TAG] = str(budget["seconds"])
        instance.add_run_tags(context.run_id, tags)
        context.log.info(f"{workspace}/{platform}: carrying on into window {following.key}")
        return True

    return ask


@op(out=Out(dict))
def publish_posts(context: OpExecutionContext, postiz: PostizResource) -> dict:
    """Claim and publish the partition's jobs as they fall due through the run's window (and
    the next ones while the partition is busy)."""
    workspace, platform = _partition(context)
    window = run_window(context.run.tags)
    summary = serve_window(
        postiz.app(),
        workspace_slug=workspace,
        platform=platform,
        window=window,
        owner=run_owner(context.run_id),
        clock=postiz.clock(),
        carry_on=carry_on(context, workspace, platform) if window is not None else None,
    )
    context.add_output_metadata(summary)
    context.log.info(f"{workspace}/{platform} window {window and window.key}: {summary}")
    return summary


@job(
    partitions_def=publish_partitions,
    executor_def=in_process_executor,
    tags={"postiz/kind": "publish"},
    description="Publish the posts of one workspace on one platform through one window.",
)
def publish_job() -> None:
    publish_posts()
