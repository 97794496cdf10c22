"""The history store (SQLite): runs, per-item snapshots, findings, owned columns, KPI values,
digests sent. One okrsync process works on a store at a time (a file lock)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sqlite3
from pathlib import Path

from okrsync.errors import ConfigError, StoreLocked

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    today TEXT NOT NULL,
    outcome TEXT,
    duration REAL
);
CREATE TABLE IF NOT EXISTS source_runs (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    source TEXT NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT,
    errors INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0,
    cells_written INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS snapshots (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    source TEXT NOT NULL,
    kind TEXT NOT NULL,          -- objective | key_result | kpi
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    team TEXT,
    owner TEXT,
    score REAL,
    status TEXT NOT NULL,
    current REAL,
    row INTEGER
);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    source TEXT NOT NULL,
    tab TEXT, cell TEXT, row INTEGER,
    rule TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS owned_columns (
    source TEXT NOT NULL, tab TEXT NOT NULL, owned TEXT NOT NULL, header TEXT NOT NULL,
    PRIMARY KEY (source, tab, owned)
);
CREATE TABLE IF NOT EXISTS item_values (
    source TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    value REAL NOT NULL,          -- the latest value recorded
    since TEXT NOT NULL,          -- the run date it first appeared (staleness)
    previous REAL,                -- the value before it (trends)
    PRIMARY KEY (source, kind, key)
);
CREATE TABLE IF NOT EXISTS digests_sent (
    digest TEXT NOT NULL, period TEXT NOT NULL, recipient TEXT NOT NULL,
    message_id TEXT NOT NULL, sent_at TEXT NOT NULL,
    summary TEXT,                 -- JSON: what the next period's digest reports changes against
    PRIMARY KEY (digest, period, recipient)
);
"""


# Each step from one schema version to the next, applied in order inside one transaction when a
# store written by an older okrsync is opened; the version is stamped in PRAGMA user_version.
# Version 1 is SCHEMA as okrsync 0.1.0 wrote it (stores from then carry user_version 0).
MIGRATIONS = {
    2: """
CREATE TABLE IF NOT EXISTS item_latest (  -- each item as last recorded: snapshots keep only changes
    source TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    label TEXT NOT NULL, team TEXT, owner TEXT, score REAL, status TEXT NOT NULL, current REAL, row INTEGER,
    PRIMARY KEY (source, kind, key)
);
CREATE TABLE IF NOT EXISTS source_state (
    source TEXT PRIMARY KEY,      -- what a source showed after its last sync, to skip reading it
    fingerprint TEXT NOT NULL,    -- the file's hash, or Drive's version, right after that sync
    context TEXT NOT NULL,        -- hash of the rules, the configuration and okrsync's version
    synced_on TEXT NOT NULL,      -- the run date its items were scored for
    grids TEXT NOT NULL,          -- okrsync.snapshot: the tabs as the sheet shows them
    result TEXT NOT NULL          -- okrsync.snapshot: findings and scored items
);
""",
}
SCHEMA_VERSION = max(MIGRATIONS)

