"""A workspace's language through HTTP and the CLI: set at creation or by PATCH, shown in the
workspace, validated as BCP-47 with a message naming the field (nothing stored on refusal)."""

from __future__ import annotations

import json

from postiz_pipelines.core.models import Workspace

WORKSPACES = "/api/postiz/workspaces"


def test_the_language_is_set_shown_changed_and_cleared(client, world, app):
    made = client.post(
        WORKSPACES,
        headers=world.h("owner"),
        json={"slug": "lisboa", "name": "Café São Jorge ☕", "language": "pt-PT"},
    )
    assert made.status_code == 201, made.text
    ws = made.json()
    assert ws["language"] == "pt-PT"
    assert (
        client.get(f"{WORKSPACES}/{world.a}", headers=world.h("viewer")).json()["language"] is None
    )
    r = client.patch(f"{WORKSPACES}/{world.a}", headers=world.h("admin"), json={"language": "de"})
    assert r.status_code == 200 and r.json()["language"] == "de"
    assert r.json()["timezone"] == "Europe/Berlin"  # untouched
    cleared = client.patch(
        f"{WORKSPACES}/{world.a}", headers=world.h("admin"), json={"language": ""}
    )
    assert cleared.json()["language"] is None


def test_a_tag_that_is_not_bcp47_is_a_422_naming_the_field(client, world, app):
    r = client.patch(
        f"{WORKSPACES}/{world.a}", headers=world.h("admin"), json={"language": "en_US"}
    )
    assert r.status_code == 422
    [problem] = r.json()["problems"]
    assert problem["field"] == "language" and "'en-US'" in problem["message"]
    made = client.post(
        WORKSPACES, headers=world.h("owner"), json={"slug": "bad", "language": "english 🇬🇧"}
    )
    assert made.status_code == 422 and made.json()["problems"][0]["field"] == "language"
    with app.db.read() as s:
        assert s.get(Workspace, world.a).language is None  # type: ignore[union-attr]
        assert s.query(Workspace).filter_by(slug="bad").count() == 0
    viewer = client.patch(
        f"{WORKSPACES}/{world.a}", headers=world.h("viewer"), json={"language": "de"}
    )
    assert viewer.status_code == 403


def test_the_cli_sets_and_refuses_languages(app, env, clock):  # type: ignore[no-untyped-def]
    from postiz_pipelines_tests.cli.conftest import Run

    run = Run(env, clock)
    out = run("workspaces", "create", "--slug", "wien", "--language", "de-AT", "--json").output
    assert json.loads(out)[0]["language"] == "de-AT"
    refused = run("workspaces", "update", "wien", "--language", "de_AT", code=1)
    assert "language" in refused.output and "'de-AT'" in refused.output
    changed = run("workspaces", "update", "wien", "--language", "hu", "--json").output
    assert json.loads(changed)[0]["language"] == "hu"
    assert "hu" in run("workspaces", "list").output
