"""Media through HTTP: streamed upload, type from content, dimensions, per-workspace dedup, caps."""

from __future__ import annotations

import hashlib

from postiz_pipelines.api import create_app

UPLOAD = "/api/postiz/media/upload"


def _upload(
    client,
    world,
    data: bytes,
    *,
    name="pic.png",
    who="editor",
    workspace=None,  # type: ignore[no-untyped-def]
    ctype="image/png",
    **extra,
):
    form = {"workspace_id": workspace or world.a, **extra}
    return client.post(UPLOAD, headers=world.h(who), files={"file": (name, data, ctype)}, data=form)


def test_upload_measures_and_stores_by_content(client, world, png, app):
    data = png(40, 30)
    r = _upload(client, world, data, alt_text="a green square")
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["kind"], m["mimeType"], m["width"], m["height"]) == ("image", "image/png", 40, 30)
    assert m["sha256"] == hashlib.sha256(data).hexdigest() and m["sizeBytes"] == len(data)
    assert m["altText"] == "a green square" and m["deduplicated"] is False
    stored = list(app.media_root.rglob(f"{m['sha256']}.png"))
    assert len(stored) == 1 and stored[0].read_bytes() == data
    assert list((app.media_root / ".staging").iterdir()) == []  # nothing left half-written


def test_same_bytes_dedup_within_a_workspace_only(client, world, png):
    data = png(8, 8)
    first = _upload(client, world, data).json()
    again = _upload(client, world, data, name="renamed.png")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["deduplicated"] is True
    elsewhere = _upload(client, world, data, who="b_owner", workspace=world.b)
    assert elsewhere.status_code == 201 and elsewhere.json()["id"] != first["id"]


def test_declared_type_is_ignored_content_decides(client, world, png, tiny_video, media_maker):
    gif = media_maker.image(2, 2, "GIF")
    r = _upload(client, world, gif, name="x.gif", ctype="image/png")
    assert r.status_code == 201, r.text
    assert r.json()["mimeType"] == "image/gif" and (r.json()["width"], r.json()["height"]) == (2, 2)

    video = _upload(client, world, tiny_video(), name="clip.bin", ctype="application/octet-stream")
    assert video.status_code == 201, video.text
    assert video.json()["kind"] == "video" and video.json()["mimeType"] == "video/mp4"

    text = _upload(client, world, b"just some text, not an image", name="a.jpg", ctype="image/jpeg")
    assert text.status_code == 422
    assert text.json()["problems"][0]["field"] == "file"
    assert "JPEG, PNG, GIF, WebP, MP4, MOV, AVI" in text.json()["problems"][0]["message"]

    broken = _upload(client, world, png()[:40], name="cut.png")
    assert broken.status_code == 422
    assert "cannot be decoded" in broken.json()["problems"][0]["message"]


def test_size_cap_is_413_and_leaves_nothing(app, clock, transport, world, png, make_client):
    small = make_client(create_app(app, clock=clock, transport=transport, max_upload_bytes=2048))
    big = png(200, 200, (1, 2, 3)) + b"\x00" * 4096
    r = _upload(small, world, big)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["problems"][0]["limit"] == 2048
    assert list((app.media_root / ".staging").glob("*")) == []
    assert _upload(small, world, png(4, 4)).status_code == 201


def test_upload_refusals(client, world, png):
    missing = client.post(
        UPLOAD,
        headers=world.h(),
        data={"workspace_id": world.a},
        files={"other": ("x", b"abc", "text/plain")},
    )
    assert missing.status_code == 422 and missing.json()["problems"][0]["field"] == "file"
    no_ws = client.post(UPLOAD, headers=world.h(), files={"file": ("p.png", png(), "image/png")})
    assert no_ws.status_code == 422 and no_ws.json()["problems"][0]["field"] == "workspace_id"
    not_form = client.post(UPLOAD, headers=world.h(), json={"file": "x"})
    assert not_form.status_code == 415
    viewer = _upload(client, world, png(), who="viewer")
    assert viewer.status_code == 403
    other = client.post(
        UPLOAD,
        headers=world.h(),
        params={"workspace_id": world.b},
        files={"file": ("p.png", png(), "image/png")},
    )
    assert other.status_code == 404


def test_media_in_a_post_list_read_delete(client, world, png, soon):
    m = _upload(client, world, png(64, 48)).json()
    post = client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={
            "content": "with a picture",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "mediaIds": [m["id"]],
            "scheduledAt": soon(),
        },
    )
    assert post.status_code == 201, post.text
    assert post.json()["mediaIds"] == [m["id"]]
    listed = client.get(
        "/api/postiz/media", headers=world.h("viewer"), params={"workspace_id": world.a}
    )
    assert [x["id"] for x in listed.json()["media"]] == [m["id"]]
    assert (
        client.get(f"/api/postiz/media/{m['id']}", headers=world.h("viewer")).json()["width"] == 64
    )
    in_use = client.delete(f"/api/postiz/media/{m['id']}", headers=world.h())
    assert in_use.status_code == 409
    client.delete(f"/api/postiz/posts/{post.json()['id']}", headers=world.h())
    assert client.delete(f"/api/postiz/media/{m['id']}", headers=world.h()).status_code == 204
    assert client.get(f"/api/postiz/media/{m['id']}", headers=world.h()).status_code == 404


def test_upload_with_idempotency_key_replays(client, world, png):
    data = png(5, 5)
    h = {**world.h(), "Idempotency-Key": "up-1"}
    first = client.post(
        UPLOAD,
        headers=h,
        files={"file": ("a.png", data, "image/png")},
        data={"workspace_id": world.a},
    )
    again = client.post(
        UPLOAD,
        headers=h,
        files={"file": ("a.png", data, "image/png")},
        data={"workspace_id": world.a},
    )
    assert first.status_code == again.status_code == 201
    assert (
        again.headers.get("idempotent-replayed") == "true"
        and again.json()["id"] == first.json()["id"]
    )