# What status shows for a source the store has never seen.
HEALTH_UNKNOWN = {"last_success": None, "last_error": None, "last_error_at": None, "errors": 0, "warnings": 0}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Store:
    @classmethod
    def read_only(cls, path: Path) -> "Store | None":
        """The store opened for reading only (no lock, no schema changes); None if absent."""
        if not Path(path).is_file():
            return None
        store = cls.__new__(cls)
        store.path, store._lock_handle = Path(path), None
        try:
            store.db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
            store.db.execute("SELECT 1 FROM item_values LIMIT 1")
            store._refuse_newer()
        except sqlite3.DatabaseError:
            return None  # an older or foreign file: validate without history
        return store

    def __init__(self, path: Path, lock: bool = True):
        self.path = Path(path)
        self._lock_handle = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if lock:
                self._lock()
            self.db = sqlite3.connect(self.path)
            # WAL: readers (status, validate) never block the run; NORMAL sync is durable with WAL
            # except for the last transactions on power loss, which the next run records again.
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._upgrade()
            if lock:
                self._mark_killed()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"The history store {self.path} cannot be used: {exc}.") from None
        except OSError as exc:
            raise ConfigError(f"The history store {self.path} cannot be opened: {exc.strerror}.") from None

    @property
    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _lock(self) -> None:
        handle = open(self._lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreLocked(f"Another okrsync ({holder}) is working on {self.path}; try again when it has finished.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {_now()}")
        handle.flush()
        self._lock_handle = handle

    def _version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _refuse_newer(self) -> None:
        if self._version() > SCHEMA_VERSION:
            raise ConfigError(
                f"The history store {self.path} was written by a newer okrsync (schema {self._version()}; this one "
                f"knows up to {SCHEMA_VERSION}): upgrade okrsync, or point `state` at another file.")

    def _upgrade(self) -> None:
        """A new store gets the whole schema; one written by an older okrsync is upgraded in
        place, every step and the new version in one transaction (all or nothing)."""
        self._refuse_newer()
        version = self._version()
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone():
            steps, version = [SCHEMA, *MIGRATIONS.values()], 0
        else:
            steps = [sql for number, sql in sorted(MIGRATIONS.items()) if number > max(version, 1)]
        if steps or version != SCHEMA_VERSION:
            self.db.executescript("BEGIN;\n" + "\n".join(steps) + f"\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")

    def _mark_killed(self) -> None:
        """Runs left unfinished by a process that is gone (this one holds the lock now)."""
        with self.db:
            self.db.execute("UPDATE runs SET outcome = 'killed', finished_at = ? WHERE finished_at IS NULL", (_now(),))

    def close(self) -> None:
        self.db.close()
        if self._lock_handle:
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, command: str, today: dt.date) -> int:
        cur = self.db.execute("INSERT INTO runs (command, started_at, today) VALUES (?, ?, ?)",
                              (command, _now(), today.isoformat()))
        self.db.commit()
        return cur.lastrowid

    def finish_run(self, run_id: int, outcome: str, duration: float) -> None:
        self.db.execute("UPDATE runs SET finished_at = ?, outcome = ?, duration = ? WHERE id = ?",
                        (_now(), outcome, duration, run_id))
        self.db.commit()

    def record_source(self, run_id: int, result) -> None:
        """One source's outcome, its items and findings (``result``: sync.SourceResult). The
        items of a source that had not changed were recorded by the run that last read it."""
        with self.db:
            self.db.execute(
                "INSERT INTO source_runs (run_id, source, ok, error, errors, warnings, cells_written) VALUES (?,?,?,?,?,?,?)",
                (run_id, result.name, int(result.ok), result.error, result.errors, result.warnings, result.written))
            self.db.executemany(
                "INSERT INTO findings VALUES (?,?,?,?,?,?,?,?)",
                [(run_id, f.source, f.tab, f.cell, f.row, f.rule, f.severity.value, f.message) for f in result.findings])
            if result.unchanged:
                return
            rows = []
            for o in result.evaluation.objectives:
                rows.append((run_id, result.name, "objective", o.key, o.text, o.team, o.owner, o.score, o.status.text, None, o.first_row))
            for kr in result.evaluation.key_results:
                rows.append((run_id, result.name, "key_result", kr.key, kr.text, None, kr.owner,
                             kr.score, kr.status.text, kr.current, kr.row))
            for k in result.evaluation.kpis:
                rows.append((run_id, result.name, "kpi", k.key, k.name, k.team, k.owner, None, k.status.text, k.current, k.row))
            # A snapshot only where an item is new or shows something else than last time: the
            # store grows with what changes, not with every run.
            latest = {(kind, key): rest for kind, key, *rest in self.db.execute(
                "SELECT kind, key, label, team, owner, score, status, current, row FROM item_latest WHERE source = ?",
                (result.name,))}
            changed = [r for r in rows if latest.get((r[2], r[3])) != list(r[4:])]
            self.db.executemany("INSERT INTO snapshots VALUES (?,?,?,?,?,?,?,?,?,?,?)", changed)
            self.db.executemany("INSERT OR REPLACE INTO item_latest VALUES (?,?,?,?,?,?,?,?,?,?)",
                                [r[1:] for r in changed])

    def prune(self, today: dt.date, days: int) -> None:
        """Forget runs older than ``days`` before ``today`` with what they recorded (each item's
        latest state, KPI values and digests sent are kept)."""
        cutoff = (today - dt.timedelta(days=days)).isoformat()
        old = "SELECT id FROM runs WHERE today < ?"
        with self.db:
            for table in ("snapshots", "findings", "source_runs"):
                self.db.execute(f"DELETE FROM {table} WHERE run_id IN ({old})", (cutoff,))
            self.db.execute("DELETE FROM runs WHERE today < ?", (cutoff,))

    def review_history(self, until: dt.date) -> dict[str, list[dict]]:
        """Runs up to ``until``, and the snapshots and findings they recorded (for a review)."""
        day = until.isoformat()
        runs = "SELECT id FROM runs WHERE today <= ?"
        return {"runs": _dicts(self.db.execute("SELECT id, today FROM runs WHERE today <= ? ORDER BY id", (day,))),
                "snapshots": _dicts(self.db.execute(
                    f"SELECT * FROM snapshots WHERE run_id IN ({runs}) ORDER BY run_id", (day,))),
                "findings": _dicts(self.db.execute(
                    f"SELECT run_id, source, tab, cell, row, rule, severity FROM findings WHERE run_id IN ({runs})",
                    (day,)))}

    def size(self) -> int:
        """Bytes on disk: the database and its write-ahead log."""
        return sum(p.stat().st_size for p in (self.path, self.path.with_name(self.path.name + "-wal")) if p.exists())

    def snapshots(self, run_id: int) -> list[dict]:
        return _dicts(self.db.execute("SELECT * FROM snapshots WHERE run_id = ?", (run_id,)))

    def recent_runs(self, limit: int = 5) -> list[dict]:
        return _dicts(self.db.execute("SELECT id, command, started_at, finished_at, today, outcome, duration "
                                      "FROM runs ORDER BY id DESC LIMIT ?", (limit,)))

    def source_health(self) -> dict[str, dict]:
        """Per source: the last successful sync and the last error."""
        health: dict[str, dict] = {}
        rows = self.db.execute(
            "SELECT sr.source, sr.ok, sr.error, sr.errors, sr.warnings, r.finished_at, r.id FROM source_runs sr "
            "JOIN runs r ON r.id = sr.run_id ORDER BY r.id")
        for source, ok, error, errors, warnings, finished, _run_id in rows:
            entry = health.setdefault(source, dict(HEALTH_UNKNOWN))
            if ok:
                entry.update(last_success=finished, errors=errors, warnings=warnings)
            else:
                entry.update(last_error=error, last_error_at=finished)
        return health

    def findings_count(self, run_id: int) -> dict[str, int]:
        cur = self.db.execute("SELECT severity, COUNT(*) FROM findings WHERE run_id = ? GROUP BY severity", (run_id,))
        return dict(cur.fetchall())

    def holder(self) -> str | None:
        """Who holds the store's lock right now, if anyone."""
        if not self._lock_path.exists():
            return None
        with open(self._lock_path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                return handle.read().strip() or "another process"
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    # -- what each source showed ---------------------------------------------------------------

    def source_states(self) -> dict[str, dict]:
        """Per source: the fingerprint, context and synced_on its state was kept with."""
        return {row["source"]: row for row in _dicts(self.db.execute(
            "SELECT source, fingerprint, context, synced_on FROM source_state"))}

    def kept(self, source: str, what: str) -> str:
        """A source's kept ``grids`` or ``result`` (okrsync.snapshot text)."""
        column = {"grids": "grids", "result": "result"}[what]
        return self.db.execute(f"SELECT {column} FROM source_state WHERE source = ?", (source,)).fetchone()[0]

    def keep_source_state(self, source: str, fingerprint: str, context: str, synced_on: dt.date,
                          grids: str, result: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO source_state VALUES (?,?,?,?,?,?)",
                            (source, fingerprint, context, synced_on.isoformat(), grids, result))

    # -- owned columns and KPI values --------------------------------------------------------

    def adopted_columns(self, source: str, tab: str) -> dict[str, str]:
        cur = self.db.execute("SELECT owned, header FROM owned_columns WHERE source = ? AND tab = ?", (source, tab))
        return dict(cur.fetchall())

    def adopt_columns(self, source: str, tab: str, headers: dict[str, str]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO owned_columns VALUES (?,?,?,?)",
                                [(source, tab, key, header) for key, header in headers.items()])

    def recorded_values(self) -> dict[tuple[str, str, str], tuple[float, dt.date]]:
        """(source, kind, key) → (current value, date since it has stood unchanged)."""
        cur = self.db.execute("SELECT source, kind, key, value, since FROM item_values")
        return {(s, k, key): (v, dt.date.fromisoformat(since)) for s, k, key, v, since in cur}

    def previous_values(self, source: str, kind: str, current: dict[str, float]) -> dict[str, float]:
        """For each item, the last recorded value that differs from its current one."""
        out = {}
        for key, value, previous in self.db.execute(
                "SELECT key, value, previous FROM item_values WHERE source = ? AND kind = ?", (source, kind)):
            now = current.get(key)
            differing = value if now is not None and now != value else previous
            if differing is not None:
                out[key] = differing
        return out

    def record_values(self, source: str, kind: str, values: dict[str, float | None], today: dt.date) -> None:
        """Remember each value; when it changed, the date it changed on and the value before."""
        known = {key: value for key, value in self.db.execute(
            "SELECT key, value FROM item_values WHERE source = ? AND kind = ?", (source, kind))}
        rows = [(source, kind, key, value, today.isoformat(), known.get(key)) for key, value in values.items()
                if value is not None and value == value and known.get(key) != value]
        with self.db:
            self.db.executemany(
                "INSERT INTO item_values VALUES (?,?,?,?,?,?) ON CONFLICT (source, kind, key) DO UPDATE SET "
                "value = excluded.value, since = excluded.since, previous = excluded.previous", rows)

    # -- digests ------------------------------------------------------------------------------

    def digest_sent(self, digest: str, period: str, recipient: str) -> bool:
        cur = self.db.execute("SELECT 1 FROM digests_sent WHERE digest = ? AND period = ? AND recipient = ?",
                              (digest, period, recipient))
        return cur.fetchone() is not None

    def sent_count(self, digest: str, period: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM digests_sent WHERE digest = ? AND period = ?",
                               (digest, period)).fetchone()[0]

    def record_digest(self, digest: str, period: str, recipient: str, message_id: str, summary: str = "{}") -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO digests_sent VALUES (?,?,?,?,?,?)",
                            (digest, period, recipient, message_id, _now(), summary))

    def last_digest_summary(self, digest: str, before_period: str) -> dict | None:
        """The summary sent with the latest earlier period of a digest (for "change since")."""
        row = self.db.execute(
            "SELECT summary FROM digests_sent WHERE digest = ? AND period < ? AND summary IS NOT NULL "
            "ORDER BY period DESC, sent_at DESC LIMIT 1", (digest, before_period)).fetchone()
        return json.loads(row[0]) if row and row[0] else None


def _dicts(cursor: sqlite3.Cursor) -> list[dict]:
    """A query's rows as dicts keyed by column name."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]
