"""``schedules list`` shows each schedule's zone and next run; ``schedules preview`` lists a
rule's next instants before it is created, and a saved schedule's; bad input exits 1."""

from __future__ import annotations

import json

from postiz_pipelines_tests.cli.test_cli_schedules import setup


def test_list_shows_the_zone_and_next_run_of_a_recurring_post(run):
    acc = setup(run)  # workspace acme in UTC; the clock reads 2026-11-28 12:00 UTC
    run(
        "posts",
        "create",
        "--workspace",
        "acme",
        "--text",
        "Ünïcödé 🎉",
        "--account",
        acc,
        "--cron",
        "0 9 * * 1",
    )
    [row] = json.loads(run("schedules", "list", "--workspace", "acme", "--json").output)
    assert row["timezone"] == "UTC" and row["next_run"] == "2026-11-30T09:00:00+00:00"
    assert len(row["next_runs"]) == 5
    table = run("schedules", "list", "--workspace", "acme").output
    assert "NEXT_RUN" in table and "2026-11-30T09:00:00+00:00" in table
    assert json.loads(run("posts", "list", "--workspace", "acme", "--json").output)[0][
        "scheduled_at"
    ].startswith("2026-11-30T09:00")
    out = run("schedules", "preview", row["id"], "--count", "2", "--json").output
    assert [o["at"] for o in json.loads(out)] == [
        "2026-11-30T09:00:00+00:00",
        "2026-12-07T09:00:00+00:00",
    ]


def test_preview_before_creating_across_the_october_change(run):
    setup(run)
    out = run(
        "schedules",
        "preview",
        "--workspace",
        "acme",
        "--rrule",
        "FREQ=DAILY;BYHOUR=9",
        "--timezone",
        "Europe/Berlin",
        "--starts-at",
        "2027-10-30T00:00",
        "--count",
        "3",
        "--json",
    ).output
    assert [o["local"] for o in json.loads(out)] == [
        "2027-10-30T09:00:00+02:00",
        "2027-10-31T09:00:00+01:00",
        "2027-11-01T09:00:00+01:00",
    ]
    assert json.loads(run("schedules", "list", "--workspace", "acme", "--json").output) == []


def test_preview_refuses_bad_input_naming_it(run):
    setup(run)
    over = run(
        "schedules",
        "preview",
        "--workspace",
        "acme",
        "--cron",
        "0 9 * * *",
        "--count",
        "101",
        code=1,
    )
    assert "--count" in over.output and "1..100" in over.output
    zone = run(
        "schedules",
        "preview",
        "--workspace",
        "acme",
        "--cron",
        "0 9 * * *",
        "--timezone",
        "Nowhere/Zone",
        code=1,
    )
    assert "schedule.timezone" in zone.output
    assert "--workspace" in run("schedules", "preview", "--cron", "0 9 * * *", code=1).output
    assert "not found" in run("schedules", "preview", "sch_missing", code=1).output


def test_posts_create_warns_when_a_subreddit_cannot_be_read(run):
    run("workspaces", "create", "--slug", "acme", "--timezone", "UTC")
    out = run(
        "accounts",
        "add",
        "--workspace",
        "acme",
        "--platform",
        "reddit",
        "--handle",
        "zoë",
        "--token",
        "t",
        "--base-url",
        "http://127.0.0.1:9/reddit",
        "--json",
    ).output
    acc = json.loads(out)[0]["id"]
    made = run(
        "posts",
        "create",
        "--workspace",
        "acme",
        "--text",
        "Hallo",
        "--account",
        acc,
        "--setting",
        "subreddit=test",
        "--setting",
        "title=Ein Titel",
        "--in",
        "1h",
    )
    assert "warning: r/test post requirements for zoë could not be read" in made.output


def test_with_no_zone_anywhere_a_preview_reads_utc(run):
    run("workspaces", "create", "--slug", "nozone")  # no time zone at all
    out = run(
        "schedules",
        "preview",
        "--workspace",
        "nozone",
        "--cron",
        "0 9 * * *",
        "--count",
        "1",
        "--json",
    ).output
    [only] = json.loads(out)
    assert (only["zone"], only["local"]) == ("UTC", "2026-11-29T09:00:00+00:00")
