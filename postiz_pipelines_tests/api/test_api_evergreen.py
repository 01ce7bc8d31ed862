"""The evergreen timetable and library, category pauses and posting slots through HTTP, and
their expansion into jobs by ``POST /api/postiz/worker/process {"includeScheduler": true}``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from postiz_pipelines.core.models import (
    AuditLog,
    EvergreenPost,
    EvergreenTimetable,
    Post,
    PublishJob,
    SocialAccount,
)

EVERGREEN = "/api/postiz/evergreen"
TIMETABLE = f"{EVERGREEN}/timetable"
LIBRARY = f"{EVERGREEN}/posts"
PROCESS = "/api/postiz/worker/process"
# the test clock reads Saturday 2026-11-28 12:00 UTC, 13:00 in Berlin (acme's zone)


def _timetable(world, **extra):  # type: ignore[no-untyped-def]
    return {
        "slots": [
            {"weekday": 5, "time": "15:00", "category": "tips"},
            {"weekday": 6, "time": "10:00", "category": "news"},
        ],
        "accountIds": [world.account_a],
        "timezone": "Europe/Berlin",
        **extra,
    }


def _add(client, world, category: str, *texts: str, who: str = "owner", **extra):  # type: ignore[no-untyped-def]
    body = {"workspaceId": world.a, "category": category, "variations": list(texts), **extra}
    return client.post(LIBRARY, headers=world.h(who), json=body)


def _jobs(app) -> list[tuple[datetime, str]]:  # type: ignore[no-untyped-def]
    """(run_at, the text the target publishes) of every job, by time."""
    with app.db.read() as s:
        out = []
        for job in s.scalars(select(PublishJob).order_by(PublishJob.run_at)):
            post = s.get(Post, job.post_id)
            text = next(t.content_override for t in post.targets if t.id == job.target_id)
            at = job.run_at if job.run_at.tzinfo else job.run_at.replace(tzinfo=UTC)
            out.append((at, text))
        return out


def _count(app, model) -> int:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_timetable_library_and_expansion_through_the_worker(
    client, world, app, clock, worker_headers, sandbox_state
):
    assert client.get(TIMETABLE, headers=world.h()).status_code == 404  # none yet
    put = client.put(TIMETABLE, headers=world.h("editor"), json=_timetable(world))
    assert put.status_code == 200, put.text
    table = put.json()
    assert table["slots"][0] == {"weekday": 5, "time": "15:00", "category": "tips"}
    assert table["accountIds"] == [world.account_a] and table["status"] == "active"
    assert client.get(TIMETABLE, headers=world.h("viewer")).json() == table

    tip = _add(client, world, "tips", "Tip A", "Tip A, again", maxUses=5)
    assert tip.status_code == 201, tip.text
    assert tip.json()["variations"] == ["Tip A", "Tip A, again"] and tip.json()["uses"] == 0
    assert _add(client, world, "news", "News 1").status_code == 201
    listed = client.get(LIBRARY, headers=world.h("viewer"), params={"category": "tips"})
    assert [p["id"] for p in listed.json()["posts"]] == [tip.json()["id"]]
    assert _jobs(app) == []  # the scheduler pass plans, not the PUT

    r = client.post(PROCESS, headers=worker_headers, json={"includeScheduler": True})
    assert r.status_code == 200, r.text
    assert r.json()["scheduler"]["result"]["evergreen_picks"] == 2
    tips_at = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)  # Saturday 15:00 in Berlin
    news_at = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # Sunday 10:00 in Berlin
    assert _jobs(app) == [(tips_at, "Tip A"), (news_at, "News 1")]
    again = client.post(PROCESS, headers=worker_headers, json={"includeScheduler": True})
    assert again.json()["scheduler"]["result"]["jobs_created"] == 0  # idempotent
    assert len(_jobs(app)) == 2

    clock.set(tips_at)
    done = client.post(PROCESS, headers=worker_headers, json={})
    assert done.json()["processed"]["completed"] == 1
    assert [p.text for p in sandbox_state.accepted("mastodon")] == ["Tip A"]
    after = client.get(LIBRARY, headers=world.h(), params={"category": "tips"}).json()["posts"]
    assert after[0]["uses"] == 1


def test_pausing_a_category_removes_its_planned_jobs(client, world, app, worker_headers):
    client.put(TIMETABLE, headers=world.h(), json=_timetable(world))
    _add(client, world, "tips", "Tip A")
    _add(client, world, "news", "News 1")
    client.post(PROCESS, headers=worker_headers, json={"includeScheduler": True})
    assert len(_jobs(app)) == 2

    paused = client.post(f"{EVERGREEN}/categories/news/pause", headers=world.h("editor"))
    assert paused.status_code == 200, paused.text
    assert paused.json()["pausedCategories"] == ["news"] and paused.json()["removedJobs"] == 1
    assert [text for _, text in _jobs(app)] == ["Tip A"]
    assert client.get(TIMETABLE, headers=world.h()).json()["pausedCategories"] == ["news"]

    resumed = client.post(
        f"{EVERGREEN}/categories/news/resume",
        headers=world.h(),
        params={"workspace_id": world.a},
    )
    assert resumed.status_code == 200 and resumed.json()["pausedCategories"] == []
    assert resumed.json()["removedJobs"] == 0
    with app.db.read() as s:
        actions = list(
            s.scalars(
                select(AuditLog.action)
                .where(AuditLog.action.like("evergreen.%"))
                .order_by(AuditLog.id)
            )
        )
    assert actions == [
        "evergreen.timetable",
        "evergreen.add",
        "evergreen.add",
        "evergreen.pause",
        "evergreen.resume",
    ]


def test_pausing_a_category_needs_a_timetable_and_an_editor(client, world):
    none = client.post(f"{EVERGREEN}/categories/tips/pause", headers=world.h())
    assert none.status_code == 404 and "evergreen timetable" in none.json()["detail"]
    client.put(TIMETABLE, headers=world.h(), json=_timetable(world))
    viewer = client.post(f"{EVERGREEN}/categories/tips/pause", headers=world.h("viewer"))
    assert viewer.status_code == 403
    assert client.get(TIMETABLE, headers=world.h()).json()["pausedCategories"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slots": [{"weekday": 5, "time": "25:00", "category": "tips"}]}, "slots[0].time"),
        ({"slots": [{"weekday": 9, "time": "10:00", "category": "tips"}]}, "slots[0].weekday"),
        ({"slots": [{"weekday": 1, "time": "10:00", "category": ""}]}, "slots[0].category"),
        (
            {
                "slots": [
                    {"weekday": 1, "time": "10:00", "category": "a"},
                    {"weekday": 1, "time": "10:00", "category": "a"},
                ]
            },
            "slots[1]",
        ),
        ({"accountIds": ["acc_nope"]}, "accountIds[0]"),
        ({"accountIds": []}, "accountIds"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"cooldownSeconds": -5}, "cooldownSeconds"),
        ({"seed": 2**40}, "seed"),
    ],
)
def test_a_refused_timetable_names_the_field_and_stores_nothing(client, world, app, change, field):
    r = client.put(TIMETABLE, headers=world.h(), json=_timetable(world, **change))
    assert r.status_code == 422, r.text
    assert field in [p["field"] for p in r.json()["problems"]], r.json()
    assert _count(app, EvergreenTimetable) == 0


@pytest.mark.parametrize(
    ("texts", "extra", "field"),
    [
        ((" ",), {}, "variations"),
        ((), {}, "variations"),
        (("ok",), {"maxUses": 0}, "maxUses"),
        (("ok",), {"cooldownSeconds": -1}, "cooldownSeconds"),
        (("ok",), {"expiresAt": "soon"}, "expiresAt"),
        (("ok",), {"category": "   "}, "category"),
        (("x" * 600,), {}, "variations[0].mastodon.text"),
    ],
)
def test_a_refused_library_post_names_the_field_and_stores_nothing(
    client, world, app, texts, extra, field
):
    client.put(TIMETABLE, headers=world.h(), json=_timetable(world))  # mastodon: 500 characters
    body = {"workspaceId": world.a, "category": "tips", "variations": list(texts), **extra}
    r = client.post(LIBRARY, headers=world.h(), json=body)
    assert r.status_code == 422, r.text
    assert field in [p["field"] for p in r.json()["problems"]], r.json()
    assert _count(app, EvergreenPost) == 0


def test_a_library_post_expires_at_local_time_and_is_removed(client, world, app):
    r = _add(client, world, "tips", "Tip", expiresAt="2027-01-01T00:00", cooldownSeconds=86400)
    assert r.status_code == 201, r.text
    assert r.json()["expiresAt"] == "2026-12-31T23:00:00+00:00"  # midnight in Berlin
    pid = r.json()["id"]
    assert client.delete(f"{LIBRARY}/{pid}", headers=world.h("viewer")).status_code == 403
    assert client.delete(f"{LIBRARY}/{pid}", headers=world.h("editor")).status_code == 204
    assert client.get(LIBRARY, headers=world.h()).json()["posts"] == []
    assert client.delete(f"{LIBRARY}/{pid}", headers=world.h()).status_code == 404
    with app.db.read() as s:
        assert s.get(EvergreenPost, pid).deleted_at is not None  # kept as history


def test_another_workspace_sees_none_of_it(client, world, app):
    client.put(TIMETABLE, headers=world.h(), json=_timetable(world))
    pid = _add(client, world, "tips", "Tip").json()["id"]
    outsider = world.h("b_owner")
    assert client.get(TIMETABLE, headers=outsider).status_code == 404
    assert client.get(LIBRARY, headers=outsider).json()["posts"] == []
    assert client.delete(f"{LIBRARY}/{pid}", headers=outsider).status_code == 404
    foreign = client.get(TIMETABLE, headers=outsider, params={"workspace_id": world.a})
    assert foreign.status_code == 404
    assert (
        client.post(
            LIBRARY,
            headers=outsider,
            json={"workspaceId": world.a, "category": "x", "variations": ["y"]},
        ).status_code
        == 404
    )
    assert _count(app, EvergreenPost) == 1


def test_an_idempotent_library_post_is_added_once(client, world, app):
    headers = {**world.h(), "Idempotency-Key": "tip-1"}
    body = {"workspaceId": world.a, "category": "tips", "variations": ["Tip"]}
    first = client.post(LIBRARY, headers=headers, json=body)
    replay = client.post(LIBRARY, headers=headers, json=body)
    assert first.status_code == replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
    assert _count(app, EvergreenPost) == 1


# -- posting slots -----------------------------------------------------------------------
def _slots_url(world) -> str:  # type: ignore[no-untyped-def]
    return f"/api/postiz/accounts/{world.account_a}/slots"


def test_posting_slots_feed_next_slot(client, world, app, clock):
    slots = [{"weekday": 0, "time": "09:00"}, {"weekday": 3, "time": "17:30"}]
    r = client.put(_slots_url(world), headers=world.h("editor"), json={"slots": slots})
    assert r.status_code == 200, r.text
    assert r.json() == {"accountId": world.account_a, "slots": slots}

    post = client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={
            "content": "queued",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "scheduledAt": "next_slot",
        },
    )
    assert post.status_code == 201, post.text
    # Monday 09:00 in Berlin is 08:00 UTC
    assert post.json()["scheduledAt"] == "2026-11-30T08:00:00+00:00"
    with app.db.read() as s:
        audit = s.scalar(select(AuditLog).where(AuditLog.action == "account.slots"))
        assert audit.object_id == world.account_a and audit.details["slots"] == 2


@pytest.mark.parametrize(
    ("slots", "field"),
    [
        ([{"weekday": 0, "time": "25:00"}], "slots[0].time"),
        ([{"weekday": 0, "time": "9am"}], "slots[0].time"),
        ([{"weekday": 7, "time": "09:00"}], "slots[0].weekday"),
        ([{"weekday": 0, "time": "09:00"}, {"weekday": 0, "time": "9:00"}], "slots[1]"),
    ],
)
def test_bad_posting_slots_are_named_and_not_stored(client, world, app, slots, field):
    client.put(
        _slots_url(world), headers=world.h(), json={"slots": [{"weekday": 1, "time": "08:00"}]}
    )
    r = client.put(_slots_url(world), headers=world.h(), json={"slots": slots})
    assert r.status_code == 422, r.text
    assert field in [p["field"] for p in r.json()["problems"]], r.json()
    with app.db.read() as s:
        stored = s.get(SocialAccount, world.account_a).settings["slots"]
    assert stored == [{"weekday": 1, "time": "08:00"}]


def test_posting_slots_need_an_editor_of_the_account_workspace(client, world, app):
    body = {"slots": [{"weekday": 0, "time": "09:00"}]}
    assert client.put(_slots_url(world), headers=world.h("viewer"), json=body).status_code == 403
    assert client.put(_slots_url(world), headers=world.h("b_owner"), json=body).status_code == 404
    with app.db.read() as s:
        assert "slots" not in (s.get(SocialAccount, world.account_a).settings or {})


def test_without_slots_next_slot_is_refused(client, world, app):
    r = client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={
            "content": "queued",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "scheduledAt": "next_slot",
        },
    )
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "targetAccounts[0].slots"
    assert _count(app, Post) == 0
