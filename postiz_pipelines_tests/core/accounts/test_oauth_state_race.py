"""A state is spent once even when two callbacks carrying it race (PostgreSQL row locks;
SQLite's single writer): the second is refused, never a second account connect."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from postiz_pipelines.core.accounts.connect import states
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.models import User
from postiz_pipelines.errors import ValidationFailed


def _issue(app, make, clock) -> str:  # type: ignore[no-untyped-def]
    ws = make.workspace()
    with app.db.session() as s:
        s.add(User(id="usr_ada", email="ada@example.test", name="Adá Lovelace"))
        s.flush()
        return states.issue_state(
            s,
            app.keyring,
            platform="mastodon",
            workspace_id=ws.id,
            user_id="usr_ada",
            redirect_uri="http://127.0.0.1:53682/callback",
            verifier="v" * 43,
            extra={"instance": "https://mastodon.test"},
            now=clock.now(),
            ttl=timedelta(minutes=10),
        )


def _take(db: Database, keyring, raw: str, clock) -> str:  # type: ignore[no-untyped-def]
    with db.session() as s:
        row, _verifier = states.take_state(
            s, keyring, raw, platform="mastodon", user_id="usr_ada", now=clock.now()
        )
        return row.id


def test_two_callbacks_racing_with_one_state_spend_it_once(app, make, clock):  # type: ignore[no-untyped-def]
    raw = _issue(app, make, clock)
    other = Database(app.db.url)
    results: list[str] = []
    try:
        with app.db.session() as first:
            states.take_state(
                first, app.keyring, raw, platform="mastodon", user_id="usr_ada", now=clock.now()
            )
            second_started = threading.Event()

            def second() -> None:
                second_started.set()
                try:
                    _take(other, app.keyring, raw, clock)
                    results.append("taken")
                except ValidationFailed as exc:
                    results.append(str(exc))

            racer = threading.Thread(target=second)
            racer.start()
            second_started.wait(10)
            if app.db.dialect == "postgresql":
                # the second UPDATE must be waiting on the first's row lock before we commit
                with Database(app.db.url).engine.connect() as watch:
                    for _ in range(500):
                        waiting = watch.execute(
                            text(
                                "SELECT count(*) FROM pg_stat_activity "
                                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                            )
                        ).scalar_one()
                        if waiting:
                            break
                        threading.Event().wait(0.01)
                    assert waiting, "the second callback never reached the row lock"
        racer.join(30)
    finally:
        other.dispose()
    assert len(results) == 1
    assert "already used" in results[0]


def test_a_spent_state_is_refused_after_commit(app, make, clock):  # type: ignore[no-untyped-def]
    raw = _issue(app, make, clock)
    _take(app.db, app.keyring, raw, clock)
    with pytest.raises(ValidationFailed, match="already used"):
        _take(app.db, app.keyring, raw, clock)
