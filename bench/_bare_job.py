"""A bare one-op Dagster job: the floor a publish run's overhead is measured against."""

from dagster import job, op


@op
def noop() -> int:
    return 1


@job
def bare_job() -> None:
    noop()
