"""S3-compatible storage (AWS S3, Cloudflare R2, MinIO) through boto3.

Uploads go from the staging file in 8 MiB multipart parts, one at a time, so a 100 MB
upload holds about one part in memory. Platforms that fetch media by URL get a presigned
GET URL (SigV4) that expires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from postiz_pipelines.core.media.storage import Storage, StorageUnavailable, fill_cache

PART_BYTES = 8 * 1024 * 1024


class S3Storage(Storage):
    """Objects in one bucket of an S3-compatible service."""

    name = "s3"

    def __init__(
        self,
        root: Path,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        super().__init__(root)
        self.bucket = bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
        self.transfer = TransferConfig(
            multipart_threshold=PART_BYTES,
            multipart_chunksize=PART_BYTES,
            max_concurrency=1,
            use_threads=False,
        )

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r})"

    def _call(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kw)
        except (BotoCoreError, ClientError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise StorageUnavailable(f"S3 {what} failed ({code})") from None

    def put_file(self, key: str, path: Path, content_type: str = "") -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self._call(
            "upload",
            self.client.upload_file,
            str(path),
            self.bucket,
            key,
            ExtraArgs=extra,
            Config=self.transfer,
        )

    def local_path(self, key: str) -> Path:
        def download(target: Path) -> None:
            self._call(
                "download",
                self.client.download_file,
                self.bucket,
                key,
                str(target),
                Config=self.transfer,
            )

        return fill_cache(self, key, download)

    def delete(self, key: str) -> None:
        self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=key)
        self.cache_path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageUnavailable("S3 head failed") from None
        return True

    def list_keys(self) -> list[str]:
        """Every key in the bucket (tests and operators check nothing was left behind)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def signed_url(self, key: str, *, expires_in: int) -> str | None:
        return str(
            self._call(
                "presign",
                self.client.generate_presigned_url,
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires_in,
            )
        )
