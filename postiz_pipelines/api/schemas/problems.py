"""The error body every refusal carries: RFC 9457 problem details (``application/problem+json``),
as ``api/problems.py`` writes it. Documented in the OpenAPI document as ``Problem``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProblemItem(BaseModel):
    """One refused input: the field as the client named it, why, the value, the limit."""

    model_config = ConfigDict(title="ProblemItem")

    field: str
    message: str
    value: Any = None
    limit: Any = None


class ProblemBody(BaseModel):
    """An error answer: ``type`` (a URI naming the kind), ``title``, ``status``, ``detail``;
    ``problems`` lists each refused input."""

    model_config = ConfigDict(title="Problem")

    type: str = Field(examples=["https://postiz-pipelines.dev/problems/validation"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = None
    problems: list[ProblemItem] | None = None

    @classmethod
    def json_schemas(cls) -> dict[str, dict[str, Any]]:
        """``{"Problem": ..., "ProblemItem": ...}`` for the document's components."""
        schema = cls.model_json_schema(ref_template="#/components/schemas/{model}")
        defs = schema.pop("$defs", {})
        return {"Problem": schema, **defs}
