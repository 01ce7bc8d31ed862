"""Resources: the app context (database, keyring, settings) for ops, sensors and assets."""

from __future__ import annotations

import os

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from postiz_pipelines.clock import Clock, SystemClock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.settings import Settings


class PostizResource(ConfigurableResource):
    """The app database and settings, from POSTIZ_* variables; fields override them.

    Tests and deployments set ``database_url``/``sandbox_url`` here rather than in the
    environment when one process hosts several configurations.
    """

    database_url: str | None = None
    sandbox_url: str | None = None
    data_dir: str | None = None
    settings_overrides: dict[
        str, str
    ] = {}  # more POSTIZ_* values (never secrets: config is visible)

    _app: AppContext | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        env = {**os.environ, **self.settings_overrides}
        for field, var in (
            ("database_url", "POSTIZ_DATABASE_URL"),
            ("sandbox_url", "POSTIZ_SANDBOX_URL"),
            ("data_dir", "POSTIZ_DATA_DIR"),
        ):
            value = getattr(self, field)
            if value:
                env[var] = value
        return Settings.from_env(env)

    def app(self) -> AppContext:
        if self._app is None:
            self._app = AppContext.from_settings(self.settings())
        return self._app

    def clock(self) -> Clock:
        """The wall clock. A test gives a subclass whose clock it controls."""
        return SystemClock()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Every log record of this run carries its run id (structured logs)."""
        from postiz_pipelines.core.observability.logs import bind

        run = getattr(context, "run", None)  # none outside a run (a sensor, a test)
        bind(run_id=run.run_id if run is not None else None)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None
