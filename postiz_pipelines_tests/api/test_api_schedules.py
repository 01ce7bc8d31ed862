"""Recurring posts and ``/api/postiz/schedules`` through HTTP: creation makes the next 24 h of
jobs, pause removes waiting jobs, resume re-expands, PATCH replaces the rule, DELETE removes;
every refusal names the field as the client wrote it and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from postiz_pipelines.core.models import AuditLog, Post, PublishJob, Schedule

POSTS = "/api/postiz/posts"
SCHEDULES = "/api/postiz/schedules"
# the test clock reads 2026-11-28 12:00 UTC, a Saturday; workspace acme is Europe/Berlin


def _recurring(client, world, who: str = "owner", **rule):  # type: ignore[no-untyped-def]
    return client.post(
        POSTS,
        headers=world.h(who),
        json={
            "content": "a recurring tip",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "schedule": {"kind": "recurring", **rule},
        },
    )


def _job_times(app) -> list[datetime]:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        rows = s.scalars(select(PublishJob.run_at).order_by(PublishJob.run_at))
        return [t if t.tzinfo else t.replace(tzinfo=UTC) for t in rows]


def _count(app, model) -> int:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _at(hour: int, minute: int = 0, day: int = 28) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_a_recurring_post_makes_jobs_for_the_next_24_hours(client, world, app):
    r = _recurring(client, world, cron="0 */6 * * *", timezone="UTC")
    assert r.status_code == 201, r.text
    post = r.json()
    schedule = post["schedule"]
    assert schedule["kind"] == "recurring" and schedule["status"] == "active"
    assert schedule["cron"] == "0 */6 * * *" and schedule["rrule"] is None
    assert schedule["waitingJobs"] == 4 and schedule["postId"] == post["id"]
    # the window is [now, now + 24 h): 12:00 today is in, 12:00 tomorrow is not
    assert _job_times(app) == [_at(12), _at(18), _at(0, day=29), _at(6, day=29)]


def test_an_rrule_is_read_on_the_wall_clock_of_its_zone(client, world, app):
    r = _recurring(
        client,
        world,
        rrule="FREQ=DAILY;BYHOUR=9;BYMINUTE=0",
        timezone="Europe/Berlin",
        count=3,
        graceSeconds=600,
    )
    assert r.status_code == 201, r.text
    assert r.json()["schedule"]["count"] == 3 and r.json()["schedule"]["graceSeconds"] == 600
    assert _job_times(app) == [_at(8, day=29)]  # 09:00 in Berlin (CET) is 08:00 UTC


def test_a_recurring_post_without_a_zone_takes_the_workspace_zone(client, world, app):
    r = _recurring(client, world, cron="30 9 * * *")
    assert r.status_code == 201, r.text
    assert r.json()["schedule"]["timezone"] is None
    assert _job_times(app) == [_at(8, 30, day=29)]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "schedule.rrule"),
        ({"cron": "99 * * * *"}, "schedule.cron"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Olympus_Mons"}, "schedule.timezone"),
        (
            {"cron": "0 9 * * *", "startsAt": "2027-01-10T00:00Z", "until": "2027-01-01T00:00Z"},
            "schedule.until",
        ),
        ({"cron": "0 9 * * *", "startsAt": "next tuesday"}, "schedule.startsAt"),
        ({"cron": "0 9 * * *", "graceSeconds": -1}, "schedule.graceSeconds"),
        ({"cron": "0 9 * * *", "count": 0}, "schedule.count"),
        ({"cron": "0 9 * * *", "rrule": "FREQ=DAILY"}, "schedule.rrule"),
        ({"cron": "0 9 * * *", "at": "2026-12-01T09:00Z"}, "schedule.at"),
        ({"cron": "0 9 * * *", "startsAt": "9999-12-31T23:59:59-05:00"}, "schedule.startsAt"),
    ],
)
def test_bad_rules_are_named_and_nothing_is_stored(client, world, app, rule, field):
    r = _recurring(client, world, **rule)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [p["field"] for p in r.json()["problems"]], r.json()
    assert (_count(app, Post), _count(app, Schedule), _count(app, PublishJob)) == (0, 0, 0)


def test_a_recurring_schedule_takes_no_scheduled_at_or_top_level_zone(client, world, app):
    base = {
        "content": "x",
        "workspaceId": world.a,
        "targetAccounts": [world.account_a],
        "schedule": {"kind": "recurring", "cron": "0 9 * * *"},
    }
    both = client.post(POSTS, headers=world.h(), json={**base, "scheduledAt": "now"})
    assert both.status_code == 422 and both.json()["problems"][0]["field"] == "schedule"
    zone = client.post(POSTS, headers=world.h(), json={**base, "timezone": "UTC"})
    assert zone.status_code == 422 and zone.json()["problems"][0]["field"] == "timezone"
    assert _count(app, Post) == 0


def test_a_single_schedule_still_takes_an_instant_or_now(client, world, app):
    r = client.post(
        POSTS,
        headers=world.h(),
        json={
            "content": "once",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "schedule": {"kind": "single", "at": "now"},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["schedule"]["kind"] == "single"
    assert r.json()["schedule"]["runAt"] == _at(12).isoformat()
    assert _job_times(app) == [_at(12)]


def test_list_read_and_filter_by_kind(client, world):
    recurring = _recurring(client, world, cron="0 9 * * *").json()["schedule"]
    single = client.post(
        POSTS,
        headers=world.h(),
        json={"content": "once", "workspaceId": world.a, "targetAccounts": [world.account_a]},
    ).json()["schedule"]

    listed = client.get(SCHEDULES, headers=world.h("viewer"), params={"workspace_id": world.a})
    assert listed.status_code == 200
    assert {x["id"] for x in listed.json()["schedules"]} == {recurring["id"], single["id"]}
    only = client.get(SCHEDULES, headers=world.h("viewer"), params={"kind": "recurring"})
    assert [x["id"] for x in only.json()["schedules"]] == [recurring["id"]]
    bad_kind = client.get(SCHEDULES, headers=world.h(), params={"kind": "weekly"})
    assert bad_kind.status_code == 422 and bad_kind.json()["problems"][0]["field"] == "kind"

    got = client.get(f"{SCHEDULES}/{recurring['id']}", headers=world.h("viewer"))
    assert got.status_code == 200 and got.json()["waitingJobs"] == 1
    missing = client.get(f"{SCHEDULES}/sch_nope", headers=world.h())
    assert missing.status_code == 404 and missing.json()["type"].endswith("/not-found")


def test_pause_resume_patch_and_delete(client, world, app):
    sid = _recurring(client, world, cron="0 */6 * * *", timezone="UTC").json()["schedule"]["id"]

    paused = client.post(f"{SCHEDULES}/{sid}/pause", headers=world.h("editor"))
    assert paused.status_code == 200, paused.text
    assert paused.json()["removedJobs"] == 4 and paused.json()["createdJobs"] == 0
    assert paused.json()["schedule"]["status"] == "paused" and _job_times(app) == []
    again = client.post(f"{SCHEDULES}/{sid}/pause", headers=world.h())
    assert again.status_code == 409 and "paused" in again.json()["detail"]

    resumed = client.post(f"{SCHEDULES}/{sid}/resume", headers=world.h())
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["createdJobs"] == 4 and resumed.json()["removedJobs"] == 0
    assert resumed.json()["schedule"]["status"] == "active" and len(_job_times(app)) == 4

    changed = client.patch(
        f"{SCHEDULES}/{sid}",
        headers=world.h(),
        json={"cron": "15 9 * * *", "timezone": "UTC", "until": "2026-12-31T00:00:00Z"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["removedJobs"] == 4 and changed.json()["createdJobs"] == 1
    assert changed.json()["schedule"]["cron"] == "15 9 * * *"
    assert changed.json()["schedule"]["until"] == "2026-12-31T00:00:00+00:00"
    assert _job_times(app) == [_at(9, 15, day=29)]

    deleted = client.delete(f"{SCHEDULES}/{sid}", headers=world.h())
    assert deleted.status_code == 200 and deleted.json()["removedJobs"] == 1
    assert _job_times(app) == []
    assert client.get(f"{SCHEDULES}/{sid}", headers=world.h()).status_code == 404
    assert client.get(SCHEDULES, headers=world.h()).json()["schedules"] == []

    with app.db.read() as s:
        actions = list(
            s.scalars(
                select(AuditLog.action).where(AuditLog.object_id == sid).order_by(AuditLog.id)
            )
        )
    assert actions == ["schedule.pause", "schedule.resume", "schedule.update", "schedule.delete"]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"cron": "99 * * * *"}, "cron"),
        ({"rrule": "FREQ=DAILY;COUNT=-2"}, "rrule"),
        ({"cron": "0 9 * * *", "timezone": "Berlin"}, "timezone"),
        (
            {"cron": "0 9 * * *", "startsAt": "2027-02-01T00:00Z", "until": "2027-01-01T00:00Z"},
            "until",
        ),
        ({"cron": "0 9 * * *", "graceSeconds": 10**9}, "graceSeconds"),
        ({"cron": "0 9 * * *", "kind": "recurring"}, "kind"),
        ({}, "body"),
    ],
)
def test_a_refused_patch_names_the_field_and_keeps_the_old_rule(client, world, app, rule, field):
    sid = _recurring(client, world, cron="0 12 * * *", timezone="UTC").json()["schedule"]["id"]
    r = client.patch(f"{SCHEDULES}/{sid}", headers=world.h(), json=rule)
    assert r.status_code == 422, r.text
    assert field in [p["field"] for p in r.json()["problems"]], r.json()
    assert _job_times(app) == [_at(12)]
    assert client.get(f"{SCHEDULES}/{sid}", headers=world.h()).json()["cron"] == "0 12 * * *"


def test_single_and_evergreen_schedules_are_not_paused_or_deleted_here(client, world, app):
    single = client.post(
        POSTS,
        headers=world.h(),
        json={"content": "once", "workspaceId": world.a, "targetAccounts": [world.account_a]},
    ).json()["schedule"]["id"]
    assert client.post(f"{SCHEDULES}/{single}/pause", headers=world.h()).status_code == 409
    gone = client.delete(f"{SCHEDULES}/{single}", headers=world.h())
    assert gone.status_code == 409 and "DELETE /api/postiz/posts/" in gone.json()["detail"]
    patch = client.patch(f"{SCHEDULES}/{single}", headers=world.h(), json={"cron": "0 9 * * *"})
    assert patch.status_code == 409
    assert len(_job_times(app)) == 1


def test_roles_and_idempotent_pause(client, world, app):
    sid = _recurring(client, world, cron="0 */6 * * *", timezone="UTC").json()["schedule"]["id"]
    assert client.post(f"{SCHEDULES}/{sid}/pause", headers=world.h("viewer")).status_code == 403
    assert client.get(f"{SCHEDULES}/{sid}", headers=world.h("viewer")).status_code == 200
    assert len(_job_times(app)) == 4

    headers = {**world.h(), "Idempotency-Key": "pause-1"}
    first = client.post(f"{SCHEDULES}/{sid}/pause", headers=headers)
    replay = client.post(f"{SCHEDULES}/{sid}/pause", headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json() and first.json()["removedJobs"] == 4


def test_another_workspace_cannot_see_or_touch_a_schedule(client, world, app):
    sid = _recurring(client, world, cron="0 */6 * * *", timezone="UTC").json()["schedule"]["id"]
    outsider = world.h("b_owner")
    assert client.get(f"{SCHEDULES}/{sid}", headers=outsider).status_code == 404
    assert client.post(f"{SCHEDULES}/{sid}/pause", headers=outsider).status_code == 404
    assert client.get(SCHEDULES, headers=outsider).json()["schedules"] == []
    assert len(_job_times(app)) == 4


def test_the_openapi_document_describes_both_kinds_and_every_route(client):
    doc = client.get("/openapi.json").json()
    schedule = doc["components"]["schemas"]["PostCreate"]["properties"]["schedule"]["anyOf"][0]
    assert set(schedule["discriminator"]["mapping"]) == {"single", "recurring"}
    rule = doc["components"]["schemas"]["RecurringSchedule"]["properties"]
    assert {"rrule", "cron", "timezone", "startsAt", "until", "count", "graceSeconds"} <= set(rule)
    assert {
        "/api/postiz/schedules",
        "/api/postiz/schedules/{schedule_id}",
        "/api/postiz/schedules/{schedule_id}/pause",
        "/api/postiz/schedules/{schedule_id}/resume",
    } <= set(doc["paths"])
    assert set(doc["paths"]["/api/postiz/schedules/{schedule_id}"]) == {"get", "patch", "delete"}


def test_a_value_the_database_cannot_store_is_refused_not_a_server_error(client, world, app):
    """PostgreSQL refuses NUL characters in text; SQLite stores them. Neither answers 5xx."""
    nul = client.get("/api/postiz/evergreen/posts", headers=world.h(), params={"category": "a\x00"})
    expected = 422 if app.db.dialect == "postgresql" else 200
    assert nul.status_code == expected, nul.text
    assert "x00" not in nul.text and "SELECT" not in nul.text
