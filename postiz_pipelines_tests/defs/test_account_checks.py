"""The account asset checks through Dagster: held jobs per workspace (failing once one is held
beyond the bound) and the OAuth client settings (failing with the missing variable's name,
the accounts untouched)."""

from __future__ import annotations

from datetime import timedelta

from dagster import DagsterInstance, materialize

from postiz_pipelines.core.models import AccountStatus, SocialAccount
from postiz_pipelines.core.publishing import hold
from postiz_pipelines.defs.analytics import AnalyticsClock, queue_health, token_health
from postiz_pipelines.defs.checks import held_jobs_within_bound, oauth_clients_configured
from postiz_pipelines.defs.resources import PostizResource


def _resources(env, now, **settings):  # type: ignore[no-untyped-def]
    return {
        "postiz": PostizResource(
            database_url=env["POSTIZ_DATABASE_URL"],
            data_dir=env["POSTIZ_DATA_DIR"],
            settings_overrides={"POSTIZ_ENCRYPTION_KEY": env["POSTIZ_ENCRYPTION_KEY"], **settings},
        ),
        "analytics_clock": AnalyticsClock(fixed_now=now.isoformat()),
    }


def _evals(env, now, **settings):  # type: ignore[no-untyped-def]
    result = materialize(
        [queue_health, token_health, held_jobs_within_bound, oauth_clients_configured],
        instance=DagsterInstance.ephemeral(),
        resources=_resources(env, now, **settings),
    )
    assert result.success
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def test_held_jobs_pass_while_fresh_and_fail_beyond_the_bound(app, make, env, clock):
    ws = make.workspace("acme-2")
    acc = make.account(ws, handle="zoë 🌷")
    make.jobs(ws, acc, 2, run_at=clock.now())
    with app.db.session() as s:
        hold.mark_reconnect_needed(
            s, s.get(SocialAccount, acc.id), reason="revoked", now=clock.now(), actor="test"
        )
    fresh = _evals(env, clock.now() + timedelta(hours=1))["held_jobs_within_bound"]
    assert fresh.passed and fresh.metadata["held_jobs"].value == 2
    assert "acme-2" in fresh.metadata["offending"].value  # listed, not failing
    late = _evals(env, clock.now() + timedelta(hours=25))["held_jobs_within_bound"]
    assert not late.passed and late.metadata["workspaces_beyond_bound"].value == 1
    shorter = _evals(env, clock.now() + timedelta(hours=2), POSTIZ_HELD_JOB_ALARM_SECONDS="3600")[
        "held_jobs_within_bound"
    ]
    assert not shorter.passed  # the bound is a setting


def test_a_missing_client_id_fails_the_check_by_name_and_touches_no_account(app, make, env, clock):
    ws = make.workspace()
    x = make.account(ws, platform="x", handle="ada", token="x-at", refresh_token="x-rt")
    make.account(ws, platform="mastodon", handle="bob")  # needs no OAuth client
    evals = _evals(env, clock.now())
    check = evals["oauth_clients_configured"]
    assert not check.passed
    assert "POSTIZ_X_CLIENT_ID" in (check.description or "")
    assert "POSTIZ_X_CLIENT_ID" in check.metadata["offending"].value
    with app.db.read() as s:
        assert s.get(SocialAccount, x.id).status == AccountStatus.ACTIVE
    fixed = _evals(env, clock.now(), POSTIZ_X_CLIENT_ID="postiz-client")
    assert fixed["oauth_clients_configured"].passed
