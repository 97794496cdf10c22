"""The history store: runs, per-item snapshots, findings, owned columns, KPI values, digests
sent, what each source showed, leases and the shared request budget. SQLite (one process at a
time) or PostgreSQL (shared by processes on several hosts); every query is written once, in
SQLAlchemy Core."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from pathlib import Path

from sqlalchemy import and_, delete, func, insert, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError

from okrsync.errors import ConfigError
from okrsync.processes import alive
from okrsync.store import database
from okrsync.store.database import FileLock, now
from okrsync.store.leases import Leases
from okrsync.store.schema import (SCHEMA_VERSION, digests_sent, findings, item_latest, item_values, leases,
                                  owned_columns, quota_calls, quota_projects, runs, snapshots, source_runs,
                                  source_state, workers)

# Column orders of the rows the bulk writes pass as tuples.
ITEM_COLUMNS = ["source", "kind", "key", "label", "team", "owner", "score", "status", "current", "row"]
FINDING_COLUMNS = ["run_id", "source", "tab", "cell", "row", "rule", "severity", "message"]
VALUE_COLUMNS = ["source", "kind", "key", "value", "since", "previous"]

# What status shows for a source the store has never seen.
HEALTH_UNKNOWN = {"last_success": None, "last_error": None, "last_error_at": None, "errors": 0, "warnings": 0}


def this_process() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


class Store:
    """An open history store. ``location``: a SQLite file's path or a PostgreSQL URL."""

    @classmethod
    def read_only(cls, location, password_env: str | None = None) -> "Store | None":
        """The store opened for reading only (no lock, no schema changes); None if there is none
        yet, or if it is not an okrsync store (validate then works without history)."""
        if not database.is_url(location) and not Path(location).is_file():
            return None
        store = cls.__new__(cls)
        store._setup(location, password_env, read_only=True)
        try:
            with store.engine.connect() as conn:
                if not inspect(conn).has_table("item_values"):
                    store.close()
                    return None  # an empty database, or a foreign file: validate without history
                database.refuse_newer(conn, store.shown)
                older = database.version(conn) < SCHEMA_VERSION
            if older and not store.shared:
                store.engine.dispose()
                store.engine = database.upgraded_copy(location)
        except SQLAlchemyError as exc:
            store.close()
            if store.shared:  # a server that cannot be reached is not "no history yet"
                raise database.unusable(location, exc) from None
            return None
        return store

    def __init__(self, location, lock: bool = True, password_env: str | None = None, lease_seconds: float = 960.0,
                 holder: str | None = None):
        """``holder``: who this process is in runs, leases and digest claims (default "host pid N")."""
        self._setup(location, password_env, read_only=False, lease_seconds=lease_seconds)
        if holder:
            self.holder_id = self.leases.holder = holder
        try:
            if self.lock:
                Path(location).parent.mkdir(parents=True, exist_ok=True)
                if lock:
                    self.lock.take()
            database.upgrade(self.engine, self.shown)
            if lock or self.shared:
                self._mark_killed()
        except SQLAlchemyError as exc:
            self.close()
            raise database.unusable(location, exc) from None
        except OSError as exc:
            self.close()
            raise ConfigError(f"The history store {self.shown} cannot be opened: {exc.strerror}.") from None
        except BaseException:
            self.close()
            raise

    def _setup(self, location, password_env, read_only: bool, lease_seconds: float = 960.0) -> None:
        self.location, self.shown = location, database.shown(location)
        self.shared = database.is_url(location)
        self.path = None if self.shared else Path(location)
        self.lock = None if self.shared or read_only else FileLock(Path(location))
        self.engine = database.engine_for(location, password_env, read_only)
        self.holder_id = this_process()
        self.leases = Leases(self.engine, self.holder_id, lease_seconds)
        self.upsert = database.upsert_for(self.engine)

    def _mark_killed(self) -> None:
        """Runs left unfinished by a process that is gone. SQLite: this one holds the lock now,
        so every unfinished run's process is gone. PostgreSQL: this host's processes that no
        longer exist, and other hosts' that are neither workers seen lately nor holders of a
        lease, once their run is older than a lease."""
        with self.engine.begin() as conn:
            stmt = update(runs).where(runs.c.finished_at.is_(None)).values(outcome="killed", finished_at=now())
            if not self.shared:
                conn.execute(stmt)
                return
            host, moment = socket.gethostname(), time.time()
            live = set(conn.execute(select(workers.c.holder).where(workers.c.seen_at >= moment - self.leases.seconds))
                        .scalars())
            live |= set(conn.execute(select(leases.c.holder).where(leases.c.expires_at >= moment)).scalars())
            old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=self.leases.seconds)).isoformat(
                timespec="seconds")
            for run_id, holder, started in conn.execute(
                    select(runs.c.id, runs.c.holder, runs.c.started_at).where(runs.c.finished_at.is_(None))).all():
                on, _, pid = (holder or "").partition(" pid ")
                if on == host and pid.isdigit():
                    gone = not alive(int(pid))
                else:
                    gone = holder not in live and started < old
                if gone:
                    conn.execute(stmt.where(runs.c.id == run_id))

    def close(self) -> None:
        self.engine.dispose()
        if self.lock:
            self.lock.release()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def holder(self) -> str | None:
        """Who holds a SQLite store's lock right now, if anyone (a shared store has leases instead)."""
        return FileLock(self.path).holder() if self.path else None

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, command: str, today: dt.date) -> int:
        with self.engine.begin() as conn:
            return conn.execute(insert(runs).values(command=command, started_at=now(), today=today.isoformat(),
                                                    holder=self.holder_id).returning(runs.c.id)).scalar()

    def finish_run(self, run_id: int, outcome: str, duration: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(finished_at=now(), outcome=outcome,
                                                                        duration=duration))

    def record_source(self, run_id: int, result) -> None:
        """One source's outcome, its items and findings (``result``: sync.SourceResult). The
        items of a source that had not changed were recorded by the run that last read it."""
        with self.engine.begin() as conn:
            conn.execute(insert(source_runs).values(
                run_id=run_id, source=result.name, ok=int(result.ok), error=result.error, errors=result.errors,
                warnings=result.warnings, cells_written=result.written))
            if result.findings:
                database.execute_many(conn, insert(findings), FINDING_COLUMNS, [
                    (run_id, f.source, f.tab, f.cell, f.row, f.rule, f.severity.value, f.message)
                    for f in result.findings])
            if result.unchanged:
                return
            items = []
            for o in result.evaluation.objectives:
                items.append((result.name, "objective", o.key, o.text, o.team, o.owner, o.score, o.status.text, None,
                              o.first_row))
            for kr in result.evaluation.key_results:
                items.append((result.name, "key_result", kr.key, kr.text, None, kr.owner, kr.score, kr.status.text,
                              kr.current, kr.row))
            for k in result.evaluation.kpis:
                items.append((result.name, "kpi", k.key, k.name, k.team, k.owner, None, k.status.text, k.current, k.row))
            # A snapshot only where an item is new or shows something else than last time: the
            # store grows with what changes, not with every run.
            latest = {(kind, key): tuple(rest) for kind, key, *rest in conn.execute(
                select(*(item_latest.c[n] for n in ITEM_COLUMNS[1:])).where(item_latest.c.source == result.name))}
            changed = [i for i in items if latest.get((i[1], i[2])) != i[3:]]
            if changed:
                database.execute_many(conn, insert(snapshots), ["run_id", *ITEM_COLUMNS],
                                      [(run_id, *i) for i in changed])
                stmt = self.upsert(item_latest)
                database.execute_many(conn, stmt.on_conflict_do_update(
                    index_elements=["source", "kind", "key"], set_={n: stmt.excluded[n] for n in ITEM_COLUMNS[3:]}),
                    ITEM_COLUMNS, changed)

    def prune(self, today: dt.date, days: int) -> None:
        """Forget runs older than ``days`` before ``today`` with what they recorded (each item's
        latest state, KPI values and digests sent are kept)."""
        old = select(runs.c.id).where(runs.c.today < (today - dt.timedelta(days=days)).isoformat())
        with self.engine.begin() as conn:
            for table in (snapshots, findings, source_runs):
                conn.execute(delete(table).where(table.c.run_id.in_(old)))
            conn.execute(delete(runs).where(runs.c.id.in_(old)))

    def review_history(self, until: dt.date) -> dict[str, list[dict]]:
        """Runs up to ``until``, and the snapshots and findings they recorded (for a review)."""
        upto = select(runs.c.id).where(runs.c.today <= until.isoformat())
        return {"runs": self._dicts(select(runs.c.id, runs.c.today).where(runs.c.today <= until.isoformat())
                                    .order_by(runs.c.id)),
                "snapshots": self._dicts(select(snapshots).where(snapshots.c.run_id.in_(upto))
                                         .order_by(snapshots.c.run_id)),
                "findings": self._dicts(select(*(findings.c[n] for n in ("run_id", "source", "tab", "cell", "row",
                                                                          "rule", "severity")))
                                        .where(findings.c.run_id.in_(upto)))}

    def item_snapshots(self, source: str, kinds: tuple[str, ...], since: dt.date) -> list[dict]:
        """A source's items of ``kinds`` each time they showed something new since ``since``,
        oldest first, with the run's date as ``day`` (for the summary and the check-ins)."""
        query = (select(runs.c.today.label("day"), *(snapshots.c[n] for n in (
                     "kind", "key", "label", "team", "owner", "score", "status", "current")))
                 .join(runs, runs.c.id == snapshots.c.run_id)
                 .where(and_(snapshots.c.source == source, snapshots.c.kind.in_(kinds),
                             runs.c.today >= since.isoformat()))
                 .order_by(runs.c.id))
        rows = self._dicts(query)
        for row in rows:
            row["day"] = dt.date.fromisoformat(row["day"])
        return rows

    def size(self) -> int:
        """Bytes on disk: a SQLite file and its write-ahead log; PostgreSQL's database size."""
        if self.shared:
            with self.engine.connect() as conn:
                return conn.execute(select(func.pg_database_size(func.current_database()))).scalar()
        return sum(p.stat().st_size for p in (self.path, self.path.with_name(self.path.name + "-wal")) if p.exists())

    def snapshots(self, run_id: int) -> list[dict]:
        return self._dicts(select(snapshots).where(snapshots.c.run_id == run_id))

    def recent_runs(self, limit: int = 5) -> list[dict]:
        return self._dicts(select(runs.c.id, runs.c.command, runs.c.started_at, runs.c.finished_at, runs.c.today,
                                  runs.c.outcome, runs.c.duration, runs.c.holder)
                           .order_by(runs.c.id.desc()).limit(limit))

    def source_health(self) -> dict[str, dict]:
        """Per source: the last successful sync and the last error."""
        health: dict[str, dict] = {}
        query = (select(source_runs.c.source, source_runs.c.ok, source_runs.c.error, source_runs.c.errors,
                        source_runs.c.warnings, runs.c.finished_at)
                 .join(runs, runs.c.id == source_runs.c.run_id).order_by(runs.c.id))
        with self.engine.connect() as conn:
            for source, ok, error, errors, warnings, finished in conn.execute(query):
                entry = health.setdefault(source, dict(HEALTH_UNKNOWN))
                if ok:
                    entry.update(last_success=finished, errors=errors, warnings=warnings)
                else:
                    entry.update(last_error=error, last_error_at=finished)
        return health

    def findings_count(self, run_id: int) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(findings.c.severity, func.count()).where(findings.c.run_id == run_id)
                                     .group_by(findings.c.severity)).all())

    # -- what each source showed ---------------------------------------------------------------

    def source_states(self) -> dict[str, dict]:
        """Per source: the fingerprint, context and synced_on its state was kept with."""
        return {row["source"]: row for row in self._dicts(
            select(source_state.c.source, source_state.c.fingerprint, source_state.c.context, source_state.c.synced_on))}

    def kept(self, source: str, what: str) -> str:
        """A source's kept ``grids`` or ``result`` (okrsync.snapshot text)."""
        from okrsync.snapshot import Unreadable

        with self.engine.connect() as conn:
            text = conn.execute(select(source_state.c[what]).where(source_state.c.source == source)).scalar()
        if text is None:
            raise Unreadable(f"nothing is kept of {source}")
        return text

    def kept_tabs(self, source: str) -> set[str]:
        """The tabs a source showed at its last sync, as the store kept them."""
        from okrsync.snapshot import Unreadable

        try:
            return set(json.loads(self.kept(source, "grids")))
        except (Unreadable, ValueError, TypeError):
            return set()

    def keep_source_state(self, source: str, fingerprint: str, context: str, synced_on: dt.date,
                          grids: str, result: str) -> None:
        # Delete, then insert, in one transaction: SQLite reuses the old row's pages for the new
        # one (megabytes for a large sheet) instead of growing the file by a copy of it.
        with self.engine.begin() as conn:
            conn.execute(delete(source_state).where(source_state.c.source == source))
            conn.execute(insert(source_state).values(source=source, fingerprint=fingerprint, context=context,
                                                     synced_on=synced_on.isoformat(), grids=grids, result=result))

    # -- owned columns and KPI values --------------------------------------------------------

    def adopted_columns(self, source: str, tab: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(owned_columns.c.owned, owned_columns.c.header).where(
                and_(owned_columns.c.source == source, owned_columns.c.tab == tab))).all())

    def adopt_columns(self, source: str, tab: str, headers: dict[str, str]) -> None:
        if not headers:
            return
        stmt = self.upsert(owned_columns)
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["source", "tab", "owned"],
                                                    set_={"header": stmt.excluded.header}),
                         [{"source": source, "tab": tab, "owned": key, "header": header}
                          for key, header in headers.items()])

    def recorded_values(self) -> dict[tuple[str, str, str], tuple[float, dt.date]]:
        """(source, kind, key) → (current value, date since it has stood unchanged)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(item_values.c.source, item_values.c.kind, item_values.c.key,
                                       item_values.c.value, item_values.c.since))
            return {(s, k, key): (v, dt.date.fromisoformat(since)) for s, k, key, v, since in rows}

    def previous_values(self, source: str, kind: str, current: dict[str, float]) -> dict[str, float]:
        """For each item, the last recorded value that differs from its current one."""
        out = {}
        with self.engine.connect() as conn:
            for key, value, previous in conn.execute(
                    select(item_values.c.key, item_values.c.value, item_values.c.previous)
                    .where(and_(item_values.c.source == source, item_values.c.kind == kind))):
                now_value = current.get(key)
                differing = value if now_value is not None and now_value != value else previous
                if differing is not None:
                    out[key] = differing
        return out

    def record_values(self, source: str, kind: str, values: dict[str, float | None], today: dt.date) -> None:
        """Remember each value; when it changed, the date it changed on and the value before."""
        where = and_(item_values.c.source == source, item_values.c.kind == kind)
        with self.engine.begin() as conn:
            known = dict(conn.execute(select(item_values.c.key, item_values.c.value).where(where)).all())
            rows = [(source, kind, key, value, today.isoformat(), known.get(key)) for key, value in values.items()
                    if value is not None and value == value and known.get(key) != value]
            if rows:
                stmt = self.upsert(item_values)
                database.execute_many(conn, stmt.on_conflict_do_update(
                    index_elements=["source", "kind", "key"],
                    set_={n: stmt.excluded[n] for n in ("value", "since", "previous")}), VALUE_COLUMNS, rows)

    # -- digests: a transactional outbox ---------------------------------------------------------

    def _sent(self, digest: str, period: str):
        return and_(digests_sent.c.digest == digest, digests_sent.c.period == period, digests_sent.c.state == "sent")

    def digest_sent(self, digest: str, period: str, recipient: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(digests_sent.c.recipient).where(
                and_(self._sent(digest, period), digests_sent.c.recipient == recipient))).first() is not None

    def sent_count(self, digest: str, period: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(digests_sent).where(self._sent(digest, period))).scalar()

    def claim_digest(self, digest: str, period: str, recipient: str, force: bool = False) -> bool:
        """Claim the right to send one digest message for a period: True for exactly one process,
        however many decide at the same moment. The claim is the row itself (state "sending"),
        inserted in the transaction that decides; a claim whose process died is taken over
        after the lease time. ``force`` (a person sending again by hand) needs no claim: the
        record of the earlier send stays until the new one is recorded."""
        if force:
            return True
        stale = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=self.leases.seconds)
        stmt = self.upsert(digests_sent).values(digest=digest, period=period, recipient=recipient, message_id="",
                                                 sent_at=now(), state="sending", holder=self.holder_id)
        takeover = and_(digests_sent.c.state == "sending", digests_sent.c.sent_at < stale.isoformat(timespec="seconds"))
        with self.engine.begin() as conn:
            done = conn.execute(stmt.on_conflict_do_update(
                index_elements=["digest", "period", "recipient"],
                set_={"state": "sending", "holder": self.holder_id, "sent_at": stmt.excluded.sent_at},
                where=takeover).returning(digests_sent.c.recipient))
            return done.first() is not None

    def release_digest(self, digest: str, period: str, recipient: str) -> None:
        """A claimed message that could not be sent: the next run (of any process) retries it."""
        with self.engine.begin() as conn:
            conn.execute(delete(digests_sent).where(and_(
                digests_sent.c.digest == digest, digests_sent.c.period == period,
                digests_sent.c.recipient == recipient, digests_sent.c.state == "sending",
                digests_sent.c.holder == self.holder_id)))

    def record_digest(self, digest: str, period: str, recipient: str, message_id: str, summary: str = "{}") -> None:
        values = dict(message_id=message_id, sent_at=now(), summary=summary, state="sent", holder=self.holder_id)
        stmt = self.upsert(digests_sent).values(digest=digest, period=period, recipient=recipient, **values)
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["digest", "period", "recipient"], set_=values))

    def last_digest_summary(self, digest: str, before_period: str) -> dict | None:
        """The summary sent with the latest earlier period of a digest (for "change since")."""
        with self.engine.connect() as conn:
            text = conn.execute(
                select(digests_sent.c.summary).where(and_(
                    digests_sent.c.digest == digest, digests_sent.c.period < before_period,
                    digests_sent.c.state == "sent", digests_sent.c.summary.is_not(None)))
                .order_by(digests_sent.c.period.desc(), digests_sent.c.sent_at.desc()).limit(1)).scalar()
        return json.loads(text) if text else None

    # -- one Google Cloud project's request budget, shared by every process ---------------------

    def take_request_slot(self, project: str, per_minute: int, window: float) -> float:
        """Take one of ``per_minute`` requests in any ``window`` seconds for ``project``: 0.0 when
        taken, else the seconds until one is free. The project's row is locked meanwhile, so
        processes on several hosts count the same calls."""
        moment = time.time()
        with self.engine.begin() as conn:
            conn.execute(self.upsert(quota_projects).values(project=project).on_conflict_do_nothing())
            conn.execute(select(quota_projects.c.project).where(quota_projects.c.project == project).with_for_update())
            conn.execute(delete(quota_calls).where(and_(quota_calls.c.project == project,
                                                        quota_calls.c.at <= moment - window)))
            count, oldest = conn.execute(select(func.count(), func.min(quota_calls.c.at))
                                         .where(quota_calls.c.project == project)).one()
            if count < per_minute:
                conn.execute(insert(quota_calls).values(project=project, at=moment))
                return 0.0
            return max(0.01, window - (moment - oldest) + 0.01)

    def _dicts(self, query) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

