"""The workspace's language as the default of Bluesky's ``langs``: a post without a language
of its own goes out in its account's language (``social_accounts.language``), else its
workspace's; every tag is BCP-47, refused at creation otherwise, naming the field."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import PublishJob, SocialAccount, Workspace
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.workspaces.changes import update_workspace
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.errors import ValidationFailed
from postiz_pipelines_tests.core import test_readback as rb
from postiz_pipelines_tests.core.test_readback import connect, run_when_due

engine_app, state, transport = rb.engine_app, rb.state, rb.transport  # the fixtures


def post(app, ws_id: str, acc_id: str, clock, text: str, **settings) -> str:  # type: ignore[no-untyped-def]
    with app.db.session() as s:
        created = create_post(
            s,
            workspace=s.get(Workspace, ws_id),
            text=text,
            account_ids=[acc_id],
            scheduled_at=None,
            now=clock.now(),
            settings=settings,
        )
        s.flush()
        return str(s.scalar(select(PublishJob.id).where(PublishJob.post_id == created.id)))


def test_langs_default_to_the_accounts_language_else_the_workspaces(
    engine_app, state, transport, make, clock
) -> None:  # type: ignore[no-untyped-def]
    ws, acc = connect(engine_app, state, transport, make, "bluesky")
    first = post(engine_app, ws.id, acc.id, clock, "Sem idioma próprio 🇧🇷")
    run_when_due(engine_app, clock, transport, first)
    assert state.accepted("bluesky")[-1].extra["langs"] == []  # nobody named one
    with engine_app.db.session() as s:
        update_workspace(s, s.get(Workspace, ws.id), language="pt-BR", now=clock.now())
    second = post(engine_app, ws.id, acc.id, clock, "Olá do espaço de trabalho 🌎")
    run_when_due(engine_app, clock, transport, second)
    assert state.accepted("bluesky")[-1].extra["langs"] == ["pt-BR"]
    with engine_app.db.session() as s:
        row = s.get(SocialAccount, acc.id)
        assert row is not None
        row.language = "de"
    third = post(engine_app, ws.id, acc.id, clock, "Grüß Gott vom Konto 🏔️")
    run_when_due(engine_app, clock, transport, third)
    assert state.accepted("bluesky")[-1].extra["langs"] == ["de"]
    own = post(engine_app, ws.id, acc.id, clock, "こんにちは", langs=["ja"])
    run_when_due(engine_app, clock, transport, own)
    assert state.accepted("bluesky")[-1].extra["langs"] == ["ja"]  # the post's own wins
    with engine_app.db.session() as s, pytest.raises(ValidationFailed) as refused:
        create_post(
            s,
            workspace=s.get(Workspace, ws.id),
            text="x",
            account_ids=[acc.id],
            scheduled_at=None,
            now=clock.now(),
            settings={"langs": ["en_US"]},
        )
    assert [p.field for p in refused.value.problems] == ["bluesky.langs[0]"]


def test_a_language_that_is_not_bcp47_is_refused_naming_the_field(app, clock, make) -> None:  # type: ignore[no-untyped-def]
    with app.db.session() as s, pytest.raises(ValidationFailed) as bad:
        create_workspace(s, slug="bad-lang", language="en_US", now=clock.now())
    [problem] = bad.value.problems
    assert problem.field == "language" and "write 'en-US'" in problem.message
    ws = make.workspace(slug="ok-lang")
    with app.db.session() as s, pytest.raises(ValidationFailed) as long:
        update_workspace(s, s.get(Workspace, ws.id), language="x" * 36, now=clock.now())
    assert long.value.problems[0].limit == 35
    with pytest.raises(ValidationFailed) as account:
        make.account(ws, handle="lang", settings={"language": "english!"})
    assert account.value.problems[0].field == "language"
    moved = make.account(ws, handle="legacy", settings={"language": "fr", "timezone": "UTC"})
    with app.db.read() as s:
        row = s.get(SocialAccount, moved.id)
        assert row is not None
        assert (row.language, row.settings) == ("fr", {"timezone": "UTC"})
