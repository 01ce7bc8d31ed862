"""The domain core. Nothing here imports dagster or fastapi; functions take ``now``."""
