"""From Dagster runs, a post with a photo and a post with a video reach every platform that
takes them, each as its prepared variant: oriented, within the limits, and without the
photo's GPS position or camera (read back from the bytes the sandbox received)."""

from __future__ import annotations

import io
from collections import Counter

import httpx
import pytest
from dagster import SensorResult, build_sensor_context
from PIL import Image
from sqlalchemy import func, select

from postiz_pipelines.cli.sandbox_accounts import connect_sandbox_accounts
from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import JobStatus, MediaVariant, Platform, PublishJob
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.sensors import due_posts_sensor
from postiz_pipelines.settings import Settings

# the ten platforms that take both a photo post and a video post (YouTube wants a video,
# Reddit takes no video, Pinterest and TikTok want longer clips: tested on their own)
ALL = sorted(
    p.value for p in Platform if p.value not in {"youtube", "tiktok", "pinterest", "reddit"}
)
KEEPS_BYTES = ("bluesky", "discord", "mastodon", "slack", "telegram")  # direct uploads


@pytest.fixture
def db_url(sqlite_url: str) -> str:  # media is what this test is about; SQLite is enough
    return sqlite_url


def _run_due(instance, resource) -> list[str]:  # type: ignore[no-untyped-def]
    with build_sensor_context(instance=instance, resources={"postiz": resource}) as ctx:
        result = due_posts_sensor(ctx)
    assert isinstance(result, SensorResult)
    platforms = []
    for rr in result.run_requests:
        run = publish_job.execute_in_process(
            partition_key=rr.partition_key, instance=instance, resources={"postiz": resource}
        )
        assert run.success
        platforms.append(rr.partition_key.keys_by_dimension["platform"])
    return sorted(platforms)


def test_a_photo_and_a_video_reach_every_platform_prepared(
    instance, sandbox, embedded_env, media_maker
):
    url, state = sandbox
    env = {**embedded_env, "POSTIZ_PUBLIC_URL": "https://posts.example"}
    app = AppContext.from_settings(Settings.from_env(env))
    now = utcnow()
    # stored landscape, displayed portrait (EXIF 6); a camera's GPS position and model
    photo = media_maker.image(1600, 1400, noise=True, quality=95, orientation=6, gps=True)
    clip = media_maker.video(fmt="avi", vcodec="mpeg4", acodec="mp3", seconds=3.5, fps=24)
    storage = LocalStorage(app.media_root)
    with app.db.session() as s:
        ws = create_workspace(s, slug="media", timezone="UTC", now=now)
        accounts = connect_sandbox_accounts(
            s, app.keyring, workspace=ws, sandbox_url=url, now=now, platforms=ALL
        )
        assets = []
        for data, name in ((photo, "IMG_2041.jpg"), (clip, "holiday.avi")):
            staged = storage.stage()
            staged.write(data)
            asset, _ = ingest(s, storage, staged, workspace_id=ws.id, filename=name, now=now)
            assets.append(asset)
        image, video = assets
        for text, asset in (("Photo day ☀️", image), ("Video day 🎬", video)):
            create_post(
                s,
                workspace=ws,
                text=text,
                media_ids=[asset.id],
                account_ids=[a.id for a in accounts],
                scheduled_at=None,
                now=now,
                media_root=app.media_root,
            )
        # a second photo post to Bluesky: its variant is made once, for both posts
        create_post(
            s,
            workspace=ws,
            text="Same photo again",
            media_ids=[image.id],
            account_ids=[a.id for a in accounts if a.platform == "bluesky"],
            scheduled_at=None,
            now=now,
            media_root=app.media_root,
        )
        image_id, video_id = image.id, video.id
    resource = PostizResource(
        database_url=env["POSTIZ_DATABASE_URL"],
        data_dir=env["POSTIZ_DATA_DIR"],
        sandbox_url=url,
        settings_overrides={"POSTIZ_PUBLIC_URL": "https://posts.example"},
    )
    assert _run_due(instance, resource) == ALL

    with app.db.read() as s:
        statuses = Counter(s.scalars(select(PublishJob.status)))
        failures = [(j.platform, j.last_error) for j in s.scalars(select(PublishJob))]
        per_asset = dict(
            s.execute(
                select(MediaVariant.asset_id, func.count()).group_by(MediaVariant.asset_id)
            ).all()
        )
        variants = {(v.asset_id, v.platform): v for v in s.scalars(select(MediaVariant))}
    assert statuses == {JobStatus.COMPLETED: 21}, failures
    assert per_asset == {image_id: 10, video_id: 10}  # one per platform, the repeat reused
    for platform in ALL:
        texts = sorted(p.text for p in state.accepted(platform))
        expected = ["Photo day ☀️", "Video day 🎬"] + (
            ["Same photo again"] * (platform == "bluesky")
        )
        assert texts == sorted(expected), platform
        assert variants[(video_id, platform)].video_codec == "h264", platform
    for platform in KEEPS_BYTES:
        photo_post = next(p for p in state.accepted(platform) if p.text == "Photo day ☀️")
        sha = photo_post.media[0].sha256
        assert sha == variants[(image_id, platform)].sha256
        received = httpx.get(f"{url}/_sandbox/received/{sha}")
        assert received.status_code == 200, platform
        with Image.open(io.BytesIO(received.content)) as img:
            assert img.height > img.width, platform  # upright, as the camera meant
            assert not img.getexif(), platform  # no GPS, no make or model
        assert b"AcmeCam" not in received.content and b"Model 7 Pro" not in received.content
        clip_post = next(p for p in state.accepted(platform) if p.text == "Video day 🎬")
        got = httpx.get(f"{url}/_sandbox/received/{clip_post.media[0].sha256}").content
        assert got[4:8] == b"ftyp", platform  # an MP4, not the AVI
    twice = [p for p in state.accepted("bluesky") if "photo" in p.text.lower()]
    assert len({p.media[0].sha256 for p in twice}) == 1
    app.close()
