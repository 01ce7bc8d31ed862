"""Per-run overhead, as the daemon pays it: a new process that loads the code and executes
one run on the same Dagster instance. A one-post publish run (the ``publishing`` location)
against a bare one-op job, side by side, and each code location's import time with the
heavy modules it loads.

    python bench/run_overhead.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import bench_app, seed  # noqa: E402
from _stack import ROOT, free_port, wait_http  # noqa: E402

from postiz_pipelines.core.models import PublishJob  # noqa: E402

HEAVY = ["pandas", "matplotlib", "PIL", "numpy", "av", "boto3"]
BARE = """
import sys; sys.path.insert(0, {bench!r})
from dagster import DagsterInstance
from _bare_job import bare_job
with DagsterInstance.from_config({home!r}) as instance:
    assert bare_job.execute_in_process(instance=instance).success
"""
PUBLISH = """
from dagster import DagsterInstance
from postiz_pipelines.defs.publishing_definitions import defs
from postiz_pipelines.defs.partitions import partition_key
job = defs.get_job_def("publish_job")
with DagsterInstance.from_config({home!r}) as instance:
    r = job.execute_in_process(partition_key=partition_key({slug!r}, "mastodon"), instance=instance)
    assert r.success and r.output_for_node("publish_posts")["completed"] == 1
"""
IMPORT = """
import sys, time, json
t = time.perf_counter()
import {module}
print(json.dumps([round(time.perf_counter() - t, 3), [m for m in {heavy!r} if m in sys.modules],
                  len(sys.modules)]))
"""


def _timed(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(runs: int = 5) -> dict[str, object]:
    from dagster import DagsterInstance

    port = free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "postiz_pipelines.cli", "sandbox", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    home = tempfile.mkdtemp(prefix="pz_home_")
    (Path(home) / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    bare_s, publish_s = [], []
    try:
        wait_http(f"{url}/_sandbox/health", 60)
        with bench_app() as app:
            env = {
                **os.environ,
                "POSTIZ_DATABASE_URL": app.settings.resolved_database_url,
                "POSTIZ_DATA_DIR": str(app.settings.data_dir),
                "POSTIZ_ENCRYPTION_KEY": app.settings.encryption_key.get_secret_value(),  # type: ignore[union-attr]
                "POSTIZ_WORKER_RATE_LIMIT_DELAY": "0",
                "POSTIZ_LOOKAHEAD_SECONDS": "0",
            }
            with DagsterInstance.from_config(home) as instance:
                instance.add_dynamic_partitions("workspaces", ["overhead"])
            _timed(BARE.format(bench=str(Path(__file__).parent), home=home), env)  # warm up
            _ws, job_ids = seed(
                app,
                accounts=1,
                posts_per_account=runs,
                base_url=f"{url}/mastodon",
                slug="overhead",
                run_at=datetime.now(UTC) + timedelta(days=1),
            )
            for job_id in job_ids:  # one post due in the partition for each run
                with app.db.session() as s:
                    job = s.get(PublishJob, job_id)
                    assert job is not None
                    job.next_attempt_at = job.run_at = datetime.now(UTC)
                bare_s.append(_timed(BARE.format(bench=str(Path(__file__).parent), home=home), env))
                publish_s.append(_timed(PUBLISH.format(home=home, slug="overhead"), env))
            imports = {}
            for module in (
                "dagster",
                "postiz_pipelines.defs.publishing_definitions",
                "postiz_pipelines.defs.definitions",
            ):
                out = (
                    subprocess.run(
                        [sys.executable, "-c", IMPORT.format(module=module, heavy=HEAVY)],
                        env=env,
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    .stdout.strip()
                    .splitlines()[-1]
                )
                seconds, heavy, modules = json.loads(out)
                imports[module] = {"seconds": seconds, "heavy_modules": heavy, "modules": modules}
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    ratios = [p / b for p, b in zip(publish_s, bare_s, strict=True)]
    return {
        "benchmark": "run_overhead",
        "runs": runs,
        "bare_one_op_run_s": round(statistics.median(bare_s), 3),
        "one_post_publish_run_s": round(statistics.median(publish_s), 3),
        "publish_vs_bare": round(statistics.median(ratios), 2),
        "target": "<= 1.3",
        "imports": imports,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    text = json.dumps(main(a.runs), indent=2)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
