"""The history store's tables, written once for SQLite and PostgreSQL (SQLAlchemy Core), and the
migrations from each schema version to the next."""

from __future__ import annotations

from sqlalchemy import (Column, Float, ForeignKey, Index, Integer, MetaData, PrimaryKeyConstraint, Table, Text,
                        text)

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("command", Text, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("today", Text, nullable=False),
    Column("outcome", Text),
    Column("duration", Float),
    Column("holder", Text),  # "host pid" of the process that made the run
    sqlite_autoincrement=True,
)
source_runs = Table(
    "source_runs", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("source", Text, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("error", Text),
    Column("errors", Integer, nullable=False, server_default="0"),
    Column("warnings", Integer, nullable=False, server_default="0"),
    Column("cells_written", Integer, nullable=False, server_default="0"),
    Index("source_runs_run", "run_id"),
)
snapshots = Table(  # an item each time it shows something else than before
    "snapshots", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("source", Text, nullable=False),
    Column("kind", Text, nullable=False),  # objective | key_result | kpi
    Column("key", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("team", Text),
    Column("owner", Text),
    Column("score", Float),
    Column("status", Text, nullable=False),
    Column("current", Float),
    Column("row", Integer),
    Index("snapshots_run", "run_id"),
)
findings = Table(
    "findings", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("source", Text, nullable=False),
    Column("tab", Text), Column("cell", Text), Column("row", Integer),
    Column("rule", Text, nullable=False), Column("severity", Text, nullable=False), Column("message", Text, nullable=False),
    Index("findings_run", "run_id"),
)
owned_columns = Table(
    "owned_columns", metadata,
    Column("source", Text, nullable=False), Column("tab", Text, nullable=False),
    Column("owned", Text, nullable=False), Column("header", Text, nullable=False),
    PrimaryKeyConstraint("source", "tab", "owned"),
)
item_values = Table(
    "item_values", metadata,
    Column("source", Text, nullable=False), Column("kind", Text, nullable=False), Column("key", Text, nullable=False),
    Column("value", Float, nullable=False),  # the latest value recorded
    Column("since", Text, nullable=False),  # the run date it first appeared (staleness)
    Column("previous", Float),  # the value before it (trends)
    PrimaryKeyConstraint("source", "kind", "key"),
)
digests_sent = Table(  # the outbox: a row is claimed ("sending") in the transaction that decides to send
    "digests_sent", metadata,
    Column("digest", Text, nullable=False), Column("period", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("sent_at", Text, nullable=False),  # when sent; while "sending", when claimed
    Column("summary", Text),  # JSON: what the next period's digest reports changes against
    Column("state", Text, nullable=False, server_default="sent"),  # sending | sent
    Column("holder", Text),  # "host pid" of the process that claimed it
    PrimaryKeyConstraint("digest", "period", "recipient"),
)
item_latest = Table(  # each item as last recorded: snapshots keep only changes
    "item_latest", metadata,
    Column("source", Text, nullable=False), Column("kind", Text, nullable=False), Column("key", Text, nullable=False),
    Column("label", Text, nullable=False), Column("team", Text), Column("owner", Text), Column("score", Float),
    Column("status", Text, nullable=False), Column("current", Float), Column("row", Integer),
    PrimaryKeyConstraint("source", "kind", "key"),
)
source_state = Table(  # what a source showed after its last sync, to skip reading it
    "source_state", metadata,
    Column("source", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),  # the file's hash, or Drive's version, right after that sync
    Column("context", Text, nullable=False),  # hash of the rules, the configuration and okrsync's version
    Column("synced_on", Text, nullable=False),  # the run date its items were scored for
    Column("grids", Text, nullable=False),  # okrsync.snapshot: the tabs as the sheet shows them
    Column("result", Text, nullable=False),  # okrsync.snapshot: findings and scored items
)
leases = Table(  # which process syncs a source; lost when not renewed before expires_at
    "leases", metadata,
    Column("source", Text, primary_key=True),
    Column("holder", Text, nullable=False),  # the process's id (host, pid and a random part)
    Column("host", Text, nullable=False), Column("pid", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),  # Unix time
    Column("synced_at", Float, nullable=False, server_default="0"),  # when last synced, by any holder
)
workers = Table(  # processes that take leases, seen recently: the sources are shared among them
    "workers", metadata,
    Column("holder", Text, primary_key=True),
    Column("host", Text, nullable=False), Column("pid", Integer, nullable=False),
    Column("seen_at", Float, nullable=False),
)
quota_projects = Table(  # one row per Google Cloud project, locked while a request slot is taken
    "quota_projects", metadata,
    Column("project", Text, primary_key=True),
)
quota_calls = Table(  # Sheets API requests made lately, per project, by every process
    "quota_calls", metadata,
    Column("project", Text, nullable=False), Column("at", Float, nullable=False),
    Index("quota_calls_project_at", "project", "at"),
)

# Version 1 is the schema okrsync 0.1.0 wrote (its SQLite stores carry user_version 0).
V1_TABLES = (runs, source_runs, snapshots, findings, owned_columns, item_values, digests_sent)


def _v2(conn) -> None:
    for table in (item_latest, source_state):
        table.create(conn, checkfirst=True)


def _v3(conn) -> None:
    conn.execute(text("ALTER TABLE runs ADD COLUMN holder TEXT"))
    conn.execute(text("ALTER TABLE digests_sent ADD COLUMN state TEXT NOT NULL DEFAULT 'sent'"))
    conn.execute(text("ALTER TABLE digests_sent ADD COLUMN holder TEXT"))
    for table in (leases, workers, quota_projects, quota_calls):
        table.create(conn, checkfirst=True)
    for table in (source_runs, snapshots, findings):
        for index in table.indexes:
            index.create(conn, checkfirst=True)


# Each step from one version to the next, applied in order inside one transaction.
MIGRATIONS = {2: _v2, 3: _v3}
SCHEMA_VERSION = max(MIGRATIONS)
