"""Signed media links: the engine's URLs serve the file; forged or expired ones do not."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from PIL import Image

from postiz_pipelines.api.app import create_app
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.links import public_media_url
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.settings import Settings


def test_signed_link_serves_until_it_expires(env, make, clock):
    app = AppContext.from_settings(
        Settings.from_env({**env, "POSTIZ_PUBLIC_URL": "https://posts.example"})
    )
    ws = make.workspace()
    buf = io.BytesIO()
    Image.new("RGB", (32, 16), (1, 2, 3)).save(buf, "PNG")
    storage = LocalStorage(app.media_root)
    staged = storage.stage()
    staged.write(buf.getvalue())
    with app.db.session() as s:
        asset, _ = ingest(s, storage, staged, workspace_id=ws.id, filename="a.png", now=clock.now())
        asset_id = asset.id
    url = public_media_url(app, asset_id, "image/png", clock.now())
    assert url is not None and url.startswith(
        f"https://posts.example/api/postiz/media/{asset_id}/file.png?"
    )
    path = urlsplit(url)
    client = TestClient(create_app(app, clock=clock))
    ok = client.get(f"{path.path}?{path.query}")
    assert ok.status_code == 200 and ok.content == buf.getvalue()
    assert ok.headers["content-type"] == "image/png"
    forged = path.query[:-1] + ("0" if path.query[-1] != "0" else "1")
    assert client.get(f"{path.path}?{forged}").status_code == 404
    clock.advance(timedelta(hours=25).total_seconds())  # links live 24 h by default
    assert client.get(f"{path.path}?{path.query}").status_code == 404
    app.close()
