"""The demo runs again on the same data: a restarted sandbox knows none of the accounts the
database keeps, so the demo reconnects them in place before adding its posts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from postiz_pipelines.cli.demo import seed_demo
from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import AccountStatus, JobStatus, PublishJob, SocialAccount
from postiz_pipelines.sandbox.server import running_sandbox
from postiz_pipelines.sandbox.state import SandboxState
from postiz_pipelines.settings import Settings


def _seed_and_publish(env: dict[str, str], cli, now):  # type: ignore[no-untyped-def]
    app = AppContext.from_settings(Settings.from_env(env))
    try:
        with app.db.session() as s:
            seed_demo(
                s,
                app.keyring,
                sandbox_url=env["POSTIZ_SANDBOX_URL"],
                now=now,
                media_root=app.media_root,
                posts=3,
                spread_seconds=0,
            )
        cli.environ = env
        cli("publish")
        with app.db.read() as s:
            jobs = list(s.scalars(select(PublishJob)))
            accounts = {a.platform: (a.id, a.status) for a in s.scalars(select(SocialAccount))}
        return jobs, accounts
    finally:
        app.close()


def test_a_second_demo_start_publishes_everything(embedded_env, cli) -> None:  # type: ignore[no-untyped-def]
    now = utcnow() - timedelta(minutes=1)
    cli.now = now
    base = {**embedded_env, "POSTIZ_PUBLIC_URL": "https://posts.example"}
    with running_sandbox(state=SandboxState(seed=1)) as first:
        jobs, accounts = _seed_and_publish({**base, "POSTIZ_SANDBOX_URL": first}, cli, now)
    assert jobs and {j.status for j in jobs} == {JobStatus.COMPLETED}

    # the sandbox restarts with an empty memory; the database keeps the accounts and tokens
    second_state = SandboxState(seed=2)
    with running_sandbox(state=second_state) as second:
        later = now + timedelta(seconds=5)
        cli.now = later
        jobs_again, accounts_again = _seed_and_publish(
            {**base, "POSTIZ_SANDBOX_URL": second}, cli, later
        )
    assert {p: i for p, (i, _) in accounts_again.items()} == {
        p: i for p, (i, _) in accounts.items()
    }  # reconnected in place: the same rows
    assert {st for _, st in accounts_again.values()} == {AccountStatus.ACTIVE}
    new_jobs = [j for j in jobs_again if j.id not in {j.id for j in jobs}]
    assert new_jobs and {j.status for j in new_jobs} == {JobStatus.COMPLETED}, [
        (j.platform, j.status, j.last_error) for j in new_jobs if j.status != JobStatus.COMPLETED
    ]
    assert second_state.accepted("mastodon") and second_state.accepted("bluesky")
