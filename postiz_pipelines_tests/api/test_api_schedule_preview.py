"""A schedule's zone and next instants through HTTP: in the schedule and post views, at
``GET /schedules/{id}/occurrences`` and, for a rule not saved yet, ``POST /schedules/preview``;
across Berlin's DST changes, and with zones missing or wrong."""

from __future__ import annotations

from sqlalchemy import func, select

from postiz_pipelines.core.models import Post, Schedule, SocialAccount

POSTS = "/api/postiz/posts"
SCHEDULES = "/api/postiz/schedules"
# the test clock reads 2026-11-28 12:00 UTC; workspace acme is Europe/Berlin


def _recurring(client, world, **rule):  # type: ignore[no-untyped-def]
    return client.post(
        POSTS,
        headers=world.h("owner"),
        json={
            "content": "Grüße aus Köln 🌧️",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "schedule": {"kind": "recurring", **rule},
        },
    )


def _preview(client, world, count=None, **rule):  # type: ignore[no-untyped-def]
    params = {} if count is None else {"count": count}
    return client.post(
        f"{SCHEDULES}/preview",
        headers=world.h("viewer"),
        params=params,
        json={"workspaceId": world.a, **rule},
    )


def test_a_recurring_post_shows_its_first_run_zone_and_next_runs(client, world):
    r = _recurring(client, world, cron="30 9 * * 1")  # Mondays 09:30, the workspace's zone
    assert r.status_code == 201, r.text
    post = r.json()
    # not the creation time (Saturday 12:00 UTC): the first Monday 09:30 in Berlin
    assert post["scheduledAt"] == "2026-11-30T08:30:00+00:00"
    schedule = post["schedule"]
    assert schedule["timezone"] is None and schedule["zones"] == ["Europe/Berlin"]
    nxt = schedule["nextOccurrences"]
    assert [o["local"] for o in nxt[:2]] == [
        "2026-11-30T09:30:00+01:00",
        "2026-12-07T09:30:00+01:00",
    ]
    assert len(nxt) == 5 and all(o["zone"] == "Europe/Berlin" for o in nxt)
    read = client.get(f"{POSTS}/{post['id']}", headers=world.h("viewer")).json()
    assert read["schedule"]["nextOccurrences"] == nxt
    listed = client.get(SCHEDULES, headers=world.h("viewer")).json()["schedules"]
    assert listed[0]["zones"] == ["Europe/Berlin"] and listed[0]["nextOccurrences"] == nxt


