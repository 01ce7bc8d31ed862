"""Accept-then-drop through the engine for the lookup platforms added with YouTube and
TikTok: Pinterest and Reddit accept the post and the answer is lost; the retry reads the
account's recent posts, finds it, and completes the job without posting it twice."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import (
    AttemptOutcome,
    JobStatus,
    PublishAttempt,
    PublishJob,
    Workspace,
)
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app
from postiz_pipelines.sandbox.pinterest import board_id

CASES = {
    "pinterest": ("POST /v5/pins", {"title": "Autumn"}),
    "reddit": ("POST /api/submit", {"subreddit": "test", "title": "A title of its own"}),
}


@pytest.mark.parametrize("platform", sorted(CASES))
def test_a_lost_answer_is_found_by_the_lookup_and_not_posted_again(
    app, make, clock, platform: str
) -> None:  # type: ignore[no-untyped-def]
    endpoint, settings = CASES[platform]
    state = SandboxState(clock=clock, seed=9)
    user = state.provision(platform, f"tok-{platform}", username="alice")
    state.faults.set(platform, FaultSpec(drops=1, endpoints=frozenset({endpoint})))
    transport = SandboxTransport(create_app(state), timeout=1)
    ws = make.workspace()
    extra: dict[str, Any] = (
        {"settings": {"board_id": board_id(user)}} if platform == "pinterest" else {}
    )
    acc = make.account(
        ws,
        platform=platform,
        handle="alice",
        token=f"tok-{platform}",
        base_url=f"http://sandbox.test/{platform}",
        external_id=user.id,
        **extra,
    )
    media = []
    if platform == "pinterest":
        buf = io.BytesIO()
        Image.new("RGB", (600, 900), (30, 90, 160)).save(buf, "PNG")
        storage = LocalStorage(app.media_root)
        with app.db.session() as s:
            staged = storage.stage()
            staged.write(buf.getvalue())
            asset, _ = ingest(
                s, storage, staged, workspace_id=ws.id, filename="p.png", now=clock.now()
            )
            media = [asset.id]
    with app.db.session() as s:
        create_post(
            s,
            workspace=s.get(Workspace, ws.id),
            text="Herbstlaub 🍁 im Park",
            account_ids=[acc.id],
            scheduled_at=None,
            now=clock.now(),
            media_ids=media,
            media_root=app.media_root,
            settings=settings,
        )
    assert (
        publish_due(app, owner="run-1", clock=clock, transport=transport).as_dict()["retrying"] == 1
    )
    with app.db.read() as s:
        job = s.scalars(select(PublishJob)).one()
    assert job.last_error_class == "outcome_unknown"
    clock.set(job.next_attempt_at)
    assert (
        publish_due(app, owner="run-2", clock=clock, transport=transport).as_dict()["completed"]
        == 1
    )
    [post] = state.accepted(platform)
    assert state.request_count(platform, endpoint) == 1
    with app.db.read() as s:
        job = s.scalars(select(PublishJob)).one()
        outcomes = [
            a.outcome for a in s.scalars(select(PublishAttempt).order_by(PublishAttempt.attempt_no))
        ]
    assert (job.status, job.remote_id) == (JobStatus.COMPLETED, post.remote_id)
    assert outcomes == [AttemptOutcome.UNCERTAIN, AttemptOutcome.SUCCEEDED]
