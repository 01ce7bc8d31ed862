"""Uploads on every storage backend (local, Supabase Storage through the sandbox, S3
through moto's server on loopback): accepted files land in the backend, every bad input is
a 4xx problem naming the problem and the limit, and nothing is left in storage or the DB."""

from __future__ import annotations

import httpx
import pytest

from postiz_pipelines.api import create_app
from postiz_pipelines.core.media.backends import open_storage
from postiz_pipelines.core.models import AuditLog, MediaAsset

UPLOAD = "/api/postiz/media/upload"
PIXELS = 2_000_000


@pytest.fixture
def db_url(sqlite_url: str) -> str:  # the backend is what varies here
    return sqlite_url


@pytest.fixture
def env(env, backend):  # type: ignore[no-untyped-def]
    return {**env, **backend.env, "POSTIZ_MEDIA_MAX_IMAGE_PIXELS": str(PIXELS)}


def _upload(client, world, data: bytes, name: str, ctype: str = "application/octet-stream"):  # type: ignore[no-untyped-def]
    return client.post(
        UPLOAD,
        headers=world.h(),
        files={"file": (name, data, ctype)},
        data={"workspace_id": world.a, "alt_text": "Übung 🎞️"},
    )


def _nothing_left(app, backend) -> None:  # type: ignore[no-untyped-def]
    assert backend.keys() == []
    with app.db.read() as s:
        assert s.query(MediaAsset).count() == 0
        assert s.query(AuditLog).filter(AuditLog.action == "media.upload").count() == 0
    staging = app.media_root / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []


def test_a_good_upload_lands_in_the_backend_with_its_metadata(
    client, world, app, backend, media_maker, tiny_video
):
    photo = media_maker.image(640, 480, gps=True)
    r = _upload(client, world, photo, "photo.jpg")
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["width"], m["height"], m["sizeBytes"]) == (640, 480, len(photo))
    video = _upload(client, world, tiny_video(seconds=1.5, fps=30), "clip.mp4")
    assert video.status_code == 201, video.text
    v = video.json()
    assert v["kind"] == "video" and v["durationMs"] >= 1400
    assert (v["frameRate"], v["videoCodec"], v["audioCodec"]) == (30.0, "h264", "aac")
    keys = backend.keys()
    assert len(keys) == 2 and any(k.endswith(f"{m['sha256']}.jpg") for k in keys)
    again = _upload(client, world, photo, "same.jpg")
    assert again.status_code == 200 and again.json()["deduplicated"] is True
    assert len(backend.keys()) == 2
    storage = open_storage(app.settings, app.media_root)
    key = next(k for k in keys if k.endswith(".jpg"))
    assert storage.local_path(key).read_bytes() == photo
    url = storage.signed_url(key, expires_in=600)
    if backend.name == "local":
        assert url is None  # served through the API's HMAC link instead
    else:
        fetched = httpx.get(url)  # type: ignore[arg-type]
        assert fetched.status_code == 200 and fetched.content == photo


def _bomb(media_maker) -> bytes:  # type: ignore[no-untyped-def]
    return media_maker.image(3000, 3000, "PNG")  # 9 Mpx of one colour: a few KB


@pytest.mark.parametrize(
    ("case", "status", "needle"),
    [
        ("empty", 422, "is empty (0 bytes)"),
        ("truncated", 422, "cannot be decoded"),
        ("bomb", 422, f"limit {PIXELS} pixels"),
        ("misnamed", 422, "is named .png but its content is JPEG"),
        ("unsupported", 422, "accepted: JPEG, PNG, GIF, WebP, MP4, MOV, AVI"),
        ("undecodable video", 422, "cannot be decoded"),
        ("no video stream", 422, "holds no video stream"),
    ],
)
def test_bad_input_is_refused_and_leaves_nothing(
    client, world, app, backend, media_maker, tiny_video, case, status, needle
):
    jpeg = media_maker.image(800, 600, noise=True)
    data, name = {
        "empty": lambda: (b"", "nothing.jpg"),
        "truncated": lambda: (jpeg[: len(jpeg) // 2], "half.jpg"),
        "bomb": lambda: (_bomb(media_maker), "bomb.png"),
        "misnamed": lambda: (jpeg, "photo.png"),
        "unsupported": lambda: (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "doc.pdf"),
        "undecodable video": lambda: (tiny_video().replace(b"avc1", b"zz9q"), "odd.mp4"),
        "no video stream": lambda: (tiny_video(vcodec=None), "sound.mp4"),
    }[case]()
    r = _upload(client, world, data, name)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()["problems"][0]
    assert problem["field"] == "file" and needle in problem["message"], problem
    if case == "bomb":
        assert problem["limit"] == PIXELS
    _nothing_left(app, backend)


def test_over_size_is_413_and_leaves_nothing(
    app, clock, transport, world, backend, media_maker, make_client
):
    small = make_client(create_app(app, clock=clock, transport=transport, max_upload_bytes=4096))
    r = _upload(small, world, media_maker.image(300, 300, noise=True), "big.jpg")
    assert r.status_code == 413 and r.json()["problems"][0]["limit"] == 4096
    _nothing_left(app, backend)
