"""Through HTTP: a file that no preparation can bring within a platform's limit fails the
post when it is created, naming the limit; a file preparation can fix is accepted; what a
platform fetches by URL is its variant, through the API's signed link."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from PIL import Image

from postiz_pipelines.api import create_app
from postiz_pipelines.core.accounts.store import add_account
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.delivery import media_delivery
from postiz_pipelines.core.media.variants import ensure_variant
from postiz_pipelines.core.models import MediaAsset, Workspace
from postiz_pipelines.providers import registry
from postiz_pipelines.settings import Settings

UPLOAD = "/api/postiz/media/upload"


def _account(app, world, platform: str) -> str:  # type: ignore[no-untyped-def]
    with app.db.session() as s:
        ws = s.get(Workspace, world.a)
        return add_account(
            s,
            app.keyring,
            workspace=ws,
            platform=platform,
            handle=f"{platform}-user",
            access_token=f"tok-{platform}",
            external_id="17841400000000001" if platform == "instagram" else "",
            now=s.get(Workspace, world.a).created_at,
        ).id


def _media(client, world, data: bytes, name: str) -> str:  # type: ignore[no-untyped-def]
    r = client.post(
        UPLOAD,
        headers=world.h(),
        files={"file": (name, data, "application/octet-stream")},
        data={"workspace_id": world.a},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _post(client, world, accounts, media_id, soon):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={
            "content": "Ausflug 🏔️",
            "workspaceId": world.a,
            "targetAccounts": accounts,
            "mediaIds": [media_id],
            "scheduledAt": soon(),
        },
    )


def test_a_portrait_stored_landscape_is_refused_for_instagram_at_creation(
    client, world, app, media_maker, soon
):
    insta = _account(app, world, "instagram")
    # 1600 x 1000 stored (1.6, which Instagram takes) but displayed 1000 x 1600 (0.625)
    media_id = _media(client, world, media_maker.image(1600, 1000, orientation=6), "p.jpg")
    r = _post(client, world, [insta], media_id, soon)
    assert r.status_code == 422, r.text
    problem = r.json()["problems"][0]
    assert problem["field"] == "instagram.media[0]" and problem["limit"] == 0.8
    assert "aspect ratio 0.625, minimum 0.800" in problem["message"]
    # what preparation can fix is no reason to refuse: a 4000 px PNG is fine for Instagram
    wide = _media(client, world, media_maker.image(4000, 3000, "PNG"), "wide.png")
    assert _post(client, world, [insta], wide, soon).status_code == 201


def test_a_video_too_short_for_instagram_and_linkedin_is_refused_at_creation(
    client, world, app, tiny_video, soon
):
    insta, linkedin = _account(app, world, "instagram"), _account(app, world, "linkedin")
    clip = _media(client, world, tiny_video(seconds=1, fps=30), "short.mp4")
    r = _post(client, world, [insta, linkedin, world.account_a], clip, soon)
    assert r.status_code == 422
    found = {p["field"]: p for p in r.json()["problems"]}
    assert found["instagram.media[0]"]["limit"] == 3 and found["linkedin.media[0]"]["limit"] == 3
    assert "minimum 3 s" in found["instagram.media[0]"]["message"]
    assert not any(f.startswith("mastodon") for f in found)  # Mastodon takes it


def test_platforms_that_fetch_media_get_the_variants_signed_link(env, world, clock, media_maker):
    app = AppContext.from_settings(
        Settings.from_env({**env, "POSTIZ_PUBLIC_URL": "https://posts.example"})
    )
    client = TestClient(create_app(app, clock=clock))
    png = media_maker.image(500, 400, "PNG", mode="RGBA", color=(10, 20, 30, 128))
    r = client.post(
        UPLOAD,
        headers=world.h(),
        files={"file": ("logo.png", png, "image/png")},
        data={"workspace_id": world.a},
    )
    assert r.status_code == 201, r.text
    delivery = media_delivery(app)
    limits = registry.validator("instagram").media_limits()
    with app.db.read() as s:
        asset = s.get(MediaAsset, r.json()["id"])
        assert asset is not None
        s.expunge(asset)
    variant, made = ensure_variant(
        app.db, delivery.storage, asset, platform="instagram", limits=limits, now=clock.now()
    )
    assert made and variant.mime_type == "image/jpeg"
    with app.db.read() as s:
        file = delivery.file_for(s, asset, platform="instagram", limits=limits, now=clock.now())
    assert file.public_url is not None
    link = urlsplit(file.public_url)
    assert link.path == f"/api/postiz/media/{variant.id}/file.jpg"  # Instagram reads the suffix
    got = client.get(f"{link.path}?{link.query}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(got.content)) as img:
        assert img.format == "JPEG" and img.size == (500, 400)
    assert got.content == file.path.read_bytes() != png
    forged = link.query.replace("signature=", "signature=0")[: len(link.query)]
    assert client.get(f"{link.path}?{forged}").status_code == 404
    app.close()
