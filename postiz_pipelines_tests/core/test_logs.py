"""Structured logs: JSON lines with the bound context, readable lines in a terminal, never
a secret; the same events reach Dagster's run log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from dagster import asset, instance_for_test, materialize

from postiz_pipelines.core.observability import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "postiz"]:
        root.removeHandler(handler)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logs._configured.clear()


def _lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_json_lines_carry_context_and_never_a_secret(capsys, restore_logging):
    logs.configure_logging(fmt="json", force=True)
    logs.bind(run_id="run-1")
    log = logs.get_logger("postiz_pipelines.test")
    log.info(
        "token refreshed",
        account_id="acc_1",
        access_token="tok-very-secret",
        note="sent Authorization: Bearer abcdefgh12345678 to the platform",
        handle="ünï 🎉",
    )
    with logs.bound(job_id="job_9", platform="mastodon", workspace_id="ws_1"):
        logging.getLogger("postiz_pipelines.core.publishing.engine").info("job %s done", "job_9")
    logging.getLogger("postiz_pipelines.other").info("after the block")
    err = capsys.readouterr().err
    assert "tok-very-secret" not in err and "abcdefgh12345678" not in err
    first, second, third = _lines(err)
    assert first["event"] == "token refreshed" and first["run_id"] == "run-1"
    assert first["access_token"] == "<redacted>" and first["handle"] == "ünï 🎉"
    assert "Bearer <redacted>" in first["note"] and first["level"] == "info"
    assert first["account_id"] == "acc_1" and first["timestamp"].endswith("Z")
    assert second["event"] == "job job_9 done"
    assert (second["job_id"], second["platform"], second["workspace_id"]) == (
        "job_9",
        "mastodon",
        "ws_1",
    )
    assert second["run_id"] == "run-1" and second["logger"].endswith("engine")
    assert "job_id" not in third  # the block's context ended with it


def test_console_lines_are_readable(capsys, restore_logging):
    logs.configure_logging(fmt="console", force=True)
    logs.get_logger("postiz_pipelines.test").warning("breaker open", platform="x", secret="s3")
    err = capsys.readouterr().err
    assert "breaker open" in err and "platform" in err and "s3" not in err
    assert not err.lstrip().startswith("{")


def test_the_same_events_reach_the_dagster_run_log(restore_logging):
    logs.configure_logging(fmt="json", force=True)

    @asset
    def noisy() -> int:
        logs.get_logger("postiz_pipelines.defs.test").info(
            "engagement pulled", platform="bluesky", posts=3, password="hunter2"
        )
        return 1

    overrides = {"python_logs": {"managed_python_loggers": ["postiz_pipelines"]}}
    with instance_for_test(overrides=overrides) as instance:
        result = materialize([noisy], instance=instance)
        assert result.success
        messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
    [line] = [m for m in messages if "engagement pulled" in m]
    assert "platform=bluesky" in line and "posts=3" in line
    assert "hunter2" not in line and "password=<redacted>" in line