def test_occurrences_cross_both_dst_changes_at_the_same_wall_time(client, world):
    sid = _recurring(
        client,
        world,
        rrule="FREQ=DAILY;BYHOUR=9;BYMINUTE=0",
        startsAt="2027-03-26T00:00:00+01:00",
        timezone="Europe/Berlin",
    ).json()["schedule"]["id"]
    r = client.get(f"{SCHEDULES}/{sid}/occurrences", params={"count": 4}, headers=world.h("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scheduleId"] == sid and body["zones"] == ["Europe/Berlin"]
    # 2027-03-28 is the last Sunday of March: 09:00 stays 09:00, UTC moves an hour
    assert [o["at"] for o in body["occurrences"]] == [
        "2027-03-26T08:00:00+00:00",
        "2027-03-27T08:00:00+00:00",
        "2027-03-28T07:00:00+00:00",
        "2027-03-29T07:00:00+00:00",
    ]
    assert {o["local"][11:] for o in body["occurrences"]} == {"09:00:00+01:00", "09:00:00+02:00"}


def test_a_preview_stores_nothing_and_shows_gap_and_repeat_rules(client, world, app):
    with app.db.read() as s:
        before = (
            s.scalar(select(func.count()).select_from(Schedule)),
            s.scalar(select(func.count()).select_from(Post)),
        )
    spring = _preview(
        client,
        world,
        count=3,
        cron="30 2 * * *",
        timezone="Europe/Berlin",
        startsAt="2027-03-27T00:00:00+01:00",
    )
    assert spring.status_code == 200, spring.text
    # 02:30 does not exist on 2027-03-28: it moves forward by the gap, to 03:30 CEST
    assert [o["local"] for o in spring.json()["occurrences"]] == [
        "2027-03-27T02:30:00+01:00",
        "2027-03-28T03:30:00+02:00",
        "2027-03-29T02:30:00+02:00",
    ]
    autumn = _preview(
        client,
        world,
        count=3,
        rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        timezone="Europe/Berlin",
        startsAt="2027-10-30T00:00:00+02:00",
    )
    # 02:30 happens twice on 2027-10-31 (last Sunday of October): it fires once, the first
    assert [o["at"] for o in autumn.json()["occurrences"]] == [
        "2027-10-30T00:30:00+00:00",
        "2027-10-31T00:30:00+00:00",
        "2027-11-01T01:30:00+00:00",
    ]
    with app.db.read() as s:
        after = (
            s.scalar(select(func.count()).select_from(Schedule)),
            s.scalar(select(func.count()).select_from(Post)),
        )
    assert after == before


def test_a_preview_reads_each_accounts_zone_when_the_rule_names_none(client, world, app):
    with app.db.session() as s:
        acc = s.get(SocialAccount, world.account_a)
        assert acc is not None
        acc.settings = {**(acc.settings or {}), "timezone": "America/New_York"}
    r = _preview(client, world, count=2, cron="0 9 * * *", targetAccounts=[world.account_a])
    assert r.status_code == 200, r.text
    assert r.json()["zones"] == ["America/New_York"]
    assert r.json()["occurrences"][0]["local"] == "2026-11-28T09:00:00-05:00"
    # no accounts, no zone in the rule: the workspace's
    assert _preview(client, world, count=1, cron="0 9 * * *").json()["zones"] == ["Europe/Berlin"]


def test_a_series_that_ends_lists_fewer_instants(client, world):
    r = _preview(client, world, count=10, rrule="FREQ=WEEKLY;COUNT=2", timezone="Asia/Tokyo")
    assert r.status_code == 200, r.text
    assert len(r.json()["occurrences"]) == 2


def test_count_over_the_bound_and_bad_zones_are_clear_422s(client, world):
    sid = _recurring(client, world, cron="0 9 * * *").json()["schedule"]["id"]
    over = client.get(
        f"{SCHEDULES}/{sid}/occurrences", params={"count": 101}, headers=world.h("viewer")
    )
    assert over.status_code == 422
    [problem] = over.json()["problems"]
    assert problem["field"] == "count" and problem["limit"] == 100
    zero = _preview(client, world, count=0, cron="0 9 * * *")
    assert zero.status_code == 422 and zero.json()["problems"][0]["field"] == "count"
    bad = _preview(client, world, cron="0 9 * * *", timezone="Europe/Köln")
    assert bad.status_code == 422
    assert [p["field"] for p in bad.json()["problems"]] == ["schedule.timezone"]
    neither = _preview(client, world)
    assert neither.status_code == 422 and "rrule or a cron" in neither.text


def test_a_stored_zone_gone_wrong_is_reported_not_raised(client, world, app):
    sid = _recurring(client, world, cron="0 9 * * *").json()["schedule"]["id"]
    with app.db.session() as s:
        acc = s.get(SocialAccount, world.account_a)
        assert acc is not None
        acc.settings = {**(acc.settings or {}), "timezone": "Mars/Olympus"}
    out = client.get(f"{SCHEDULES}/{sid}", headers=world.h("viewer")).json()
    assert out["nextOccurrences"] == [] and "Mars/Olympus" in out["zoneProblem"]
    r = client.get(f"{SCHEDULES}/{sid}/occurrences", headers=world.h("viewer"))
    assert r.status_code == 422 and "Mars/Olympus" in r.text


def test_another_workspaces_schedule_and_preview_are_refused(client, world):
    sid = _recurring(client, world, cron="0 9 * * *").json()["schedule"]["id"]
    r = client.get(f"{SCHEDULES}/{sid}/occurrences", headers=world.h("b_owner"))
    assert r.status_code == 404
    p = client.post(
        f"{SCHEDULES}/preview",
        headers=world.h("b_owner"),
        json={"workspaceId": world.a, "cron": "0 9 * * *"},
    )
    assert p.status_code in (403, 404)


def test_changing_the_rule_moves_the_posts_first_instant(client, world):
    post = _recurring(client, world, cron="0 9 * * 1").json()
    assert post["scheduledAt"] == "2026-11-30T08:00:00+00:00"  # Monday 09:00 Berlin
    sid = post["schedule"]["id"]
    r = client.patch(f"{SCHEDULES}/{sid}", headers=world.h("editor"), json={"cron": "30 7 * * 3"})
    assert r.status_code == 200, r.text
    read = client.get(f"{POSTS}/{post['id']}", headers=world.h("viewer")).json()
    assert read["scheduledAt"] == "2026-12-02T06:30:00+00:00"  # Wednesday 07:30 Berlin
    assert read["schedule"]["nextOccurrences"][0]["at"] == read["scheduledAt"]
