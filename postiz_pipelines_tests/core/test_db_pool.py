"""The app's PostgreSQL connection budget per process comes from the settings."""

from __future__ import annotations


def test_the_connection_budget_reaches_the_postgresql_pool(env, tmp_path):
    """Each process holds at most pool + overflow PostgreSQL connections, as configured."""
    from postiz_pipelines.core.context import AppContext
    from postiz_pipelines.settings import Settings

    budget = {**env, "POSTIZ_DB_POOL_SIZE": "2", "POSTIZ_DB_MAX_OVERFLOW": "1"}
    app = AppContext.from_settings(Settings.from_env(budget))
    try:
        pool = app.db.engine.pool
        if app.db.dialect == "postgresql":
            assert (pool.size(), pool._max_overflow) == (2, 1)  # type: ignore[attr-defined]
        else:  # SQLite: one file, the driver's own pool; the budget does not apply
            assert pool.__class__.__name__ != "QueuePool" or pool.size() != 2
    finally:
        app.close()
