"""``media_variants_job`` backfills a workspace's variants; a second run makes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from postiz_pipelines.cli.sandbox_accounts import connect_sandbox_accounts
from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import MediaVariant
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.defs.definitions import defs
from postiz_pipelines.defs.media import media_variants_job
from postiz_pipelines.settings import Settings

PLATFORMS = ["bluesky", "instagram", "x"]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def test_backfill_makes_each_variant_once(instance, resource, embedded_env, media_maker, sandbox):
    app = AppContext.from_settings(Settings.from_env(embedded_env))
    now = utcnow()
    storage = LocalStorage(app.media_root)
    with app.db.session() as s:
        ws = create_workspace(s, slug="brand-2", timezone="Asia/Kolkata", now=now)
        connect_sandbox_accounts(
            s, app.keyring, workspace=ws, sandbox_url=sandbox[0], now=now,
            platforms=PLATFORMS,
        )  # fmt: skip
        for data, name in (
            (media_maker.image(2200, 1600, noise=True, quality=95), "big.jpg"),
            (media_maker.image(900, 900, "PNG"), "square.png"),
        ):
            staged = storage.stage()
            staged.write(data)
            ingest(s, storage, staged, workspace_id=ws.id, filename=name, now=now)
    assert defs.get_job_def("media_variants_job") is not None
    config = {"ops": {"prepare_workspace_variants": {"config": {"workspace": "brand-2"}}}}
    first = media_variants_job.execute_in_process(
        run_config=config, instance=instance, resources={"postiz": resource}
    )
    assert first.success
    assert first.output_for_node("prepare_workspace_variants") == {
        "made": 6,
        "reused": 0,
        "failed": 0,
    }
    again = media_variants_job.execute_in_process(
        run_config=config, instance=instance, resources={"postiz": resource}
    )
    assert again.output_for_node("prepare_workspace_variants")["reused"] == 6
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(MediaVariant)) == 6
        jpegs = {v.platform: v.mime_type for v in s.scalars(select(MediaVariant))}
    assert jpegs["instagram"] == "image/jpeg"
    app.close()
