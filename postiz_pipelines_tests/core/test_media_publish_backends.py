"""From each storage backend, the engine publishes prepared variants: a photo's bytes reach
the platforms without its GPS position, and platforms that fetch media by URL get the
backend's signed URL (S3 presigned, Supabase signed) or the API's HMAC link (local)."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from postiz_pipelines.cli.sandbox_accounts import connect_sandbox_accounts
from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.backends import open_storage
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.settings import Settings

PLATFORMS = ["bluesky", "instagram", "mastodon"]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def test_each_backend_delivers_variants_without_location(env, backend, supabase_url, media_maker):
    url = supabase_url  # the TCP sandbox: the platforms, and Supabase Storage
    settings = Settings.from_env(
        {
            **env,
            **backend.env,
            "POSTIZ_SANDBOX_URL": url,
            "POSTIZ_PUBLIC_URL": "https://posts.example",
        }
    )
    app = AppContext.from_settings(settings)
    storage = open_storage(settings, app.media_root)
    now = utcnow()
    photo = media_maker.image(1200, 1000, noise=True, gps=True, orientation=6)
    with app.db.session() as s:
        ws = create_workspace(s, slug=f"store-{backend.name}", timezone="Pacific/Chatham", now=now)
        accounts = connect_sandbox_accounts(
            s, app.keyring, workspace=ws, sandbox_url=url, now=now, platforms=PLATFORMS,
            handle=f"h{backend.name}",
        )  # fmt: skip
        staged = storage.stage()
        staged.write(photo)
        asset, _ = ingest(s, storage, staged, workspace_id=ws.id, filename="pic.jpg", now=now)
        text = f"Kia ora from {backend.name} 🌏"
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
    report = publish_due(app, owner=f"test-{backend.name}")
    assert report.count("completed") == 3, report.as_dict()
    assert backend.keys() and any(k.startswith("variants/") for k in backend.keys())
    for platform in ("bluesky", "mastodon"):
        posts = httpx.get(f"{url}/_sandbox/{platform}/posts").json()["posts"]
        mine = next(p for p in posts if p["text"] == text)
        got = httpx.get(f"{url}/_sandbox/received/{mine['media'][0]['sha256']}")
        assert got.status_code == 200
        with Image.open(io.BytesIO(got.content)) as img:
            assert not img.getexif() and img.height > img.width
        assert b"AcmeCam" not in got.content
    insta = next(
        p for p in httpx.get(f"{url}/_sandbox/instagram/posts").json()["posts"] if p["text"] == text
    )
    link = insta["extra"]["media_urls"][0]
    if backend.name == "s3":
        assert "X-Amz-Signature=" in link and "/variants/" in link
    elif backend.name == "supabase":
        assert "/storage/v1/object/sign/" in link and "token=" in link
    else:
        assert link.startswith("https://posts.example/api/postiz/media/mvar_")
    if backend.name != "local":  # the platform fetches the JPEG variant through the link
        fetched = httpx.get(link)
        assert fetched.status_code == 200
        with Image.open(io.BytesIO(fetched.content)) as img:
            assert img.format == "JPEG" and not img.getexif()
    app.close()
