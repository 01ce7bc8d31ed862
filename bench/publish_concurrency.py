"""Posts per second through the engine against the sandbox with 20 ms of platform latency,
at concurrency 1, 3 (the seed's default) and 10, side by side, with the speed-up ratios."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Timer, bench_app, seed  # noqa: E402

from postiz_pipelines.clock import SystemClock  # noqa: E402
from postiz_pipelines.core.publishing.runner import publish_due  # noqa: E402
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app  # noqa: E402

POSTS = 200
ACCOUNTS = 20
LATENCY_MS = 20


def run(concurrency: int) -> dict[str, float]:
    state = SandboxState(seed=1)
    state.faults.set(
        "mastodon", FaultSpec(latency_ms=LATENCY_MS, endpoints=frozenset({"POST /api/v1/statuses"}))
    )
    with bench_app({"POSTIZ_WORKER_CONCURRENCY": str(concurrency)}) as app:
        seed(
            app,
            accounts=ACCOUNTS,
            posts_per_account=POSTS // ACCOUNTS,
            base_url="http://sandbox.test/mastodon",
        )
        with Timer() as t:
            report = publish_due(
                app,
                owner="bench",
                clock=SystemClock(),
                transport=SandboxTransport(create_app(state), timeout=10),
            )
        assert report.as_dict()["completed"] == POSTS and len(state.accepted("mastodon")) == POSTS
    return {
        "concurrency": concurrency,
        "seconds": round(t.seconds, 3),
        "posts_per_second": round(POSTS / t.seconds, 1),
    }


def main() -> dict[str, object]:
    results = [run(c) for c in (1, 3, 10)]
    base = results[0]["posts_per_second"]
    for r in results:
        r["speedup_vs_1"] = round(r["posts_per_second"] / base, 2)
    return {
        "benchmark": "publish_concurrency",
        "posts": POSTS,
        "accounts": ACCOUNTS,
        "platform_latency_ms": LATENCY_MS,
        "results": results,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
