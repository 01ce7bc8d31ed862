"""Hold, don't fail: a revoked account's jobs wait untried, the user hears of it once, and
reconnecting publishes what is still on time and dead-letters what is too late."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import (
    AccountStatus,
    AnalyticsEvent,
    JobStatus,
    Post,
    PostStatus,
    PublishAttempt,
    PublishJob,
    SocialAccount,
)
from postiz_pipelines.core.publishing import hold, queue
from postiz_pipelines.core.publishing.deadletter import list_dead_letter, requeue_jobs
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app
from postiz_pipelines_tests.core.test_webhooks import Receiver, _sub, deliver

BASE = "http://sandbox.test/mastodon"
GRACE = timedelta(hours=24)


@pytest.fixture
def sandbox(clock):  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=7)
    return state, SandboxTransport(create_app(state), timeout=0.5)


def jobs_of(app, ids):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return {j.id: j for j in s.scalars(select(PublishJob).where(PublishJob.id.in_(ids)))}


def events(app):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return Counter(e.event_type for e in s.scalars(select(AnalyticsEvent)))


def disconnect(app, account_id, clock, reason="invalid_grant: the user revoked the app"):  # type: ignore[no-untyped-def]
    with app.db.session() as s:
        account = s.get(SocialAccount, account_id)
        return hold.mark_reconnect_needed(s, account, reason=reason, now=clock.now(), actor="test")


def reconnect(app, account_id, clock):  # type: ignore[no-untyped-def]
    """What a reconnect does: the account is active again and its held jobs released."""
    with app.db.session() as s:
        account = s.get(SocialAccount, account_id)
        account.status = AccountStatus.ACTIVE
        return hold.release_held_jobs(s, account_id=account_id, now=clock.now(), grace=GRACE)


def test_disconnection_holds_waiting_jobs_once_and_leaves_others_alone(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws, base_url=BASE, handle="zoë 🌷")
    other = make.account(ws, base_url=BASE, handle="bob", token="tok-bob")
    now = clock.now()
    ids = make.jobs(ws, acc, 3, run_at=now)
    [claimed] = queue.claim_due_jobs(app.db, owner="w1", now=now, limit=1)
    due = claimed.id  # being sent right now
    later, running = (i for i in ids if i != due)
    [bobs] = make.jobs(ws, other, 1, run_at=now)

    assert disconnect(app, acc.id, clock) is True
    assert disconnect(app, acc.id, clock) is False  # the second report changes nothing
    jobs = jobs_of(app, [due, later, running, bobs])
    assert jobs[due].status == JobStatus.RUNNING  # a call in flight finishes as usual
    assert {jobs[later].status, jobs[running].status} == {JobStatus.HELD}
    assert jobs[later].held_at == now and jobs[later].attempts == 0
    assert jobs[bobs].status == JobStatus.PENDING
    assert events(app)["account_disconnected"] == 1
    with app.db.read() as s:
        account = s.get(SocialAccount, acc.id)
        assert account.status == AccountStatus.RECONNECT_NEEDED
        assert account.status_reason == "invalid_grant: the user revoked the app"
        ev = s.scalar(
            select(AnalyticsEvent).where(AnalyticsEvent.event_type == "account_disconnected")
        )
        assert ev.data["held_jobs"] == 2 and ev.data["handle"] == "zoë 🌷"
        counts = hold.held_counts(s)
    assert counts == {ws.id: 2}
    # no claim takes a held job, however far the clock goes
    taken = queue.claim_due_jobs(app.db, owner="w2", now=now + timedelta(days=3))
    assert [j.id for j in taken] == [bobs]


def test_legacy_statuses_read_as_reconnect_needed_and_are_not_announced_again(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws, base_url=BASE)
    [job] = make.jobs(ws, acc, 1, run_at=clock.now())
    with app.db.session() as s:
        s.get(SocialAccount, acc.id).status = AccountStatus.REVOKED
    assert (
        hold.effective_status("revoked") == hold.effective_status("expired") == ("reconnect_needed")
    )
    assert hold.effective_status("active") == "active"
    assert disconnect(app, acc.id, clock) is False
    assert events(app)["account_disconnected"] == 0
    assert jobs_of(app, [job])[job].status == JobStatus.HELD
    with app.db.read() as s:
        assert s.get(SocialAccount, acc.id).status == AccountStatus.RECONNECT_NEEDED


def test_the_outgoing_webhook_says_disconnected_once_not_once_per_post(app, make, clock, sandbox):
    state, transport = sandbox
    ws = make.workspace()
    acc = make.account(ws, base_url=BASE)
    make.jobs(ws, acc, 4, run_at=clock.now())
    _sub(app, ws.id, "/ok", clock.now())  # every event, the new one included
    state.revoke_token("mastodon", "tok-alice")
    report = publish_due(app, owner="run-1", clock=clock, transport=transport)
    assert report.as_dict()["held"] == 4 and report.as_dict()["failed"] == 0
    rx = Receiver()
    counts = deliver(app, now=clock.now() + timedelta(seconds=30), transport=rx.transport)
    bodies = [json.loads(b) for _, _, b in rx.got]
    assert counts["delivered"] == 1
    assert [(b["type"], b["data"]["accountId"]) for b in bodies] == [
        ("account.disconnected", acc.id)
    ]
    with app.db.read() as s:
        attempts = list(s.scalars(select(PublishAttempt)))
    # one call found the grant gone; the other three were never tried
    assert len(attempts) == 1 and attempts[0].error_class == "auth_revoked"


def test_reconnect_publishes_what_is_on_time_and_dead_letters_what_is_too_late(
    app, make, clock, sandbox
):
    state, transport = sandbox
    ws = make.workspace()
    acc = make.account(ws, base_url=BASE)
    start = clock.now()
    [early] = make.jobs(ws, acc, 1, run_at=start, text="early")
    [recent] = make.jobs(ws, acc, 1, run_at=start + timedelta(hours=20), text="récent")
    [future] = make.jobs(ws, acc, 1, run_at=start + timedelta(hours=40), text="future")
    assert disconnect(app, acc.id, clock)
    clock.advance(30 * 3600)  # early is 30 h late, recent 10 h, future still ahead

    report = reconnect(app, acc.id, clock)
    assert (report.released, report.dead_lettered) == (2, 1)
    assert sorted(report.released_ids) == sorted([recent, future])
    assert report.dead_lettered_ids == [early]
    jobs = jobs_of(app, [early, recent, future])
    assert jobs[early].status == JobStatus.FAILED
    assert jobs[early].last_error_class == "missed_while_disconnected"
    assert "24 h" in (jobs[early].last_error or "")
    assert jobs[recent].status == JobStatus.PENDING and jobs[recent].next_attempt_at == clock.now()
    assert jobs[future].next_attempt_at == start + timedelta(hours=40)  # not early
    assert jobs[recent].held_reason is None and jobs[recent].held_at is None

    published = publish_due(app, owner="run-1", clock=clock, transport=transport)
    assert published.as_dict()["completed"] == 1
    assert [p.text for p in state.accepted("mastodon")] == ["récent 0"]
    with app.db.read() as s:
        page = list_dead_letter(s, workspace_ids=[ws.id])
        assert [j.id for j in page.jobs] == [early]
        assert s.get(Post, jobs[early].post_id).status == PostStatus.FAILED
    # a person reschedules the missed one from the dead-letter queue
    with app.db.session() as s:
        requeue_jobs(s, [s.get(PublishJob, early)], now=clock.now())
    assert (
        publish_due(app, owner="run-2", clock=clock, transport=transport).as_dict()["completed"]
        == 1
    )
    assert events(app)["post_publish_failed"] == 1  # the missed post, nothing for the held ones


def test_release_of_an_account_without_held_jobs_is_empty(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws, base_url=BASE)
    report = reconnect(app, acc.id, clock)
    assert report.as_dict() == {
        "released": 0,
        "deadLettered": 0,
        "releasedJobIds": [],
        "deadLetteredJobIds": [],
    }


def test_a_held_post_can_be_canceled_rescheduled_and_its_account_removed(app, make, clock):
    from postiz_pipelines.core.posts.edit import update_post
    from postiz_pipelines.core.posts.manage import cancel_post
    from postiz_pipelines.core.publishing.account_jobs import remove_account
    from postiz_pipelines.core.workspaces.store import get_workspace

    ws = make.workspace()
    acc = make.account(ws, base_url=BASE)
    later = clock.now() + timedelta(hours=3)
    kept, canceled, orphan = make.jobs(ws, acc, 3, run_at=later)
    assert disconnect(app, acc.id, clock)
    jobs = jobs_of(app, [kept, canceled, orphan])
    with app.db.session() as s:
        moved = clock.now() + timedelta(days=2, hours=1)  # across the DST change is fine too
        update_post(
            s,
            s.get(Post, jobs[kept].post_id),
            now=clock.now(),
            workspace=get_workspace(s, ws.slug),
            scheduled_at=moved,
        )
        cancel_post(s, s.get(Post, jobs[canceled].post_id), now=clock.now())
    after = jobs_of(app, [kept, canceled, orphan])
    assert after[kept].status == JobStatus.HELD and after[kept].run_at == moved  # still held
    assert after[canceled].status == JobStatus.CANCELED
    with app.db.session() as s:
        assert remove_account(s, s.get(SocialAccount, acc.id), now=clock.now()) == 2
    gone = jobs_of(app, [kept, orphan])
    assert {gone[kept].status, gone[orphan].status} == {JobStatus.CANCELED}
