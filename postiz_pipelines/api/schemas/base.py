"""The conventions every body shares: JSON names are camelCase (the seed's ``scheduledAt``,
``targetAccounts``...), unknown request fields are refused so a typo never goes unnoticed,
and ISO instants have a plausible year.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Id = str


RoleName = Literal["owner", "admin", "editor", "viewer"]


MAX_TEXT = 100_000
MAX_SLOTS = 200  # slots of a timetable or an account's week


class In(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


MIN_YEAR, MAX_YEAR = 1970, 9000


def _plausible_year(value: str) -> str:
    """Refuse ISO times whose year cannot be shifted to UTC and back (0001, 9999) before
    they reach date arithmetic; anything that is not ISO is left for the domain to name."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return value
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"year {parsed.year} is outside {MIN_YEAR}..{MAX_YEAR}")
    return value


Instant = Annotated[str, Field(max_length=64), AfterValidator(_plausible_year)]
