"""Schedule views: an evergreen timetable's next slot instants (across a DST change, none
when it has no slot or every category is paused), and post lists carrying each post's
schedule (zones and next run) read in a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event

EVERGREEN = "/api/postiz/evergreen"
TIMETABLE = f"{EVERGREEN}/timetable"
POSTS = "/api/postiz/posts"
SCHEDULES = "/api/postiz/schedules"
# the test clock reads Saturday 2026-11-28 12:00 UTC; workspace acme is Europe/Berlin


def _put(client, world, slots, **extra):  # type: ignore[no-untyped-def]
    body = {"slots": slots, "accountIds": [world.account_a], **extra}
    return client.put(TIMETABLE, headers=world.h("editor"), json=body)


def test_evergreen_next_runs_cross_the_spring_change(client, world, clock):
    clock.set(datetime(2027, 3, 20, 12, 0, tzinfo=UTC))  # a week before Berlin's change
    slots = [
        {"weekday": 6, "time": "02:30", "category": "tips"},  # no 02:30 on 2027-03-28
        {"weekday": 6, "time": "10:00", "category": "news"},
    ]
    put = _put(client, world, slots)  # the timetable names no zone: the workspace's
    assert put.status_code == 200, put.text
    table = put.json()
    assert table["zones"] == ["Europe/Berlin"] and table["zoneProblem"] is None
    runs = [(o["at"], o["local"], o["category"]) for o in table["nextOccurrences"]]
    assert runs == [
        ("2027-03-21T01:30:00+00:00", "2027-03-21T02:30:00+01:00", "tips"),
        ("2027-03-21T09:00:00+00:00", "2027-03-21T10:00:00+01:00", "news"),
        ("2027-03-28T01:30:00+00:00", "2027-03-28T03:30:00+02:00", "tips"),  # the gap
        ("2027-03-28T08:00:00+00:00", "2027-03-28T10:00:00+02:00", "news"),
        ("2027-04-04T00:30:00+00:00", "2027-04-04T02:30:00+02:00", "tips"),
    ]
    assert client.get(TIMETABLE, headers=world.h("viewer")).json() == table
    (listed,) = client.get(SCHEDULES, headers=world.h("viewer")).json()["schedules"]
    assert listed["kind"] == "evergreen" and listed["id"] == table["scheduleId"]
    assert listed["nextOccurrences"] == table["nextOccurrences"]


def test_a_paused_category_and_a_zone_of_its_own(client, world):
    slots = [
        {"weekday": 0, "time": "09:00", "category": "tips"},
        {"weekday": 0, "time": "18:00", "category": "café ☕"},
    ]
    assert _put(client, world, slots, timezone="Asia/Tokyo").status_code == 200
    paused = client.post(f"{EVERGREEN}/categories/tips/pause", headers=world.h("editor"))
    assert paused.status_code == 200, paused.text
    table = client.get(TIMETABLE, headers=world.h()).json()
    assert table["zones"] == ["Asia/Tokyo"]
    runs = table["nextOccurrences"]
    assert {o["category"] for o in runs} == {"café ☕"} and len(runs) == 5
    assert runs[0]["local"] == "2026-11-30T18:00:00+09:00"


def test_an_empty_timetable_has_no_next_run(client, world):
    put = _put(client, world, [])
    assert put.status_code == 200, put.text
    assert put.json()["nextOccurrences"] == [] and put.json()["zones"] == ["Europe/Berlin"]
    (listed,) = client.get(SCHEDULES, headers=world.h()).json()["schedules"]
    assert listed["nextOccurrences"] == []


def _post(client, world, schedule=None, **extra):  # type: ignore[no-untyped-def]
    body = {
        "content": "Grüße 🌷",
        "workspaceId": world.a,
        "targetAccounts": [world.account_a],
        **({"schedule": schedule} if schedule else {}),
        **extra,
    }
    r = client.post(POSTS, headers=world.h(), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _statements(app, client, url, headers):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def count(*args) -> None:  # type: ignore[no-untyped-def]
        seen.append(args[2])

    event.listen(app.db.engine, "before_cursor_execute", count)
    try:
        r = client.get(url, headers=headers)
    finally:
        event.remove(app.db.engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    return r.json(), len(seen)


def test_post_list_items_carry_their_schedule_without_a_query_per_post(client, world, app):
    recurring = _post(client, world, {"kind": "recurring", "cron": "30 9 * * 1"})
    single = _post(client, world, scheduledAt="2027-03-28T03:30:00+02:00")  # the DST day
    now = _post(client, world)  # no schedule named: a single one, now
    _statements(app, client, POSTS, world.h("viewer"))  # the caller's first request
    listed, few = _statements(app, client, POSTS, world.h("viewer"))
    by_id = {p["id"]: p for p in listed["posts"]}
    rec = by_id[recurring["id"]]["schedule"]
    assert rec["zones"] == ["Europe/Berlin"]
    assert [o["local"] for o in rec["nextOccurrences"]] == ["2026-11-30T09:30:00+01:00"]
    one = by_id[single["id"]]["schedule"]
    assert one["kind"] == "single" and one["zones"] == ["Europe/Berlin"]
    assert [o["at"] for o in one["nextOccurrences"]] == ["2027-03-28T01:30:00+00:00"]
    due = by_id[now["id"]]["schedule"]
    assert due["runAt"] == "2026-11-28T12:00:00+00:00" and due["waitingJobs"] == 1
    assert [o["local"] for o in due["nextOccurrences"]] == ["2026-11-28T13:00:00+01:00"]
    # the one-post view keeps its five next runs; the list gives the next one
    read = client.get(f"{POSTS}/{recurring['id']}", headers=world.h()).json()
    assert read["schedule"]["nextOccurrences"][0] == rec["nextOccurrences"][0]
    assert len(read["schedule"]["nextOccurrences"]) == 5

    for n in range(6):
        _post(client, world, {"kind": "recurring", "cron": f"0 {8 + n} * * *"})
    bigger, many = _statements(app, client, POSTS, world.h("viewer"))
    assert len(bigger["posts"]) == 9
    assert all(p["schedule"]["nextOccurrences"] for p in bigger["posts"] if p["schedule"])
    assert many == few  # nine posts cost what three did


def test_an_empty_post_list_answers_without_schedules(client, world):
    r = client.get(POSTS, headers=world.h("viewer"))
    assert r.status_code == 200 and r.json()["posts"] == []
