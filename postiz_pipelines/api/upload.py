"""Reading a ``multipart/form-data`` upload as it arrives: the ``file`` part goes straight
into a ``StagedFile`` (hashed and size-capped while written), small text fields are kept.

Starlette's own form parsing would finish receiving the whole file before the handler
runs and hash it afterwards; this reads the body once, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

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
    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise ApiProblem(415, "send the upload as multipart/form-data with a 'file' part")
    form = UploadForm()
    part: dict[str, object] = {}
    header_name = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}

    def on_part_begin() -> None:
        headers.clear()
        part.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, opts = parse_options_header(headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        part["name"] = name
        if name == "file":
            if form.got_file:
                raise ValidationFailed(Problem("file", "send one file per upload"))
            form.got_file = True
            form.filename = opts.get(b"filename", b"").decode("utf-8", "replace")[:300]
        else:
            if len(form.fields) >= MAX_FIELDS:
                raise ValidationFailed(
                    Problem("form", f"more than {MAX_FIELDS} fields", None, MAX_FIELDS)
                )
            part["buf"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part.get("name") == "file":
            staged.write(data[start:end])
            return
        buf = part["buf"]
        assert isinstance(buf, bytearray)
        buf.extend(data[start:end])
        if len(buf) > MAX_FIELD_BYTES:
            raise ValidationFailed(
                Problem(
                    str(part["name"]),
                    f"is longer than {MAX_FIELD_BYTES} bytes",
                    None,
                    MAX_FIELD_BYTES,
                )
            )

    def on_part_end() -> None:
        buf = part.get("buf")
        if isinstance(buf, bytearray):
            form.fields[str(part["name"])] = buf.decode("utf-8", "replace")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise ApiProblem(
            400, f"the multipart body cannot be parsed ({type(exc).__name__})"
        ) from None
    staged.finish()
    if not form.got_file:
        raise ValidationFailed(Problem("file", "is required (a multipart part named 'file')"))
    return form
