"""From Dagster runs, posts reach all fourteen platforms through the sandbox: an image post
wherever images go (a pin on Pinterest, an image post on Reddit), a video to YouTube and
TikTok, a text post wherever text alone goes, and a link post to Reddit."""

from __future__ import annotations

import io
from collections import Counter
from urllib.parse import urlsplit

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
from postiz_pipelines.sandbox.tiktok_world import tiktok_world
from postiz_pipelines.settings import Settings

ALL = sorted(p.value for p in Platform)
VIDEO_ONLY = {"youtube", "tiktok"}
NEEDS_MEDIA = {"instagram", "pinterest"} | VIDEO_ONLY


def test_posts_reach_all_fourteen_platforms(instance, sandbox, embedded_env, tiny_video):
    url, state = sandbox
    tiktok_world(state).processing_polls = 0  # TikTok's moderation is instant here
    env = {**embedded_env, "POSTIZ_PUBLIC_URL": "https://posts.example"}
    app = AppContext.from_settings(Settings.from_env(env))
    now = utcnow()
    jpeg = io.BytesIO()
    Image.new("RGB", (1080, 1080), (200, 80, 40)).save(jpeg, "JPEG")
    storage = LocalStorage(app.media_root)
    with app.db.session() as s:
        ws = create_workspace(s, slug="acme", timezone="UTC", now=now)
        accounts = connect_sandbox_accounts(s, app.keyring, workspace=ws, sandbox_url=url, now=now)
        ids = {a.platform: a.id for a in accounts}
        assets = []
        for name, data in (
            ("launch.jpg", jpeg.getvalue()),
            ("launch.mp4", tiny_video(seconds=4, width=360, height=640)),
        ):
            staged = storage.stage()
            staged.write(data)
            asset, _ = ingest(s, storage, staged, workspace_id=ws.id, filename=name, now=now)
            assets.append(asset.id)
        image, video = assets

        def post(text: str, platforms: set[str], media: list[str], **settings: str) -> None:
            create_post(
                s,
                workspace=ws,
                text=text,
                media_ids=media,
                account_ids=[ids[p] for p in sorted(platforms)],
                scheduled_at=None,
                now=now,
                media_root=app.media_root,
                settings=settings or None,
            )

        post("Launch day! https://example.org/launch", set(ALL) - VIDEO_ONLY, [image])
        post("Launch video 🎬\nThe whole story, in a minute.", VIDEO_ONLY, [video])
        post("Text only, everywhere that takes text", set(ALL) - NEEDS_MEDIA, [])
        post("Our launch post", {"reddit"}, [], url="https://example.org/launch", title="Launch")
    assert sorted(ids) == ALL and len(ALL) == 14

    resource = PostizResource(
        database_url=env["POSTIZ_DATABASE_URL"],
        data_dir=env["POSTIZ_DATA_DIR"],
        sandbox_url=url,
        settings_overrides={"POSTIZ_PUBLIC_URL": "https://posts.example"},
    )
    from postiz_pipelines.defs.sensors import due_posts_sensor

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
    expected = {p: 1 if p in NEEDS_MEDIA else 2 for p in ALL} | {"reddit": 3}
    assert landed == expected
    with_media = {
        p: [len(x.media) for x in state.accepted(p) if x.text.startswith("Launch")]
        for p in set(ALL) - {"pinterest", "reddit", "tiktok"}
    }
    assert all(counts and counts[0] >= 1 for counts in with_media.values()), with_media
    [pin] = state.accepted("pinterest")
    # with a public URL the pin's image goes by a signed link to our media, not inline
    assert (pin.extra["media_type"], pin.extra["source_type"]) == ("image", "image_url")
    link = urlsplit(pin.extra["image_url"])
    assert (link.scheme, link.hostname) == ("https", "posts.example")
    assert link.path.startswith("/api/postiz/media/") and link.path.endswith("/file.jpg")
    assert "signature=" in link.query and "expires=" in link.query
    # and the link serves the pin's image (what Pinterest downloads)
    from fastapi.testclient import TestClient

    from postiz_pipelines.api.app import create_app

    served = TestClient(create_app(app)).get(f"{link.path}?{link.query}")
    assert served.status_code == 200 and served.content.startswith(b"\xff\xd8\xff")
    [youtube] = state.accepted("youtube")
    assert (
        youtube.extra["title"] == "Launch video 🎬" and youtube.extra["privacyStatus"] == "private"
    )
    [tiktok] = state.accepted("tiktok")
    assert tiktok.extra["media_type"] == "VIDEO" and tiktok.extra["bytes"] > 0
    kinds = sorted(p.extra["kind"] for p in state.accepted("reddit"))
    assert kinds == ["image", "link", "self"]
    with app.db.read() as s:
        statuses = Counter(s.scalars(select(PublishJob.status)))
    assert statuses == {JobStatus.COMPLETED: 25}
    app.close()
