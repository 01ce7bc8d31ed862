"""postiz_pipelines: a self-hosted social-media publishing and scheduling engine on Dagster."""

__version__ = "0.1.0"
