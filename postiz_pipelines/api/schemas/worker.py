"""The worker endpoints' bodies (authenticated by POSTIZ_WORKER_API_KEY)."""

from __future__ import annotations

from pydantic import Field

from postiz_pipelines.api.schemas.base import Id, In


class WorkerProcessIn(In):
    max_jobs: int = Field(default=10, ge=1, le=1000)
    include_scheduler: bool = False
    workspace_id: Id | None = Field(default=None, max_length=64)
    platform: str | None = Field(default=None, max_length=24)
