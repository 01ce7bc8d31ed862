"""The REST API (FastAPI): ``create_app(app_context)``; served by ``postiz-pipelines api``."""

from __future__ import annotations

from postiz_pipelines.api.app import create_app

__all__ = ["create_app"]
