"""A storage backend that does not answer: the upload is a 503 problem, nothing recorded."""

from __future__ import annotations

import socket

import pytest

from postiz_pipelines.api import create_app
from postiz_pipelines.core.models import MediaAsset


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def env(env):  # type: ignore[no-untyped-def]
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {
        **env,
        "POSTIZ_MEDIA_STORAGE": "s3",
        "POSTIZ_S3_BUCKET": "gone",
        "POSTIZ_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "POSTIZ_S3_ACCESS_KEY_ID": "k",
        "POSTIZ_S3_SECRET_ACCESS_KEY": "very-secret-value",
    }


def test_storage_outage_is_503_and_nothing_is_recorded(
    app, clock, transport, world, media_maker, make_client
):
    client = make_client(create_app(app, clock=clock, transport=transport))
    r = client.post(
        "/api/postiz/media/upload",
        headers=world.h(),
        files={"file": ("p.jpg", media_maker.image(64, 64), "image/jpeg")},
        data={"workspace_id": world.a},
    )
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "storage is unavailable" in r.json()["detail"]
    assert "very-secret-value" not in r.text
    with app.db.read() as s:
        assert s.query(MediaAsset).count() == 0
    assert list((app.media_root / ".staging").iterdir()) == []
