"""Run every benchmark and print one JSON document of figures; each is also written to
``bench/results/<name>.json``.

The defaults keep the whole run under 20 minutes on a 2-core machine. The two daemon
benchmarks are most of it (each waits minutes on purpose: the first runs' cold start before
the first post, a campaign written 5 minutes ahead), so `make bench` runs the steady load on
SQLite (2 minutes of posts) and the burst on PostgreSQL, and the in-process benchmarks at
sizes that take a minute or two each. Each script takes the issue's full settings by flags
(``steady_load.py --minutes 10 --backend both``, ``burst.py --backend both``,
``engine_vs_raw.py --posts 2000``, ``scale_out.py --posts 10000``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import burst  # noqa: E402
import claim_and_expand  # noqa: E402
import engine_vs_raw  # noqa: E402
import publish_concurrency  # noqa: E402
import run_overhead  # noqa: E402
import scale_out  # noqa: E402
import steady_load  # noqa: E402

PLAN = [
    ("steady_load", lambda: steady_load.main(minutes=2, backends=("sqlite",))),
    ("burst", lambda: burst.main(posts=1000, backends=("postgresql",))),
    ("engine_vs_raw", lambda: engine_vs_raw.main(posts=500)),
    ("scale_out", lambda: scale_out.main(posts=300)),
    ("run_overhead", lambda: run_overhead.main(runs=3)),
    ("publish_concurrency", publish_concurrency.main),
    ("claim_and_expand", claim_and_expand.main),
]

if __name__ == "__main__":
    only = set(sys.argv[1:])
    results = []
    begun = time.monotonic()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    for name, run in PLAN:
        if only and name not in only:
            continue
        started = time.monotonic()
        doc = run()
        doc["wall_s"] = round(time.monotonic() - started, 1)
        (out / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(f"{name}: {doc['wall_s']} s", file=sys.stderr)
        results.append(doc)
    print(f"make bench: {round(time.monotonic() - begun, 1)} s", file=sys.stderr)
    print(json.dumps(results, indent=2))
