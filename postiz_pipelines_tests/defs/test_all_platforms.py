"""From Dagster runs, one post with an image reaches all ten platforms through the sandbox."""

from __future__ import annotations

import io
from collections import Counter

from dagster import SensorResult, build_sensor_context
from PIL import Image
from sqlalchemy import select

from postiz_pipelines.cli.sandbox_accounts import connect_sandbox_accounts
from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import JobStatus, Platform, PublishJob
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.sensors import due_posts_sensor
from postiz_pipelines.settings import Settings

ALL = sorted(p.value for p in Platform)


def test_one_post_to_all_ten_platforms(instance, sandbox, embedded_env):
    url, state = sandbox
    env = {**embedded_env, "POSTIZ_PUBLIC_URL": "https://posts.example"}
    app = AppContext.from_settings(Settings.from_env(env))
    now = utcnow()
    jpeg = io.BytesIO()
    Image.new("RGB", (1080, 1080), (200, 80, 40)).save(jpeg, "JPEG")
    storage = LocalStorage(app.media_root)
    with app.db.session() as s:
        ws = create_workspace(s, slug="acme", timezone="UTC", now=now)
        accounts = connect_sandbox_accounts(s, app.keyring, workspace=ws, sandbox_url=url, now=now)
        staged = storage.stage()
        staged.write(jpeg.getvalue())
        asset, _ = ingest(s, storage, staged, workspace_id=ws.id, filename="launch.jpg", now=now)
        create_post(
            s,
            workspace=ws,
            text="Launch day! https://example.org/launch",
            media_ids=[asset.id],
            account_ids=[a.id for a in accounts],
            scheduled_at=None,
            now=now,
            media_root=app.media_root,
        )
        create_post(
            s,
            workspace=ws,
            text="Text only, everywhere that takes text",
            account_ids=[a.id for a in accounts if a.platform != "instagram"],
            scheduled_at=None,
            now=now,
        )
    assert sorted(a.platform for a in accounts) == ALL

    resource = PostizResource(
        database_url=env["POSTIZ_DATABASE_URL"],
        data_dir=env["POSTIZ_DATA_DIR"],
        sandbox_url=url,
        settings_overrides={"POSTIZ_PUBLIC_URL": "https://posts.example"},
    )
    with build_sensor_context(instance=instance, resources={"postiz": resource}) as ctx:
        result = due_posts_sensor(ctx)
    assert isinstance(result, SensorResult)
    assert (
        sorted(rr.partition_key.keys_by_dimension["platform"] for rr in result.run_requests) == ALL
    )
    for rr in result.run_requests:
        run = publish_job.execute_in_process(
            partition_key=rr.partition_key, instance=instance, resources={"postiz": resource}
        )
        assert run.success

    landed = {p: len(state.accepted(p)) for p in ALL}
    assert landed == {p: 1 if p == "instagram" else 2 for p in ALL}
    with_media = {
        p: [len(x.media) for x in state.accepted(p) if x.text.startswith("Launch")] for p in ALL
    }
    assert all(counts and counts[0] >= 1 for counts in with_media.values()), with_media
    with app.db.read() as s:
        statuses = Counter(s.scalars(select(PublishJob.status)))
    assert statuses == {JobStatus.COMPLETED: 19}
    app.close()
