"""Every sensor. A sensor decides, a job works: a tick reads the app database and the Dagster
instance, never calls a platform or a receiver, and asks for runs with idempotent keys.

- ``due_posts_sensor``: one publish run per partition window with due jobs (``dispatch.py``).
- ``webhook_delivery_sensor``, ``lease_recovery_sensor``: their job, when there is work and
  no run of it is in progress; at most one per time bucket.
- ``alerts_sensor``: the alerts job when an alert condition holds (once per quiet period) or
  an alert is waiting to be sent, one run at a time.
- ``expiring_tokens_sensor``: the token refresh, at most once an hour, when tokens expire;
  ``refresh_tokens_schedule`` runs it hourly regardless (the seed's batch, on by default).

No sensor keeps a cursor: each decision is made again from the databases, so a lost tick
or a restarted daemon changes nothing.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from datetime import datetime, timedelta

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRecord,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from postiz_pipelines.core.accounts.token_batch import expiring_accounts
from postiz_pipelines.core.observability.alerts import AlertPolicy, find_alerts, unsent_alerts
from postiz_pipelines.core.observability.webhook_work import webhook_work
from postiz_pipelines.core.publishing import dispatch
from postiz_pipelines.core.publishing.windows import WindowPolicy
from postiz_pipelines.defs.maintenance import (
    alerts_job,
    lease_recovery_job,
    refresh_tokens_job,
    webhooks_job,
)
from postiz_pipelines.defs.partitions import WORKSPACES, partition_key
from postiz_pipelines.defs.publish import WINDOW_END_TAG, WINDOW_TAG, publish_job, run_window
from postiz_pipelines.defs.resources import PostizResource

ATTEMPT_TAG = "postiz/attempt"
IN_PROGRESS = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
_STATES = {
    DagsterRunStatus.STARTED: dispatch.RUNNING,
    DagsterRunStatus.CANCELING: dispatch.RUNNING,
    DagsterRunStatus.SUCCESS: dispatch.ENDED,
    DagsterRunStatus.FAILURE: dispatch.ENDED,
    DagsterRunStatus.CANCELED: dispatch.ENDED,
}  # queued, not started, starting, managed: waiting


def _bucket(now: datetime, seconds: int) -> str:
    """``now`` floored to a multiple of ``seconds``: one run key per bucket."""
    start = int(now.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(start, now.tzinfo).strftime("%Y%m%dT%H%M%SZ")


def _in_progress(instance: DagsterInstance, job_name: str) -> bool:
    return bool(instance.get_runs(RunsFilter(job_name=job_name, statuses=IN_PROGRESS), limit=1))


# -- publishing ------------------------------------------------------------------------------
def _window_runs(
    instance: DagsterInstance, *, now: datetime, policy: WindowPolicy
) -> tuple[dict[tuple[str, str, str], list[RunRecord]], list[RunRecord]]:
    """The window runs that can still matter, by (workspace, platform, window key)."""
    since = now - ((policy.max_windows + 1) * policy.length + policy.lead + policy.grace)
    records = instance.get_run_records(
        RunsFilter(job_name=publish_job.name, created_after=since), limit=100_000
    )
    by_window: dict[tuple[str, str, str], list[RunRecord]] = {}
    for rec in records:
        tags = rec.dagster_run.tags
        window = run_window(tags)
        if window is None:
            continue  # launched by hand: serves no window
        partition = (tags.get("postiz/workspace", ""), tags.get("postiz/platform", ""))
        # a run that carried on serves every window up to its (moved) window end
        for key in policy.covered_keys(window, window.end):
            by_window.setdefault((*partition, key), []).append(rec)
    return by_window, list(records)


def _seen(rec: RunRecord, beats: dict[str, datetime]) -> dispatch.SeenRun:
    run = rec.dagster_run
    started = rec.start_time
    return dispatch.SeenRun(
        run_id=run.run_id,
        attempt=int(run.tags.get(ATTEMPT_TAG, "0")),
        state=_STATES.get(run.status, dispatch.WAITING),
        started_at=datetime.fromtimestamp(started).astimezone() if started else None,
        heartbeat_at=beats.get(run.run_id),
    )


def _request(req: dispatch.WindowRequest, policy: WindowPolicy) -> RunRequest:
    d = req.due
    budget = policy.length + policy.lead + policy.grace + timedelta(minutes=2)
    return RunRequest(
        run_key=req.run_key,
        partition_key=partition_key(d.workspace_slug, d.platform),
        tags={
            "postiz/platform": d.platform,
            "postiz/workspace": d.workspace_slug,
            WINDOW_TAG: d.window.key,
            WINDOW_END_TAG: d.window.end.strftime("%Y%m%dT%H%M%SZ"),
            ATTEMPT_TAG: str(req.attempt),
            # run monitoring ends a run that outlives its window by far (it hangs)
            "dagster/max_runtime": str(int(budget.total_seconds())),
        },
    )


@sensor(
    job=publish_job,
    minimum_interval_seconds=10,
    default_status=DefaultSensorStatus.RUNNING,
    description="One publish run per (workspace, platform) and window with due posts, "
    "asked for before the window starts; a dead run is replaced, never duplicated.",
)
def due_posts_sensor(
    context: SensorEvaluationContext, postiz: PostizResource
) -> SensorResult | SkipReason:
    app = postiz.app()
    now = postiz.clock().now()
    policy = WindowPolicy.from_settings(app.settings)
    with app.db.read() as s:
        due = dispatch.due_windows(s, now=now, policy=policy)
    if not due:
        return SkipReason(f"no posts due by {now.isoformat(timespec='seconds')} + look-ahead")
    by_window, records = _window_runs(context.instance, now=now, policy=policy)
    running = [r.dagster_run.run_id for r in records if _STATES.get(r.dagster_run.status)]
    with app.db.read() as s:
        beats = dispatch.heartbeats(s, running)
    seen = {k: [_seen(r, beats) for r in recs] for k, recs in by_window.items()}
    plan = dispatch.plan_window_runs(due, seen, now=now, policy=policy)
    if not plan.requests:
        return SkipReason(
            f"{len(due)} windows due: {plan.waiting} served by a run"
            + (f", {plan.gave_up} out of replacements" if plan.gave_up else "")
        )
    known = set(context.instance.get_dynamic_partitions(WORKSPACES))
    new = sorted({r.due.workspace_slug for r in plan.requests} - known)
    if new:
        # Added before the run requests so that their partition keys are valid.
        context.instance.add_dynamic_partitions(WORKSPACES, new)
    by_id = {r.dagster_run.run_id: r.dagster_run for r in records}
    for run_id in plan.dead_runs:
        context.instance.report_run_failed(
            by_id[run_id],
            f"no heartbeat for over {int(policy.heartbeat_stale.total_seconds())} s: the run's "
            "process died; a replacement serves the rest of its window",
        )
    dispatch.mark_requested(app, plan.requests, now=now)
    return SensorResult(run_requests=[_request(r, policy) for r in plan.requests])


# -- maintenance -----------------------------------------------------------------------------
@sensor(
    job=webhooks_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launch the webhook delivery when events or deliveries wait, one run at a time.",
)
def webhook_delivery_sensor(
    context: SensorEvaluationContext, postiz: PostizResource
) -> RunRequest | SkipReason:
    now = postiz.clock().now()
    with postiz.app().db.read() as s:
        work = webhook_work(s, now=now)
    if not any(work.values()):
        return SkipReason("no webhook deliveries due and no subscription behind")
    if _in_progress(context.instance, webhooks_job.name):
        return SkipReason(f"a delivery run is in progress ({work})")
    return RunRequest(run_key=f"webhooks:{_bucket(now, 30)}", tags={"postiz/work": str(work)})


@sensor(
    job=lease_recovery_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launch lease recovery when jobs hold expired leases (their run died).",
)
def lease_recovery_sensor(
    context: SensorEvaluationContext, postiz: PostizResource
) -> RunRequest | SkipReason:
    now = postiz.clock().now()
    with postiz.app().db.read() as s:
        expired = dispatch.expired_leases(s, now=now)
    if not expired:
        return SkipReason("no expired lease")
    if _in_progress(context.instance, lease_recovery_job.name):
        return SkipReason(f"{expired} expired leases; a recovery run is in progress")
    return RunRequest(
        run_key=f"recover-leases:{_bucket(now, 60)}", tags={"postiz/expired": str(expired)}
    )


@sensor(
    job=alerts_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launch the alerts job when a failure spike, an open breaker or a growing "
    "dead-letter queue is seen; once per quiet period for the same alerts.",
)
def alerts_sensor(
    context: SensorEvaluationContext, postiz: PostizResource
) -> RunRequest | SkipReason:
    app = postiz.app()
    now = postiz.clock().now()
    policy = AlertPolicy()
    with app.db.read() as s:
        found = find_alerts(s, now=now, policy=policy)
        unsent = (
            unsent_alerts(s, now=now, since=now - policy.resend_for)
            if app.settings.alert_webhook_url
            else []
        )
    if not found and not unsent:
        return SkipReason("no alert condition and no alert waiting to be sent")
    if _in_progress(context.instance, alerts_job.name):  # one deliverer at a time
        return SkipReason("an alerts run is in progress")
    names = ",".join(sorted(f"{a.kind}:{a.subject}" for a in found)) or "-"
    key = f"alerts:{names}:{_bucket(now, int(policy.quiet.total_seconds()))}"
    if unsent:  # a failed notice is sent again, every 5 minutes at most
        key += f":resend:{_bucket(now, 300)}"
    return RunRequest(run_key=key, tags={"postiz/alerts": names, "postiz/unsent": str(len(unsent))})


@sensor(
    job=refresh_tokens_job,
    minimum_interval_seconds=600,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launch a token refresh, at most once an hour, when tokens expire within 24 h.",
)
def expiring_tokens_sensor(
    context: SensorEvaluationContext, postiz: PostizResource
) -> RunRequest | SkipReason:
    now = postiz.clock().now()
    expiring = expiring_accounts(postiz.app(), now=now)
    if not expiring:
        return SkipReason("no token expires within 24 h")
    return RunRequest(
        run_key=f"refresh-tokens:{now:%Y%m%dT%H}", tags={"postiz/accounts": str(len(expiring))}
    )


# The seed's hourly batch, on by default; the sensor above launches it early when needed.
refresh_tokens_schedule = ScheduleDefinition(
    name="refresh_tokens_schedule",
    job=refresh_tokens_job,
    cron_schedule="7 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly, like the seed's batch: refresh every token expiring within 24 h.",
)


all_sensors = [
    due_posts_sensor,
    webhook_delivery_sensor,
    lease_recovery_sensor,
    alerts_sensor,
    expiring_tokens_sensor,
]
