"""The Dagster definitions load, and every job, sensor and schedule resolves."""

from __future__ import annotations

from dagster import Definitions, MultiPartitionsDefinition

from postiz_pipelines.core.models import Platform
from postiz_pipelines.defs.definitions import defs


def test_definitions_load_and_resolve():
    Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {j.name for j in repo.get_all_jobs()} >= {"publish_job"}
    for sensor in repo.sensor_defs:
        for target in sensor.targets:
            assert repo.has_job(target.job_name)
    for schedule in repo.schedule_defs:
        assert repo.has_job(schedule.job_name)
    assert {s.name for s in repo.sensor_defs} >= {"due_posts_sensor", "lease_recovery_sensor"}


def test_publish_job_is_partitioned_by_workspace_and_platform():
    job = defs.get_job_def("publish_job")
    pdef = job.partitions_def
    assert isinstance(pdef, MultiPartitionsDefinition)
    dims = {d.name: d.partitions_def for d in pdef.partitions_defs}
    assert set(dims) == {"workspace", "platform"}
    assert set(dims["platform"].get_partition_keys()) == {p.value for p in Platform}
    assert getattr(dims["workspace"], "name", None) == "workspaces"
