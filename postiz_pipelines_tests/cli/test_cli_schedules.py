"""The CLI's schedule, evergreen and posting-slot commands."""

from __future__ import annotations

import json

from sqlalchemy import select

from postiz_pipelines.core.models import PublishJob


def setup(run) -> str:  # type: ignore[no-untyped-def]
    run("workspaces", "create", "--slug", "acme", "--timezone", "UTC")
    out = run(
        "accounts",
        "add",
        "--workspace",
        "acme",
        "--platform",
        "mastodon",
        "--handle",
        "alice",
        "--token",
        "t",
        "--base-url",
        "https://m.example",
        "--json",
    ).output
    return json.loads(out)[0]["id"]


def job_times(app):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return [j.run_at for j in s.scalars(select(PublishJob).order_by(PublishJob.run_at))]


def test_recurring_post_pause_resume_update(run, app, clock):
    acc = setup(run)
    run(
        "posts",
        "create",
        "--workspace",
        "acme",
        "--text",
        "tip",
        "--account",
        acc,
        "--cron",
        "0 */6 * * *",
    )
    assert len(job_times(app)) == 4  # clock at 12:00: 18:00, 00:00, 06:00, 12:00 next day
    [sched] = json.loads(
        run("schedules", "list", "--workspace", "acme", "--kind", "recurring", "--json").output
    )
    assert sched["rule"] == "0 */6 * * *" and sched["status"] == "active"
    paused = json.loads(run("schedules", "pause", sched["id"]).output)
    assert paused["removed_jobs"] == 4 and job_times(app) == []
    run("schedules", "pause", sched["id"], code=1)  # already paused: refused, says why
    run("schedules", "resume", sched["id"])
    assert len(job_times(app)) == 4
    run("schedules", "update", sched["id"], "--cron", "15 9 * * *")
    assert [(t.hour, t.minute) for t in job_times(app)] == [(9, 15)]
    bad = run("schedules", "update", sched["id"], "--cron", "99 * * * *", code=1)
    assert "schedule.cron" in bad.output
    assert [(t.hour, t.minute) for t in job_times(app)] == [(9, 15)]  # untouched


def test_next_slot_and_evergreen(run, app):
    acc = setup(run)
    run("slots", "--account", acc, "--slot", "mon 09:00", "--slot", "thu 17:30")
    bad = run("slots", "--account", acc, "--slot", "mon 25:00", code=1)
    assert "slots[0].time" in bad.output
    out = json.loads(
        run(
            "posts",
            "create",
            "--workspace",
            "acme",
            "--text",
            "q",
            "--account",
            acc,
            "--at",
            "next-slot",
            "--json",
        ).output
    )[0]
    assert out["scheduled_at"] == "2026-11-30T09:00:00+00:00"  # Monday after Saturday 28th

    run(
        "evergreen",
        "timetable",
        "--workspace",
        "acme",
        "--slot",
        "sun 10:00 tips",
        "--account",
        acc,
    )
    run(
        "evergreen",
        "add",
        "--workspace",
        "acme",
        "--category",
        "tips",
        "--text",
        "one",
        "--text",
        "uno",
    )
    too_long = run(
        "evergreen", "add", "--workspace", "acme", "--category", "tips", "--text", "x" * 600, code=1
    )
    assert "mastodon.text" in too_long.output and "limit 500" in too_long.output
    listed = json.loads(run("evergreen", "list", "--workspace", "acme", "--json").output)
    assert [r["category"] for r in listed] == ["tips"]
    report = json.loads(run("schedules", "expand").output)
    assert report["evergreen_picks"] == 1  # Sunday 29th 10:00 falls in the next 24 h
    run("evergreen", "pause", "--workspace", "acme", "tips")
    assert len(job_times(app)) == 1  # the slot post remains; the evergreen pick is withdrawn


def test_account_time_zone_drives_its_recurring_posts(run, app):
    run("workspaces", "create", "--slug", "acme", "--timezone", "UTC")
    out = run(
        "accounts",
        "add",
        "--workspace",
        "acme",
        "--platform",
        "mastodon",
        "--handle",
        "tokyo",
        "--token",
        "t",
        "--base-url",
        "https://m.example",
        "--timezone",
        "Asia/Tokyo",
        "--json",
    ).output
    acc = json.loads(out)[0]["id"]
    bad = run(
        "accounts",
        "add",
        "--workspace",
        "acme",
        "--platform",
        "mastodon",
        "--handle",
        "x",
        "--token",
        "t",
        "--timezone",
        "Asia/Atlantis",
        code=1,
    )
    assert "timezone" in bad.output and "Asia/Atlantis" in bad.output
    run(
        "posts",
        "create",
        "--workspace",
        "acme",
        "--text",
        "ohayo",
        "--account",
        acc,
        "--cron",
        "0 9 * * *",
    )
    assert [(t.hour, t.minute) for t in job_times(app)] == [(0, 0)]  # 09:00 in Tokyo is 00:00 UTC


def test_evergreen_show_lists_the_next_slots_across_a_dst_change(run, clock):
    from datetime import UTC, datetime

    acc = setup(run)
    clock.set(datetime(2027, 3, 27, 12, 0, tzinfo=UTC))  # Berlin springs forward tomorrow
    missing = run("evergreen", "show", "--workspace", "acme", code=1).output
    assert "evergreen timetable" in missing and "acme" in missing
    set_out = run(
        "evergreen",
        "timetable",
        "--workspace",
        "acme",
        "--slot",
        "sun 02:30 tips",
        "--slot",
        "sun 10:00 café",
        "--account",
        acc,
        "--timezone",
        "Europe/Berlin",
    ).output
    table = json.loads(set_out)
    assert table["zones"] == ["Europe/Berlin"] and table["status"] == "active"
    assert [(o["local"], o["category"]) for o in table["next_runs"][:3]] == [
        ("2027-03-28T03:30:00+02:00", "tips"),  # 02:30 does not exist that night
        ("2027-03-28T10:00:00+02:00", "café"),
        ("2027-04-04T02:30:00+02:00", "tips"),
    ]
    shown = json.loads(run("evergreen", "show", "--workspace", "acme", "--json").output)
    assert shown == table
    text = run("evergreen", "show", "--workspace", "acme").output
    assert "2027-03-28T03:30:00+02:00  tips" in text and "zone Europe/Berlin" in text
    run("evergreen", "pause", "--workspace", "acme", "tips")
    run("evergreen", "pause", "--workspace", "acme", "café")
    idle = run("evergreen", "show", "--workspace", "acme").output
    assert "no slot to come" in idle
