"""Logging set-up: readable lines for people, one JSON object a line for machines, for our
records and uvicorn's alike, however the app is started."""

import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

import orjson
from opentelemetry import trace

from app.core.config import LogFormat
from app.core.middleware import current_request_id

_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's message again, with terminal colour codes
}
# Loggers uvicorn gives handlers of its own when it configures logging (plain `uvicorn`).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
UVICORN_ACCESS_LOGGER = "uvicorn.access"


class _RequestIdFilter(logging.Filter):
    """Gives each record the request's id and, while a span is recorded, the trace's ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line. orjson rather than the standard library's json: the access line
    is written for every request, and encoding it was half its cost (bench/README.md)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _OurHandler(logging.StreamHandler[TextIO]):
    """Marks the handler we install, so that configuring twice replaces it."""


def configure_logging(log_format: LogFormat, level: str = "INFO") -> None:
    # What no line of ours prints is not gathered for every record (the logging HOWTO's
    # "Optimization"): finding the caller walks the stack, and the access line is written for
    # every request.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(handler)
    handler = _OurHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")
        )
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # app.access logs each request once, with its request id: uvicorn's own line is dropped,
    # as uvicorn itself does with --no-access-log.
    logging.getLogger(UVICORN_ACCESS_LOGGER).handlers.clear()
    logging.getLogger(UVICORN_ACCESS_LOGGER).propagate = False
    # httpx logs every outgoing request at INFO: one line per provider page and notification;
    # Alembic announces each of its autogenerate plugins at INFO whenever it migrates.
    for chatty in ("httpx", "alembic.runtime.plugins"):
        logging.getLogger(chatty).setLevel(max(root.level, logging.WARNING))
