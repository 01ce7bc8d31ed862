"""Mastodon instance limits: read from the instance's own ``/api/v2/instance``, kept in the
account's settings, used by validation, refreshed daily; a failed read keeps the last."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from postiz_pipelines.core.accounts.instances import refresh_instance_limits
from postiz_pipelines.core.accounts.store import target_problems
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import SocialAccount
from postiz_pipelines.providers.base import PostContent
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app
from postiz_pipelines_tests.conftest import Factory

BASE = "http://sandbox.test/mastodon"
NOW = datetime(2026, 11, 28, 4, 17, tzinfo=UTC)


@pytest.fixture
def state() -> SandboxState:
    return SandboxState(seed=1)


def _account(app: AppContext, account_id: str) -> SocialAccount:
    with app.db.read() as s:
        row = s.get(SocialAccount, account_id)
        assert row is not None
        return row


def test_a_5000_character_instance_takes_5000_after_the_daily_read(
    app: AppContext, make: Factory, state: SandboxState
) -> None:
    state.configure("mastodon", max_characters=5000, characters_reserved_per_url=30)
    state.provision("mastodon", "tok-alice", username="alice")
    ws = make.workspace()
    acc = make.account(ws, base_url=BASE)
    long_text = "Grüße 🎉 " + "x" * 4900  # 4,908 graphemes
    assert [p.limit for p in target_problems(_account(app, acc.id), PostContent(long_text))] == [
        500
    ]

    report = refresh_instance_limits(app, now=NOW, transport=SandboxTransport(create_app(state)))

    assert report.as_dict() == {"updated": 1, "failed": 0}
    row = _account(app, acc.id)
    assert row.settings["instance"]["max_characters"] == 5000
    assert row.settings["instance"]["characters_reserved_per_url"] == 30
    assert row.settings["instance_read_at"] == NOW.isoformat()
    assert target_problems(row, PostContent(long_text)) == []
    over = target_problems(row, PostContent("y" * 5001))
    assert [(p.field, p.value, p.limit) for p in over] == [("mastodon.text", 5001, 5000)]
    # a URL counts the instance's 30, not 23
    assert [
        p.value for p in target_problems(row, PostContent("z" * 4971 + " https://a.example/x"))
    ] == [5002]


def test_a_failed_read_keeps_the_limits_last_read(
    app: AppContext, make: Factory, state: SandboxState
) -> None:
    state.configure("mastodon", max_characters=1000)
    state.provision("mastodon", "tok-alice", username="alice")
    ws = make.workspace()
    acc = make.account(ws, base_url=BASE)
    transport = SandboxTransport(create_app(state))
    refresh_instance_limits(app, now=NOW, transport=transport)
    state.faults.set("mastodon", FaultSpec(outage=True))

    report = refresh_instance_limits(app, now=NOW, transport=transport)

    assert report.updated == [] and list(report.failed) == [acc.id]
    assert _account(app, acc.id).settings["instance"]["max_characters"] == 1000
