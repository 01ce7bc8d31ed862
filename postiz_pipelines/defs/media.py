"""``media_variants_job``: prepare a workspace's media for every platform it posts to.

A backfill, launched by hand (or after limits change): later posts find their variants
made. The op is a one-line adapter over ``core.publishing.media_prep``.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from dagster import Config, OpExecutionContext, job, op

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.media.delivery import media_delivery
from postiz_pipelines.core.publishing.media_prep import prepare_workspace_media
from postiz_pipelines.core.workspaces.store import get_workspace
from postiz_pipelines.defs.resources import PostizResource


class BackfillConfig(Config):
    workspace: str  # slug or id


@op
def prepare_workspace_variants(
    context: OpExecutionContext, postiz: PostizResource, config: BackfillConfig
) -> dict:
    """Make every missing variant of the workspace's media; report made, reused, failed."""
    app = postiz.app()
    with app.db.read() as s:
        workspace_id = get_workspace(s, config.workspace).id
    report = prepare_workspace_media(media_delivery(app), workspace_id, now=utcnow())
    context.add_output_metadata(report.as_dict())
    for failure in report.failed:
        context.log.warning(failure)
    return report.as_dict()


@job(
    description="Prepare (backfill) the media variants of one workspace for its platforms.",
    tags={"postiz/kind": "media"},
)
def media_variants_job() -> None:
    prepare_workspace_variants()
