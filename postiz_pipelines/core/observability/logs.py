"""Structured logs (structlog over the standard library's logging).

``configure_logging`` installs one root handler: JSON lines in production
(``POSTIZ_LOG_FORMAT=json``, or ``auto`` when stderr is not a terminal), readable colored
lines in a terminal. Every record, from structlog loggers and plain ``logging`` loggers
alike (the engine's, httpx's), carries the context bound with ``bind`` or
``bound_contextvars``: ``run_id``, ``job_id``, ``workspace_id``, ``platform``,
``account_id``. Values under secret-looking keys (token, secret, password, authorization,
cookie, key) are replaced by ``<redacted>``, and bearer tokens inside messages are masked.

Records keep going to ``postiz_pipelines.*`` standard loggers, so Dagster's managed
loggers (``dagster.yaml`` ``python_logs``) show the same events in the run log; their
message carries the context as ``key=value`` pairs, since Dagster shows only the message.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|cookie|api_?key", re.I)
BEARER = re.compile(r"(?i)(bearer|bot|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
CONTEXT_KEYS = ("run_id", "job_id", "workspace_id", "platform", "account_id")
_INTERNAL = {"level", "timestamp", "logger", "_record", "_from_structlog", "event"}
_configured: dict[str, Any] = {}


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace values under secret-looking keys; mask bearer tokens inside strings."""
    for key in list(event_dict):
        if key.startswith("_"):
            continue
        value = event_dict[key]
        if SECRET_KEY.search(key) and value is not None:
            event_dict[key] = "<redacted>"
        elif isinstance(value, str):
            event_dict[key] = BEARER.sub(r"\1 <redacted>", value)
    return event_dict


def _to_stdlib(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> tuple[tuple[str], dict[str, Any]]:
    """The last structlog processor: a readable message with ``key=value`` context (what
    Dagster's run log shows), the structured fields riding along for our formatter."""
    fields = {k: v for k, v in event_dict.items() if k not in _INTERNAL}
    event = str(event_dict.get("event", ""))
    pairs = " ".join(f"{k}={v}" for k, v in fields.items())
    message = f"{event} {pairs}".strip()
    return (message,), {"extra": {"_structlog": {"event": event, **fields}}}


def _from_record(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """In the formatter: restore the structured fields of records made by structlog."""
    record = event_dict.get("_record")
    structured = getattr(record, "_structlog", None)
    if isinstance(structured, dict):
        event_dict.update(structured)
    return event_dict


def _json_wanted(fmt: str) -> bool:
    if fmt == "json":
        return True
    if fmt == "console":
        return False
    return not sys.stderr.isatty()


def configure_logging(*, fmt: str = "auto", level: str = "INFO", force: bool = False) -> None:
    """Install the root handler and structlog's configuration (once; ``force`` redoes it)."""
    if _configured and not force:
        return
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, redact, _to_stdlib],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    json_lines = _json_wanted(fmt)
    renderer: Any = (
        structlog.processors.JSONRenderer(default=str)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _from_record],
        processors=[
            redact,
            structlog.processors.format_exc_info if json_lines else _identity,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    handler.set_name("postiz")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "postiz"]:
        root.removeHandler(old)
    root.addHandler(handler)
    # our loggers at the chosen level; other libraries keep theirs (root stays WARNING)
    logging.getLogger("postiz_pipelines").setLevel(level.upper())
    _configured.update(fmt="json" if json_lines else "console", level=level.upper())


def configure_from_settings(settings: Any) -> None:
    """``configure_logging`` with ``POSTIZ_LOG_FORMAT`` and ``POSTIZ_LOG_LEVEL``."""
    configure_logging(fmt=settings.log_format, level=settings.log_level)


def _identity(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return event_dict


def get_logger(name: str) -> Any:
    """A structlog logger writing to the standard logger ``name``."""
    return structlog.stdlib.get_logger(name)


def bind(**context: Any) -> None:
    """Bind context (``run_id=...``) to every later record of this thread or task."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in context.items() if v is not None})


@contextmanager
def bound(**context: Any) -> Iterator[None]:
    """Bind context for the duration of a block."""
    with structlog.contextvars.bound_contextvars(
        **{k: v for k, v in context.items() if v is not None}
    ):
        yield
