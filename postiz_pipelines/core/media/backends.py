"""The storage backend a deployment uses, chosen by ``POSTIZ_MEDIA_STORAGE``.

``local`` (the default) keeps files under the media folder; ``supabase`` needs
``NEXT_PUBLIC_SUPABASE_URL`` and ``SUPABASE_SERVICE_ROLE_KEY`` (and
``POSTIZ_SUPABASE_BUCKET``, default ``media``); ``s3`` needs ``POSTIZ_S3_BUCKET`` and,
for R2 or MinIO, ``POSTIZ_S3_ENDPOINT_URL`` (credentials from ``POSTIZ_S3_ACCESS_KEY_ID``
/ ``POSTIZ_S3_SECRET_ACCESS_KEY``, else boto3's usual chain).
"""

from __future__ import annotations

from pathlib import Path

from postiz_pipelines.core.media.storage import LocalStorage, Storage
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import ConfigError
from postiz_pipelines.settings import Settings

_OPEN: dict[tuple[object, ...], Storage] = {}


def open_storage(settings: Settings, root: Path | None = None) -> Storage:
    """The configured backend (one instance per configuration and process)."""
    root = (root or settings.resolved_media_dir).resolve()
    kind = settings.media_storage
    if kind == "local":
        return LocalStorage(root)
    ident = (kind, root, settings.supabase_url, settings.supabase_bucket, settings.s3_bucket,
             settings.s3_endpoint_url)  # fmt: skip
    if ident not in _OPEN:
        _OPEN[ident] = _make(settings, kind, root)
    return _OPEN[ident]


def _make(settings: Settings, kind: str, root: Path) -> Storage:
    if kind == "supabase":
        from postiz_pipelines.core.media.storage_supabase import SupabaseStorage

        key = settings.supabase_service_role_key
        if not settings.supabase_url or key is None:
            raise ConfigError(
                "POSTIZ_MEDIA_STORAGE=supabase needs NEXT_PUBLIC_SUPABASE_URL and "
                "SUPABASE_SERVICE_ROLE_KEY"
            )
        return SupabaseStorage(
            root,
            url=settings.supabase_url,
            service_role_key=Secret(key.get_secret_value()),
            bucket=settings.supabase_bucket,
        )
    from postiz_pipelines.core.media.storage_s3 import S3Storage

    if not settings.s3_bucket:
        raise ConfigError("POSTIZ_MEDIA_STORAGE=s3 needs POSTIZ_S3_BUCKET")
    secret = settings.s3_secret_access_key
    return S3Storage(
        root,
        bucket=settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
    )
