"""Reading a ``multipart/form-data`` upload as it arrives: the ``file`` part goes straight
into a ``StagedFile`` (hashed and size-capped while written), small text fields are kept.

Starlette's own form parsing would finish receiving the whole file before the handler
runs and hash it afterwards; this reads the body once, chunk by chunk. ``read_upload``
runs the steps: check the content type, parse the parts into ``_Parts``, finish.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from postiz_pipelines.api.problems import ApiProblem
from postiz_pipelines.core.media.storage import StagedFile
from postiz_pipelines.errors import Problem, ValidationFailed

MAX_FIELD_BYTES = 4096
MAX_FIELDS = 10


@dataclass
class UploadForm:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    got_file: bool = False


async def read_upload(
    content_type: str, chunks: AsyncIterator[bytes], staged: StagedFile
) -> UploadForm:
    """Parse the body into ``staged`` (the ``file`` part) and the returned text fields."""
    parts = _Parts(staged)
    parser = MultipartParser(_boundary(content_type), cast(Any, parts.callbacks()))
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise ApiProblem(
            400, f"the multipart body cannot be parsed ({type(exc).__name__})"
        ) from None
    staged.finish()
    if not parts.form.got_file:
        raise ValidationFailed(Problem("file", "is required (a multipart part named 'file')"))
    return parts.form


def _boundary(content_type: str) -> bytes:
    """The multipart boundary, or 415 for any other content type."""
    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise ApiProblem(415, "send the upload as multipart/form-data with a 'file' part")
    return boundary


class _Parts:
    """The parser's callbacks: headers of each part, the file's bytes, the text fields."""

    def __init__(self, staged: StagedFile) -> None:
        self.staged = staged
        self.form = UploadForm()
        self.name = ""
        self.buf: bytearray | None = None
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.headers.clear()
        self.name, self.buf = "", None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name.extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value.extend(data[start:end])

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_name).lower()] = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = opts.get(b"name", b"").decode("utf-8", "replace")
        if self.name == "file":
            if self.form.got_file:
                raise ValidationFailed(Problem("file", "send one file per upload"))
            self.form.got_file = True
            self.form.filename = opts.get(b"filename", b"").decode("utf-8", "replace")[:300]
            return
        if len(self.form.fields) >= MAX_FIELDS:
            raise ValidationFailed(
                Problem("form", f"more than {MAX_FIELDS} fields", None, MAX_FIELDS)
            )
        self.buf = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.name == "file":
            self.staged.write(data[start:end])
            return
        assert self.buf is not None
        self.buf.extend(data[start:end])
        if len(self.buf) > MAX_FIELD_BYTES:
            raise ValidationFailed(
                Problem(self.name, f"is longer than {MAX_FIELD_BYTES} bytes", None, MAX_FIELD_BYTES)
            )

    def on_part_end(self) -> None:
        if self.buf is not None:
            self.form.fields[self.name] = self.buf.decode("utf-8", "replace")
