"""Whether a source changed since okrsync last synced it, so that an unchanged one costs nothing.

A source's fingerprint — an Excel file's content hash, a Google spreadsheet's Drive version
(one Drive call, outside the Sheets API's quota) — is recorded right after okrsync's own write,
with a context key: the rules, the source's configuration and okrsync's version. When both are
the same on the next run, the sheet still shows what okrsync last saw, and the grids kept in the
history store stand in for a read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from okrsync import __version__, snapshot
from okrsync.config import Config, SourceConfig
from okrsync.errors import OkrsyncError
from okrsync.sources import open_source
from okrsync.sources.interface import Source


@dataclass
class Probe:
    """One source checked before the pass: opened (not read), with its fingerprint."""

    cfg: SourceConfig
    source: Source | None
    fingerprint: str | None
    context: str
    unchanged: bool  # the kept grids still show what the sheet shows: no read needed
    same_day: bool  # ... and its items were scored for today: nothing to do at all
    reason: str  # why it is read again (or scored again), for -v


def context_key(config: Config, cfg: SourceConfig) -> str:
    """What, besides the sheet, decides a source's findings, scores and cells."""
    digest = hashlib.sha256(f"okrsync {__version__} {snapshot.FORMAT}\n{cfg!r}\n{config.cycle}|{config.fiscal_year_start}|"
                            f"{config.timezone.key}\n".encode())
    for path in config.rules:
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"unreadable " + str(path).encode())  # the pass will say what is wrong
    return digest.hexdigest()


def probe(cfg: SourceConfig, config: Config, state: dict | None, today) -> Probe:
    context = context_key(config, cfg)
    try:
        source = open_source(cfg, config.google)
        fingerprint = source.fingerprint()
    except OkrsyncError as exc:  # reading it will fail the same way, and say so
        return Probe(cfg, None, None, context, False, False, f"it could not be checked ({exc})")
    if state is None:
        reason = "okrsync has not synced it before"
    elif state["fingerprint"] != fingerprint:
        reason = "its spreadsheet changed" if fingerprint.startswith("drive") else "its file changed"
    elif state["context"] != context:
        reason = "the rules, its configuration or okrsync changed"
    else:
        same_day = state["synced_on"] == today.isoformat()
        return Probe(cfg, source, fingerprint, context, True, same_day, "" if same_day else "it is a new day")
    return Probe(cfg, source, fingerprint, context, False, False, reason)
