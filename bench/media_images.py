"""Image variants per second: the preparation pipeline against plain Pillow doing the same
resize and encode, in the same run, on the same photographs.

Plain Pillow opens the file, applies the EXIF orientation, resizes to the variant's size
with LANCZOS and saves one JPEG at the quality the pipeline settled on. The pipeline does
that and its own checks (metadata, the byte limit, the quality ladder when a rung is too
big). Target: ratio >= 0.9.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from PIL import Image, ImageFilter, ImageOps  # noqa: E402

from postiz_pipelines.core.media.images import plan_image, render_image  # noqa: E402
from postiz_pipelines.providers import registry  # noqa: E402

PLATFORMS = ("instagram", "bluesky", "x", "mastodon")
PHOTOS = 4
SIDE = (4032, 3024)  # a 12 Mpx phone photo


def photo(seed: int) -> bytes:
    """A photograph-like JPEG: smooth shapes with fine grain, EXIF orientation 6."""
    w, h = SIDE
    base = Image.radial_gradient("L").resize((w, h)).convert("RGB")
    grain = Image.effect_noise((w, h), 18 + seed).convert("RGB")
    img = Image.blend(base, grain, 0.25).filter(ImageFilter.GaussianBlur(0.6))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def pipeline(paths: list[Path], out: Path) -> tuple[float, list[tuple[Path, tuple[int, int], int]]]:
    """Seconds for every variant; and (source, size, quality guess) of each, for Pillow."""
    done = []
    start = time.perf_counter()
    for path in paths:
        with Image.open(path) as img:
            w, h = img.size
        for platform in PLATFORMS:
            limits = registry.validator(platform).media_limits()
            target = plan_image(
                mime_type="image/jpeg", width=h, height=w, animated=False,
                size_bytes=path.stat().st_size, limits=limits,
            )  # fmt: skip
            dst = out / f"{path.stem}-{platform}.jpg"
            r = render_image(path, dst, target, size_bytes=path.stat().st_size)
            done.append((path, (r.width, r.height), r.quality or 90))
    return time.perf_counter() - start, done


def plain(jobs: list[tuple[Path, tuple[int, int], int]]) -> float:
    start = time.perf_counter()
    for src, size, quality in jobs:
        with Image.open(src) as img:
            upright = ImageOps.exif_transpose(img)
            small = (
                upright.resize(size, Image.Resampling.LANCZOS) if upright.size != size else upright
            )
            buf = io.BytesIO()
            small.save(buf, "JPEG", quality=quality, optimize=True)
    return time.perf_counter() - start


def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = []
        for i in range(PHOTOS):
            p = root / f"photo{i}.jpg"
            p.write_bytes(photo(i))
            paths.append(p)
        pipeline(paths[:1], root)  # warm up both paths once
        seconds, jobs = pipeline(paths, root)
        plain(jobs[:1])
        baseline = plain(jobs)
        n = len(jobs)
        return {
            "benchmark": "media_image_variants",
            "variants": n,
            "pipeline_variants_per_s": round(n / seconds, 2),
            "plain_pillow_variants_per_s": round(n / baseline, 2),
            "ratio": round(baseline / seconds, 3),
            "target_ratio": 0.9,
            "source": f"{PHOTOS} photos {SIDE[0]}x{SIDE[1]} JPEG q92, EXIF orientation 6",
            "platforms": list(PLATFORMS),
        }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
