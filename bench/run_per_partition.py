"""Why one Dagster run per (workspace, platform) and not one per post: the cost of a publish
run with 1 post against one with 50 posts, per post, side by side."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Timer, bench_app, seed  # noqa: E402
from dagster import DagsterInstance, instance_for_test  # noqa: E402

from postiz_pipelines.defs.partitions import WORKSPACES, partition_key  # noqa: E402
from postiz_pipelines.defs.publish import publish_job  # noqa: E402
from postiz_pipelines.defs.resources import PostizResource  # noqa: E402
from postiz_pipelines.sandbox import SandboxState  # noqa: E402
from postiz_pipelines.sandbox.server import running_sandbox  # noqa: E402


def run(instance: DagsterInstance, sandbox_url: str, posts: int) -> float:
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_app(url=f"sqlite:///{Path(tmp) / 'b.db'}") as app,
    ):
        slug = f"bench{posts}"
        seed(
            app,
            accounts=min(posts, 10),
            posts_per_account=max(posts // 10, 1),
            base_url=f"{sandbox_url}/mastodon",
            slug=slug,
        )
        instance.add_dynamic_partitions(WORKSPACES, [slug])
        resource = PostizResource(
            database_url=app.settings.resolved_database_url,
            data_dir=str(app.settings.data_dir),
            settings_overrides={
                "POSTIZ_ENCRYPTION_KEY": app.settings.encryption_key.get_secret_value(),
                "POSTIZ_WORKER_RATE_LIMIT_DELAY": "0",
            },
        )
        with Timer() as t:
            result = publish_job.execute_in_process(
                partition_key=partition_key(slug, "mastodon"),
                instance=instance,
                resources={"postiz": resource},
            )
        assert result.success and result.output_for_node("publish_posts")["completed"] == posts
        return t.seconds


def main() -> dict[str, object]:
    with instance_for_test() as instance, running_sandbox(state=SandboxState(seed=1)) as url:
        run(instance, url, 1)  # warm imports
        one = min(run(instance, url, 1) for _ in range(3))
        fifty = min(run(instance, url, 50) for _ in range(3))
    return {
        "benchmark": "run_per_partition",
        "run_with_1_post_s": round(one, 3),
        "run_with_50_posts_s": round(fifty, 3),
        "seconds_per_post_one_run_each": round(one, 4),
        "seconds_per_post_batched": round(fifty / 50, 4),
        "batched_is_x_times_cheaper_per_post": round(one / (fifty / 50), 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
