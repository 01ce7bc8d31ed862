"""Both code locations load, every job, sensor and schedule resolves, and the publishing
location (what every publish run imports) stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml
from dagster import Definitions, MultiPartitionsDefinition

from postiz_pipelines.core.models import Platform
from postiz_pipelines.defs.definitions import defs as analytics_defs
from postiz_pipelines.defs.publishing_definitions import defs as publishing_defs
from postiz_pipelines.devserver import ROOT

HEAVY = ("pandas", "matplotlib", "PIL", "numpy")


def test_definitions_load_and_resolve():
    names = {"jobs": set(), "sensors": set(), "schedules": set()}
    for defs in (publishing_defs, analytics_defs):
        Definitions.validate_loadable(defs)
        repo = defs.get_repository_def()
        for sensor in repo.sensor_defs:
            for target in sensor.targets:
                assert repo.has_job(target.job_name)
        for schedule in repo.schedule_defs:
            assert repo.has_job(schedule.job_name)
        names["jobs"] |= {j.name for j in repo.get_all_jobs()}
        names["sensors"] |= {s.name for s in repo.sensor_defs}
        names["schedules"] |= {s.name for s in repo.schedule_defs}
    assert {"publish_job", "webhooks_job", "alerts_job", "lease_recovery_job"} <= names["jobs"]
    assert names["sensors"] == {
        "due_posts_sensor",
        "lease_recovery_sensor",
        "webhook_delivery_sensor",
        "alerts_sensor",
        "expiring_tokens_sensor",
    }
    assert names["schedules"] == {
        "expand_schedules_job_schedule",
        "analytics_schedule",
        "health_schedule",
        "engagement_schedule",
        "instance_limits_job_schedule",
        "refresh_tokens_schedule",
    }


def test_workspace_loads_both_locations():
    spec = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    modules = [e["python_module"]["module_name"] for e in spec["load_from"]]
    assert modules == [
        "postiz_pipelines.defs.publishing_definitions",
        "postiz_pipelines.defs.definitions",
    ]


def test_publish_job_is_partitioned_by_workspace_and_platform():
    job = publishing_defs.get_job_def("publish_job")
    pdef = job.partitions_def
    assert isinstance(pdef, MultiPartitionsDefinition)
    dims = {d.name: d.partitions_def for d in pdef.partitions_defs}
    assert set(dims) == {"workspace", "platform"}
    assert set(dims["platform"].get_partition_keys()) == {p.value for p in Platform}
    assert getattr(dims["workspace"], "name", None) == "workspaces"


def _loaded_in_fresh_process(module: str) -> list[str]:
    code = (
        f"import sys, json; import {module}; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_publish_runs_import_no_pandas_matplotlib_or_pillow():
    assert _loaded_in_fresh_process("postiz_pipelines.defs.publishing_definitions") == []
    # the check can fail: it sees pandas when something loads it (the analytics assets
    # import pandas and matplotlib only inside their functions, so loading no location does)
    assert "pandas" in _loaded_in_fresh_process("pandas")
