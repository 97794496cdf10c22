"""``okrsync store migrate``: a SQLite history copied into a PostgreSQL store, idempotently —
a second copy moves nothing, and an interrupted one finishes where it stopped."""

from __future__ import annotations

from sqlalchemy import select, text

from okrsync.errors import ConfigError
from okrsync.store.history import Store
from okrsync.store.schema import (digests_sent, findings, item_latest, item_values, owned_columns, runs, snapshots,
                                  source_runs, source_state)

# Tables whose rows have a key: a row the target already has is left as it is.
KEYED = (owned_columns, item_values, digests_sent, item_latest, source_state)
# Tables of rows recorded by a run: copied with their run, all or nothing.
BY_RUN = (source_runs, snapshots, findings)
BATCH = 5000


def copy_history(source: Store, target: Store) -> dict[str, int]:
    """Rows copied per table (leases, workers and request counts are live state, not history)."""
    moved = {table.name: 0 for table in (runs, *BY_RUN, *KEYED)}
    with source.engine.connect() as src:
        theirs = {row.id: (row.started_at, row.command) for row in src.execute(select(runs.c.id, runs.c.started_at,
                                                                                          runs.c.command))}
        with target.engine.connect() as dst:
            ours = {row.id: (row.started_at, row.command) for row in dst.execute(select(runs.c.id, runs.c.started_at,
                                                                                        runs.c.command))}
        clash = sorted(i for i in theirs.keys() & ours.keys() if theirs[i] != ours[i])
        if clash:
            raise ConfigError(f"{target.shown} already holds other runs (run #{clash[0]} differs): migrate into an "
                              "empty database, before any worker uses it.")
        for run_id in sorted(theirs.keys() - ours.keys()):
            with target.engine.begin() as dst:  # a run and what it recorded: all or nothing
                row = src.execute(select(runs).where(runs.c.id == run_id)).one()
                dst.execute(runs.insert(), [dict(row._mapping)])
                moved["runs"] += 1
                for table in BY_RUN:
                    rows = [dict(r._mapping) for r in src.execute(select(table).where(table.c.run_id == run_id))]
                    if rows:
                        dst.execute(table.insert(), rows)
                        moved[table.name] += len(rows)
        for table in KEYED:
            key = [c.name for c in table.primary_key]
            result = src.execute(select(table))
            while batch := [dict(r._mapping) for r in result.fetchmany(BATCH)]:
                with target.engine.begin() as dst:
                    stmt = target.upsert(table).on_conflict_do_nothing(index_elements=key)
                    moved[table.name] += len(dst.execute(stmt.returning(*table.primary_key.columns), batch).all())
    if moved["runs"] and target.shared:  # new runs get numbers after the copied ones
        with target.engine.begin() as dst:
            dst.execute(text("SELECT setval(pg_get_serial_sequence('runs', 'id'), (SELECT MAX(id) FROM runs))"))
    return moved
