"""Expected failures and the exit codes they map to (the CLI maps them in one place)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # validation errors found, or a source failed to sync
EXIT_USAGE = 2  # usage or configuration error
EXIT_LOCKED = 3  # another okrsync process holds the history store


class OkrsyncError(Exception):
    """An expected failure: one clear sentence for the user, no traceback."""

    exit_code = EXIT_FAILED


class ConfigError(OkrsyncError):
    exit_code = EXIT_USAGE


class RulesError(OkrsyncError):
    exit_code = EXIT_USAGE


class SourceError(OkrsyncError):
    """A source cannot be read or written; other sources go on."""


class WorkbookError(SourceError):
    """The workbook file itself is unusable (not an .xlsx, encrypted, a zip bomb, ...)."""


class WriteSkipped(SourceError):
    """Nothing was written this run for a reason the user can fix (file changed, locked, ...)."""


class StoreLocked(OkrsyncError):
    exit_code = EXIT_LOCKED
