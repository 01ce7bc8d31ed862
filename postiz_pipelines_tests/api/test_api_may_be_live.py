"""The dead-letter view says whether a failed post may be live, through HTTP."""

from __future__ import annotations

from postiz_pipelines.core.accounts.store import add_account
from postiz_pipelines.core.models import Workspace
from postiz_pipelines.sandbox import FaultSpec

POSTS = "/api/postiz/posts"
DEAD = "/api/postiz/dead-letter"


def test_an_uncertain_post_is_shown_as_may_be_live_and_a_refused_one_is_not(
    client, world, app, clock, sandbox_state, worker_headers
):
    with app.db.session() as s:
        remote = sandbox_state.provision("x", "tok-x-acme", username="acme_x")
        x = add_account(
            s,
            app.keyring,
            workspace=s.get(Workspace, world.a),
            platform="x",
            handle="acme_x",
            access_token="tok-x-acme",
            external_id=remote.id,
            base_url="http://sandbox.test/x",
            now=clock.now(),
        )
    sandbox_state.faults.set("x", FaultSpec(drops=1, endpoints=frozenset({"POST /2/tweets"})))
    # the platform refuses the other post for good (a 422: content rejected)
    sandbox_state.faults.set(
        "mastodon",
        FaultSpec(error_rates={422: 1.0}, endpoints=frozenset({"POST /api/v1/statuses"})),
    )
    for account, text in ((x.id, "X: did it land? 🤷"), (world.account_a, "refused")):
        r = client.post(
            POSTS,
            headers=world.h(),
            json={"content": text, "workspaceId": world.a, "targetAccounts": [account]},
        )
        assert r.status_code == 201, r.text
    done = client.post("/api/postiz/worker/process", headers=worker_headers, json={}).json()
    assert done["processed"]["failed"] == 2
    assert len(sandbox_state.accepted("x")) == 1  # it did land; nobody could tell

    dead = client.get(DEAD, headers=world.h("viewer")).json()["jobs"]
    by_platform = {j["platform"]: j for j in dead}
    assert by_platform["x"]["mayBeLive"] is True
    assert by_platform["x"]["lastErrorClass"] == "uncertain_outcome"
    assert "may be live" in by_platform["x"]["lastError"]
    assert by_platform["mastodon"]["mayBeLive"] is False
    assert by_platform["mastodon"]["lastErrorClass"] == "content_rejected"
    # a blind requeue of a post that may be live needs force
    job = by_platform["x"]["id"]
    blind = client.post(f"{DEAD}/{job}/requeue", headers=world.h("editor"), json={})
    assert blind.status_code == 409
