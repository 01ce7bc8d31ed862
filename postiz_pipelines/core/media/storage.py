"""Media bytes on the local filesystem under ``AppContext.media_root``.

An upload is written to a staging file in the same directory tree while it is hashed, so a
100 MB file never sits in memory and the final move is an atomic rename. Stored files are
named by content (``<workspace>/<sha[:2]>/<sha><ext>``): the same bytes land on the same
path, which makes deduplication and concurrent identical uploads harmless.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, Iterable
from pathlib import Path
from types import TracebackType

from postiz_pipelines.errors import Problem, ValidationFailed

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
HEAD_BYTES = 4096  # enough to recognise every accepted format from its first bytes


class UploadTooLarge(ValidationFailed):
    """The upload passed the size cap; the API answers 413."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            Problem("file", f"is larger than the limit of {limit} bytes", f">{limit}", limit)
        )
        self.size = size
        self.limit = limit


class StagedFile:
    """Bytes being received: hashed and counted as they are written, capped at ``limit``.

    Use as a context manager; unless ``commit`` moved it into place, the file is removed.
    """

    def __init__(self, directory: Path, limit: int = MAX_UPLOAD_BYTES) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.limit = limit
        self.size = 0
        self.head = b""
        self._hash = hashlib.sha256()
        self._done = False

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            raise UploadTooLarge(self.size, self.limit)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> str:
        """Close the file and return its SHA-256 (hex)."""
        if not self._file.closed:
            self._file.close()
        return self._hash.hexdigest()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)
        self._done = True

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.discard()


class LocalStorage:
    """Content-addressed files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def stage(self, limit: int = MAX_UPLOAD_BYTES) -> StagedFile:
        return StagedFile(self.root / ".staging", limit)

    def stage_file(self, source: Path, limit: int = MAX_UPLOAD_BYTES) -> StagedFile:
        """Stage a local file by streaming it in chunks (the CLI's upload)."""
        staged = self.stage(limit)
        try:
            with source.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                    staged.write(chunk)
            staged.finish()
        except BaseException:
            staged.discard()
            raise
        return staged

    @staticmethod
    def key_for(workspace_id: str, sha256: str, ext: str) -> str:
        return f"{workspace_id}/{sha256[:2]}/{sha256}{ext}"

    def commit(self, staged: StagedFile, key: str) -> Path:
        """Move a finished staging file to ``key`` (atomic: same filesystem)."""
        staged.finish()
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, target)
        staged._done = True
        return target

    def path(self, key: str) -> Path:
        resolved = (self.root / key).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValidationFailed(Problem("storage_key", "points outside the media root", key))
        return resolved

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


async def write_async_chunks(staged: StagedFile, chunks: AsyncIterable[bytes]) -> None:
    async for chunk in chunks:
        staged.write(chunk)


def write_chunks(staged: StagedFile, chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        staged.write(chunk)
