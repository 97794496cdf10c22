"""Logging: to stderr, as text or JSON lines, each record carrying the run id and the source
it concerns. Secrets are never passed to a logger."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys

from okrsync.values import terminal_safe

_run_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("okrsync_run_id", default=None)
_source: contextvars.ContextVar[str | None] = contextvars.ContextVar("okrsync_source", default=None)


@contextlib.contextmanager
def context(run_id: int | None = None, source: str | None = None):
    """Within this block, log records name this run and/or source."""
    tokens = []
    if run_id is not None:
        tokens.append((_run_id, _run_id.set(run_id)))
    if source is not None:
        tokens.append((_source, _source.set(source)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _run_id.get()
        record.source = _source.get()
        return True


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        where = f"[{record.source}] " if record.source else ""
        return terminal_safe(f"okrsync: {record.levelname}: {where}{super().format(record)}")


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            "run_id": record.run_id,
            "source": record.source,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return terminal_safe(json.dumps(entry, ensure_ascii=False))


def setup(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _Text("%(message)s"))
    handler.addFilter(_Context())
    logger = logging.getLogger("okrsync")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
