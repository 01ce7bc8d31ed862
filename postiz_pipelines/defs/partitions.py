"""Publish runs are partitioned by workspace (dynamic) x platform (static)."""

from __future__ import annotations

from dagster import (
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from postiz_pipelines.core.models import Platform

WORKSPACES = "workspaces"
workspace_partitions = DynamicPartitionsDefinition(name=WORKSPACES)
platform_partitions = StaticPartitionsDefinition([p.value for p in Platform])
publish_partitions = MultiPartitionsDefinition(
    {"workspace": workspace_partitions, "platform": platform_partitions}
)


def partition_key(workspace_slug: str, platform: str) -> MultiPartitionKey:
    return MultiPartitionKey({"workspace": workspace_slug, "platform": platform})
