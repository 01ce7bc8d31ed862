"""Transcode frames per second: the variant pipeline against a bare PyAV decode-encode
loop over the same 1080p file with the same settings (libx264 veryfast, the same bit
rate, yuv420p, AAC audio). Target: ratio >= 0.9.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import av  # noqa: E402
import numpy as np  # noqa: E402

from postiz_pipelines.core.media.video import VideoTarget, transcode  # noqa: E402

W, H, FPS, SECONDS = 1920, 1080, 30, 3
BIT_RATE = 4_000_000


def source(path: Path) -> None:
    """A 1080p MPEG-4 Part 2 AVI with moving content and silent MP3 audio (an old camera's)."""
    with av.open(str(path), "w", format="avi") as out:
        vs = out.add_stream("mpeg4", rate=FPS)
        vs.width, vs.height, vs.pix_fmt, vs.bit_rate = W, H, "yuv420p", 8_000_000
        audio = out.add_stream("mp3", rate=44_100)
        ramp = np.tile(np.arange(W, dtype=np.uint8), (H, 1))
        for i in range(FPS * SECONDS):
            arr = np.stack([np.roll(ramp, i * 8, axis=1), ramp, ramp], 2)
            for p in vs.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        for pts in range(0, 44_100 * SECONDS, 1152):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1152), np.float32), format="flt", layout="mono"
            )
            frame.sample_rate, frame.pts = 44_100, pts
            for p in audio.encode(frame):
                out.mux(p)
        for p in audio.encode():
            out.mux(p)


def bare(src: Path, dst: Path) -> int:
    """The plain loop: decode, reformat, encode, mux; returns frames written."""
    frames = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        vin.thread_type = "AUTO"
        vout = out.add_stream("libx264", rate=FPS)
        vout.width, vout.height, vout.pix_fmt = W, H, "yuv420p"
        vout.bit_rate = BIT_RATE - 128_000
        vout.codec_context.options = {
            "preset": "veryfast", "maxrate": str(BIT_RATE - 128_000),
            "bufsize": str((BIT_RATE - 128_000) * 2), "threads": "2",
        }  # fmt: skip
        vout.codec_context.time_base = Fraction(1, FPS)
        aout = out.add_stream("aac", rate=44_100)
        aout.bit_rate = 128_000
        for packet in inp.demux(vin, ain):
            for frame in packet.decode():
                if packet.stream.type == "audio":
                    frame.pts = None
                    for p in aout.encode(frame):
                        out.mux(p)
                    continue
                img = frame.reformat(width=W, height=H, format="yuv420p")
                img.pts, img.time_base = frames, vout.codec_context.time_base
                frames += 1
                for p in vout.encode(img):
                    out.mux(p)
        for p in vout.encode():
            out.mux(p)
        for p in aout.encode():
            out.mux(p)
    return frames


def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.avi"
        source(src)
        frames = FPS * SECONDS
        target = VideoTarget(
            "transcode", "video/mp4", W, H, float(FPS), "h264", "aac", BIT_RATE, 0, ("container",)
        )
        t0 = time.perf_counter()
        bare(src, Path(tmp) / "bare.mp4")
        bare_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        transcode(src, Path(tmp) / "ours.mp4", target, time_limit=600, threads=2)
        ours_s = time.perf_counter() - t0
        return {
            "benchmark": "media_transcode",
            "source": f"{W}x{H} {FPS} fps {SECONDS} s MPEG-4 Part 2 + MP3 (AVI)",
            "frames": frames,
            "pipeline_fps": round(frames / ours_s, 2),
            "bare_pyav_fps": round(frames / bare_s, 2),
            "ratio": round(bare_s / ours_s, 3),
            "target_ratio": 0.9,
        }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
