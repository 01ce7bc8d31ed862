"""``postiz-pipelines held`` and ``posts jobs``: held jobs with their reason, from the CLI."""

from __future__ import annotations

import json

from postiz_pipelines.core.models import SocialAccount
from postiz_pipelines.core.publishing import hold


def test_held_jobs_are_listed_with_their_reason(run, app, make, clock):
    ws = make.workspace("acme")
    acc = make.account(ws, handle="zoë")
    [job] = make.jobs(ws, acc, 1, run_at=clock.now(), text="wartet 🕰")
    assert json.loads(run("held", "--json").output) == []
    with app.db.session() as s:
        hold.mark_reconnect_needed(
            s, s.get(SocialAccount, acc.id), reason="invalid_grant", now=clock.now(), actor="t"
        )
    [row] = json.loads(run("held", "--workspace", "acme", "--json").output)
    assert (row["id"], row["status"], row["held_reason"]) == (
        job,
        "held",
        "account_reconnect_needed",
    )
    assert row["held_at"] == clock.now().isoformat()
    [listed] = json.loads(run("posts", "jobs", row["post_id"], "--json").output)
    assert listed["id"] == job and listed["attempts"] == 0
    assert "account_reconnect_needed" in run("held").output
    accounts = json.loads(run("accounts", "list", "--workspace", "acme", "--json").output)
    assert [a["status"] for a in accounts] == ["reconnect_needed"]
    assert run("held", "--workspace", "nope", code=1).output.startswith("error:")
