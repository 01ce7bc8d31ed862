"""The CLI's post commands: bad input names the field and the limit, exits 1, writes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from postiz_pipelines.core.models import AuditLog, Post, PublishJob


@pytest.fixture
def acme(run):  # type: ignore[no-untyped-def]
    run("workspaces", "create", "--slug", "acme", "--timezone", "Europe/Berlin")
    run("workspaces", "create", "--slug", "nozone")
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
        "secret-token-value",
        "--base-url",
        "https://mastodon.example",
        "--json",
    ).output
    return json.loads(out)[0]["id"]


def counts(app):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Post)),
            s.scalar(select(func.count()).select_from(PublishJob)),
        )


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ["--account", "acc_nope", "--at", "2026-11-29T10:00+01:00"],
            ["targetAccounts[0]", "unknown account 'acc_nope'"],
        ),
        (["--at", "2026-11-27T10:00+01:00"], ["scheduledAt", "is in the past"]),
        (["--at", "tomorrow 10am"], ["scheduledAt", "not an ISO 8601 time"]),
        (
            ["--at", "2026-11-29T10:00", "--timezone", "Mars/Base"],
            ["timezone", "unknown time zone 'Mars/Base'"],
        ),
        (["--text-override", "x" * 501], ["mastodon.text", "text is 501 graphemes, limit 500"]),
    ],
)
def test_refused_input_names_the_field_and_writes_nothing(run, app, acme, args, needles):
    text = "hello"
    if args[0] == "--text-override":
        text, args = args[1], []
    account = [] if "--account" in args else ["--account", acme]
    result = run("posts", "create", "--workspace", "acme", "--text", text, *account, *args, code=1)
    for needle in needles:
        assert needle in result.output
    assert "nothing was stored" in result.output
    assert counts(app) == (0, 0)


def test_naive_time_needs_a_zone_when_the_workspace_has_none(run, app, acme):
    result = run(
        "posts",
        "create",
        "--workspace",
        "nozone",
        "--text",
        "x",
        "--account",
        acme,
        "--at",
        "2026-11-29T10:00",
        code=1,
    )
    assert "scheduledAt" in result.output and "has no time zone" in result.output
    assert counts(app) == (0, 0)


def test_unknown_workspace(run, app):
    result = run("posts", "create", "--workspace", "ghost", "--text", "x", "--account", "a", code=1)
    assert "workspace 'ghost' not found" in result.output
    assert counts(app) == (0, 0)


def test_local_time_in_the_workspace_zone_and_listing(run, app, acme):
    out = run(
        "posts",
        "create",
        "--workspace",
        "acme",
        "--text",
        "hi",
        "--account",
        acme,
        "--at",
        "2026-11-29T10:00",
        "--json",
    ).output
    post = json.loads(out)[0]
    assert post["scheduled_at"] == "2026-11-29T09:00:00+00:00"  # 10:00 in Berlin (CET)
    listed = json.loads(run("posts", "list", "--workspace", "acme", "--json").output)
    assert [p["id"] for p in listed] == [post["id"]]
    assert counts(app) == (1, 1)
    table = run("posts", "list", "--workspace", "acme").output
    assert table.splitlines()[0].split()[:3] == ["ID", "STATUS", "SCHEDULED_AT"]


def test_tokens_never_reach_output_or_audit(run, app, acme):
    listed = run("accounts", "list", "--workspace", "acme", "--json").output
    assert "secret-token-value" not in listed
    with app.db.read() as s:
        details = [json.dumps(a.details) for a in s.scalars(select(AuditLog))]
    assert not any("secret-token-value" in d for d in details)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--at", "+10m"], "2026-11-28T12:10:00+00:00"),
        (["--in", "2h"], "2026-11-28T14:00:00+00:00"),
        (["--at", "+1d12h"], "2026-11-30T00:00:00+00:00"),
        (["--in", "90s"], "2026-11-28T12:01:30+00:00"),
    ],
)
def test_relative_times_count_from_now(run, app, acme, args, expected):  # type: ignore[no-untyped-def]
    out = run(
        "posts", "create", "--workspace", "acme", "--text", "Grüße 👋", "--account", acme,
        *args, "--json",
    ).output  # fmt: skip
    assert json.loads(out)[0]["scheduled_at"] == expected  # the test clock: 2026-11-28 12:00Z
    assert counts(app) == (1, 1)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--in", "10 minutes"], ["--in", "not a duration like 10m"]),
        (["--at", "+0m"], ["--at", "more than 0"]),
        (["--at", "+5x"], ["--at", "not a duration"]),
        (["--at", "+10m", "--in", "2h"], ["--in", "not both"]),
    ],
)
def test_bad_relative_times_are_refused_naming_the_option(run, app, acme, args, needles):  # type: ignore[no-untyped-def]
    out = run(
        "posts", "create", "--workspace", "acme", "--text", "x", "--account", acme, *args, code=1,
    ).output  # fmt: skip
    for needle in needles:
        assert needle in out
    assert counts(app) == (0, 0)
