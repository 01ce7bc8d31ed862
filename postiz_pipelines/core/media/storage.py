"""Where media bytes live: one small interface, three backends.

An upload is first written to a staging file on local disk while it is hashed and
counted (a 100 MB file never sits in memory), measured and decoded there, and only then
streamed to the backend under a content-addressed key (``<workspace>/<sha[:2]>/<sha><ext>``):
the same bytes get the same key, which makes deduplication and concurrent identical
uploads harmless, and a refused upload leaves nothing in any backend.

``Storage`` is the interface: ``put_file`` (streamed from a local file), ``local_path``
(a local file with the object's bytes, for providers that upload from disk; remote
backends keep a cache under the media root), ``delete``, ``exists`` and ``signed_url``
(None when the backend has no URL of its own: the API's HMAC-signed link serves it).
``LocalStorage`` is the default; ``storage_s3`` and ``storage_supabase`` are the others.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from postiz_pipelines.core.media.formats import HEAD_BYTES, MAX_UPLOAD_BYTES
from postiz_pipelines.errors import PostizError, Problem, ValidationFailed

__all__ = [
    "MAX_UPLOAD_BYTES",
    "LocalStorage",
    "StagedFile",
    "Storage",
    "StorageUnavailable",
    "UploadTooLarge",
]


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

    Use as a context manager; unless a backend took it (``taken``), the file is removed.
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
        """Append a chunk; UploadTooLarge once the total passes the limit."""
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

    def taken(self) -> None:
        """The file was moved away by a backend: nothing to clean up."""
        self._done = True

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


def key_for(workspace_id: str, sha256: str, ext: str) -> str:
    """The content-addressed key of an original."""
    return f"{workspace_id}/{sha256[:2]}/{sha256}{ext}"


class Storage:
    """The interface every backend implements; see the module docstring.

    ``root`` is the local media root: staging files and (remote backends) the cache live
    under it.
    """

    name = "base"

    def __init__(self, root: Path) -> None:
        self.root = root

    key_for = staticmethod(key_for)

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

    def commit(self, staged: StagedFile, key: str, content_type: str) -> None:
        """Store a finished staging file under ``key``; the staging file is gone after."""
        staged.finish()
        try:
            self.put_file(key, staged.path, content_type)
        finally:
            staged.discard()

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the bytes of a local file under ``key`` (streamed, never whole in memory)."""
        raise NotImplementedError

    def local_path(self, key: str) -> Path:
        """A local file holding the object's bytes."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def signed_url(self, key: str, *, expires_in: int) -> str | None:
        """A URL anyone may GET the object through for ``expires_in`` seconds, or None."""
        return None

    def cache_path(self, key: str) -> Path:
        """Where a remote object's local copy is kept (under the media root)."""
        return _inside(self.root / ".cache", key)

    def remember(self, key: str, path: Path) -> None:
        """Keep a local file just stored under ``key`` as its cached copy (it is moved)."""
        target = self.cache_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)


class LocalStorage(Storage):
    """Content-addressed files under ``root``."""

    name = "local"

    def commit(self, staged: StagedFile, key: str, content_type: str = "") -> None:
        """Move a finished staging file to ``key`` (atomic: same filesystem)."""
        staged.finish()
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, target)
        staged.taken()

    def put_file(self, key: str, path: Path, content_type: str = "") -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(path, partial)
        os.replace(partial, target)

    def path(self, key: str) -> Path:
        return _inside(self.root, key)

    def local_path(self, key: str) -> Path:
        return self.path(key)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def remember(self, key: str, path: Path) -> None:
        path.unlink(missing_ok=True)  # the stored file is the local copy


def _inside(root: Path, key: str) -> Path:
    resolved = (root / key).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ValidationFailed(Problem("storage_key", "points outside the media root", key))
    return resolved


class StorageUnavailable(PostizError):
    """The storage backend could not be reached or refused the operation (the API: 503)."""


def fill_cache(storage: Storage, key: str, download: Callable[[Path], None]) -> Path:
    """The cached local copy of a remote object, downloaded once (to a part file, then
    renamed, so a reader never sees half a file)."""
    target = storage.cache_path(key)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="dl-", suffix=".part", dir=target.parent)
    os.close(fd)
    partial = Path(name)
    try:
        download(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
