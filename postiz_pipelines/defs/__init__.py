"""The Dagster layer: thin adapters over ``postiz_pipelines.core``."""
