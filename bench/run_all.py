"""Run every benchmark and print one JSON document of figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import claim_and_expand  # noqa: E402
import publish_concurrency  # noqa: E402
import run_per_partition  # noqa: E402

if __name__ == "__main__":
    print(
        json.dumps(
            [m.main() for m in (publish_concurrency, run_per_partition, claim_and_expand)], indent=2
        )
    )
