"""One way to show a frame as a Markdown table: rounded numbers, missing values as ``-``.

Every asset and check that shows rows in the Dagster UI goes through ``markdown_table``.
Missing values come in many shapes (``None``, ``float('nan')``, ``pd.NA``, ``pd.NaT``) and
pandas keeps some of them through ``astype(str)``; each cell is therefore rendered on its
own by ``cell``, which never lets a non-string reach the join.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MISSING = "-"
EMPTY = "_no rows_"


def is_missing(value: Any) -> bool:
    """True for None, NaN, ``pd.NA`` and ``pd.NaT`` (and only those)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str | bytes | int | list | tuple | dict | set):
        return False
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError, ImportError):  # an array-like or an odd object
        return False


def cell(value: Any, *, digits: int = 2) -> str:
    """One value as table text: floats rounded to ``digits`` (integral floats without
    decimals), datetimes in ISO 8601, containers as compact JSON, ``|`` and newlines escaped."""
    if isinstance(value, list | tuple | dict | set):
        text = json.dumps(
            sorted(value) if isinstance(value, set) else value, default=str, ensure_ascii=False
        )
        return _escape(text)
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        try:
            value = value.item()
        except (AttributeError, ValueError):
            pass
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = float(value)
        if math.isinf(number):
            return "∞" if number > 0 else "-∞"
        rounded = round(number, digits)
        if rounded == int(rounded) and abs(rounded) < 1e15:
            return str(int(rounded))
        return f"{rounded:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return cell(value.total_seconds(), digits=digits) + " s"
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return str(value.isoformat())
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return _escape(str(value))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, digits: int = 2) -> str:
    """A Markdown table of ``rows`` (sequences in ``columns`` order)."""
    if not rows:
        return EMPTY
    lines = [
        "| " + " | ".join(_escape(str(c)) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(cell(v, digits=digits) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_table(
    df: pd.DataFrame | Sequence[Mapping[str, Any]], *, max_rows: int = 20, digits: int = 2
) -> str:
    """The first ``max_rows`` rows of ``df`` (a frame, or a list of dicts) as Markdown, with a
    line saying how many were left out."""
    if isinstance(df, Sequence):
        columns = list(dict.fromkeys(k for row in df for k in row))
        rows = [[row.get(c) for c in columns] for row in df]
    else:
        columns = [str(c) for c in df.columns]
        rows = [list(r) for r in df.itertuples(index=False, name=None)]
    if not columns and not rows:
        return EMPTY
    text = markdown_rows(columns, rows[:max_rows], digits=digits)
    if len(rows) > max_rows:
        text += f"\n\n_{len(rows) - max_rows} more rows not shown_"
    return text
