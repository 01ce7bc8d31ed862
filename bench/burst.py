"""A burst through a real ``dagster-daemon``: 1,000 posts due at one instant across 30
partitions (10 workspaces x 3 platforms x 10 accounts), written a few minutes ahead as a
campaign would be. Measured: time from the due instant to the last acceptance, lag
percentiles, publish runs.

    python bench/burst.py --backend postgresql --posts 1000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _stack import (  # noqa: E402
    ROOT,
    PostWriter,
    percentiles,
    run_figures,
    running_stack,
    seed_accounts,
    wait_until,
)

WORKSPACES = 10
ACCOUNTS = 10
LEAD = 300  # seconds from the daemon start to the due instant (a campaign written ahead)


def measure(
    backend: str, posts: int, root: Path, latency_ms: int, engine: str = "dagster"
) -> dict[str, object]:
    with running_stack(backend, root=root, sandbox_latency_ms=latency_ms) as stack:
        accounts = seed_accounts(stack, workspaces=WORKSPACES, accounts=ACCOUNTS)
        keys = sorted(accounts)
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=LEAD)
        items = []
        for i in range(posts):
            slug, platform = keys[i % len(keys)]
            account = accounts[(slug, platform)][(i // len(keys)) % ACCOUNTS]
            items.append((slug, account, f"burst #{i} {slug}/{platform}", due))
        writer = PostWriter(stack)
        writer.create(items)
        writer.close()
        load_start = os.getloadavg()[0]
        if engine == "worker":
            daemon = stack.start_workers(1, POSTIZ_WORKER_CONCURRENCY="10")[0]
        else:
            daemon = stack.start_daemon()
        budget = LEAD + 600
        wait_until(
            lambda: stack.accepted_count() >= posts or daemon.poll() is not None, budget, 2.0
        )
        accepted = stack.accepted()
        runs = run_figures(stack) if engine == "dagster" else {}
        load_end = os.getloadavg()[0]
    texts = {t for _, _, t, _ in items}
    lags = sorted(
        (datetime.fromisoformat(a["created_at"]) - due).total_seconds()
        for a in accepted
        if a["text"] in texts
    )
    return {
        "backend": backend,
        "engine": engine,
        "load_avg_1m": [round(load_start, 1), round(load_end, 1)],
        "posts": posts,
        "accepted": len(lags),
        "missing": posts - len({a["text"] for a in accepted if a["text"] in texts}),
        "due_to_last_acceptance_s": round(lags[-1], 3) if lags else None,
        "lag_s": percentiles(lags),
        **runs,
    }


def main(
    posts: int = 1000,
    backends: tuple[str, ...] = ("sqlite", "postgresql"),
    root: Path = ROOT,
    latency_ms: int = 50,
    engine: str = "dagster",
) -> dict[str, object]:
    started = time.monotonic()
    results = [measure(b, posts, root, latency_ms, engine) for b in backends]
    return {
        "benchmark": "burst",
        "sandbox_latency_ms": latency_ms,
        "target": "every post within 15 s on PostgreSQL, p99 < 10 s",
        "tree": str(root),
        "results": results,
        "seconds": round(time.monotonic() - started, 1),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--root", type=Path, default=ROOT)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument(
        "--engine",
        choices=["dagster", "worker"],
        default="dagster",
        help="window runs launched by a real daemon, or one standalone worker",
    )
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    chosen = ("sqlite", "postgresql") if a.backend == "both" else (a.backend,)
    doc = main(a.posts, chosen, a.root.resolve(), a.latency_ms, a.engine)
    text = json.dumps(doc, indent=2)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
