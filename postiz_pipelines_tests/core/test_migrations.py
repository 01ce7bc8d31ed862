"""Migrations build the schema from empty on both backends, and it matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from postiz_pipelines.core.db import make_engine
from postiz_pipelines.core.migrate import alembic_config, current_revision, upgrade
from postiz_pipelines.core.models import Base


def test_upgrade_from_empty_matches_models_and_is_repeatable(db_url):
    # db_url is already migrated by the fixture; running again must be a no-op
    upgrade(db_url)
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert current_revision(db_url) == head
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == []
    assert set(Base.metadata.tables) <= tables


def test_single_head():
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1


def test_downgrade_to_empty_and_back(sqlite_url):
    from alembic import command

    cfg = alembic_config(sqlite_url)
    command.downgrade(cfg, "base")
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(sqlite_url)
    assert current_revision(sqlite_url) == ScriptDirectory.from_config(cfg).get_current_head()
