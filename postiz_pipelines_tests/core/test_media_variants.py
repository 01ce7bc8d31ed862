"""Variants per platform: every file read back and checked against the platform's limits;
orientation first, metadata gone, colour profile kept, conversions, transcodes, reuse."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageCms

from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.formats import FileType
from postiz_pipelines.core.media.probe import measure_video
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.media.variants import FAILED, READY, ensure_variant, planned_file
from postiz_pipelines.core.models import MediaVariant, Platform
from postiz_pipelines.providers import registry
from postiz_pipelines.providers.base import media_file_problems

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night Europe moves its clocks
PLATFORMS = sorted(p.value for p in Platform)


@pytest.fixture
def store(app, make):  # type: ignore[no-untyped-def]
    workspace = make.workspace("medias")
    storage = LocalStorage(app.media_root)

    def put(data: bytes, name: str, alt: str = ""):  # type: ignore[no-untyped-def]
        staged = storage.stage()
        staged.write(data)
        with app.db.session() as s:
            asset, _ = ingest(
                s, storage, staged, workspace_id=workspace.id, filename=name, alt_text=alt, now=NOW
            )
            s.expunge(asset)
        return asset

    put.storage = storage  # type: ignore[attr-defined]
    return put


def _variant(app, store, asset, platform):  # type: ignore[no-untyped-def]
    limits = registry.validator(platform).media_limits()
    variant, made = ensure_variant(
        app.db, store.storage, asset, platform=platform, limits=limits, now=NOW
    )
    return variant, made, limits


def _read(store, variant) -> bytes:  # type: ignore[no-untyped-def]
    return store.storage.local_path(variant.storage_key).read_bytes()


def test_every_platforms_image_variant_is_within_its_limits(app, store, media_maker):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = media_maker.image(
        1800, 1300, noise=True, quality=95, orientation=6, gps=True, icc_profile=srgb
    )
    original = store(photo, "IMG_0001.jpg", alt="Ein Foto 📷")
    assert (original.width, original.height) == (1300, 1800)  # portrait, as displayed
    for platform in PLATFORMS:
        variant, _, limits = _variant(app, store, original, platform)
        if platform == "instagram":  # 0.72 is narrower than 4:5: no variant can fix that
            assert variant.status == FAILED and "aspect ratio" in (variant.error or "")
            continue
        assert variant.status == READY, (platform, variant.error)
        data = _read(store, variant)
        assert len(data) == variant.size_bytes <= limits.max_image_bytes, platform
        with Image.open(io.BytesIO(data)) as img:
            assert img.size == (variant.width, variant.height), platform
            assert img.height > img.width, platform  # oriented before anything else
            assert not img.getexif(), platform  # no GPS, make, model: no EXIF at all
            assert img.info.get("icc_profile") == srgb, platform  # colour kept
        assert b"AcmeCam" not in data and b"Model 7 Pro" not in data
        from postiz_pipelines.core.media.assets import media_file

        file = media_file(original, app.media_root)
        checked = file.__class__(**{**file.__dict__, "width": variant.width,
                                    "height": variant.height, "size_bytes": variant.size_bytes,
                                    "mime_type": variant.mime_type})  # fmt: skip
        assert media_file_problems(limits, checked, platform) == [], platform
    # the stored original is untouched: its GPS is still there
    kept = store.storage.local_path(original.storage_key).read_bytes()
    assert kept == photo and b"AcmeCam" in kept


def test_a_ten_megabyte_jpeg_becomes_a_bluesky_variant_under_its_byte_limit(
    app, store, media_maker
):
    big = media_maker.image(2800, 2800, noise=True, quality=97)
    assert len(big) > 10 * 1024 * 1024
    asset = store(big, "big.jpg")
    variant, made, limits = _variant(app, store, asset, "bluesky")
    assert made and variant.status == READY and variant.mime_type == "image/jpeg"
    assert len(_read(store, variant)) <= limits.max_image_bytes == 2_000_000


def test_png_with_transparency_becomes_a_flattened_jpeg_for_instagram(app, store, media_maker):
    png = media_maker.image(1000, 800, "PNG", mode="RGBA", color=(0, 0, 0, 0))
    asset = store(png, "logo.png")
    variant, _, limits = _variant(app, store, asset, "instagram")
    assert variant.status == READY and variant.mime_type == "image/jpeg"
    with Image.open(io.BytesIO(_read(store, variant))) as img:
        assert img.format == "JPEG" and img.mode == "RGB"
        assert img.getpixel((5, 5)) == (255, 255, 255)  # transparent became white
    # small WebP: converted too, and scaled up to Instagram's minimum width
    webp = store(media_maker.image(200, 200, "WEBP"), "tiny.webp")
    small, _, _ = _variant(app, store, webp, "instagram")
    assert small.mime_type == "image/jpeg" and (small.width, small.height) == (320, 320)
    # the same PNG for Mastodon, which takes PNG, with no metadata: sent as it is
    same, _, _ = _variant(app, store, asset, "mastodon")
    assert same.storage_key == asset.storage_key and same.steps == "original"


def test_animated_gif_stays_animated_where_taken(app, store, media_maker):
    asset = store(media_maker.animated_gif(60, 40, frames=6), "loop.gif")
    assert asset.animated
    for platform, animated in (("x", True), ("discord", True), ("instagram", False)):
        variant, _, _ = _variant(app, store, asset, platform)
        with Image.open(io.BytesIO(_read(store, variant))) as img:
            assert (getattr(img, "n_frames", 1) > 1) is animated, platform


def test_variants_are_made_once_and_reused(app, store, media_maker):
    asset = store(media_maker.image(3000, 2000, quality=90, gps=True), "twice.jpg")
    first, made, _ = _variant(app, store, asset, "x")
    again, made_again, _ = _variant(app, store, asset, "x")
    assert made and not made_again and again.id == first.id
    with app.db.read() as s:
        assert s.query(MediaVariant).filter_by(asset_id=asset.id).count() == 1
    # a change of limits is a new variant
    limits = registry.validator("x").media_limits()
    other, made_other = ensure_variant(
        app.db,
        store.storage,
        asset,
        platform="x",
        limits=limits.__class__(**{**limits.__dict__, "max_image_width": 800}),
        now=NOW,
    )
    assert made_other and other.id != first.id and other.width == 800


def test_avi_is_transcoded_to_h264_aac_mp4(app, store, media_maker):
    avi = media_maker.video(fmt="avi", vcodec="mpeg4", acodec="mp3", width=160, height=120)
    asset = store(avi, "clip.avi")
    assert (asset.video_codec, asset.audio_codec) == ("mpeg4", "mp3")
    for platform in ("x", "bluesky", "linkedin", "mastodon"):
        variant, _, limits = _variant(app, store, asset, platform)
        if platform == "linkedin":  # one second is under LinkedIn's three
            assert variant.status == FAILED and "minimum 3 s" in (variant.error or "")
            continue
        assert variant.status == READY, (platform, variant.error)
        path = store.storage.local_path(variant.storage_key)
        m = measure_video(path, FileType("video/mp4", "video", ".mp4"), max_pixels=10**9)
        assert (variant.mime_type, m.video_codec, m.audio_codec) == ("video/mp4", "h264", "aac")
        assert (m.width, m.height) == (160, 120)
        assert path.read_bytes()[4:8] == b"ftyp"


def test_a_video_over_the_dimension_and_frame_rate_limits_is_scaled_and_capped(
    app, store, media_maker
):
    fast = media_maker.video(width=1400, height=800, fps=90, seconds=0.6, acodec=None)
    asset = store(fast, "fast.mp4")
    variant, _, limits = _variant(app, store, asset, "x")
    assert variant.status == READY, variant.error
    assert variant.width is not None and variant.width <= 1280 and variant.height <= 1024
    assert variant.frame_rate is not None and variant.frame_rate <= 60.01
    assert "transcode" in variant.steps


def test_the_plan_predicts_what_creation_validates(app, store, media_maker):
    asset = store(media_maker.image(4000, 1000, "PNG"), "wide.png")
    limits = registry.validator("instagram").media_limits()
    planned = planned_file(asset, limits, app.media_root)
    assert planned.mime_type == "image/jpeg" and planned.width == 1440
    problems = media_file_problems(limits, planned, "instagram.media[0]")
    assert [p.limit for p in problems] == [1.91]  # the aspect ratio, named with its limit


def test_a_rotated_phone_video_is_measured_upright_and_transcoded_upright(app, store, media_maker):
    import av

    # stored 96 x 48 with the left half green; the player turns it a quarter counter-clockwise
    clip = media_maker.video(width=96, height=48, fps=90, seconds=0.6, rotation=90, acodec=None)
    asset = store(clip, "phone.mp4")
    assert (asset.width, asset.height) == (48, 96)  # portrait, as people see it
    variant, _, _ = _variant(app, store, asset, "x")  # 90 fps: X takes 60 at most
    assert variant.status == READY and (variant.width, variant.height) == (48, 96)
    with av.open(str(store.storage.local_path(variant.storage_key))) as c:
        frame = next(c.decode(video=0))
        pixels = frame.to_ndarray(format="rgb24")
    assert frame.rotation == 0 and pixels.shape[:2] == (96, 48)
    assert pixels[90, 24][1] > 150 and pixels[5, 24][1] < 100  # the green half is at the bottom


def test_a_transcode_past_its_time_bound_fails_the_variant_and_leaves_no_file(
    app, store, media_maker
):
    from postiz_pipelines.core.media.variants import PrepareOptions

    asset = store(media_maker.video(fmt="avi", vcodec="mpeg4", acodec=None), "old.avi")
    limits = registry.validator("x").media_limits()
    variant, made = ensure_variant(
        app.db,
        store.storage,
        asset,
        platform="x",
        limits=limits,
        now=NOW,
        options=PrepareOptions(transcode_seconds=1e-9),
    )
    assert made and variant.status == FAILED and "time limit" in (variant.error or "")
    assert not list((app.media_root / "variants").rglob("*.mp4"))
    assert list((app.media_root / ".staging").iterdir()) == []
