"""Where the history store lives and how it is opened: a SQLite file (one process at a time, a
file lock) or a PostgreSQL database shared by processes on several hosts. Opening a store made
by an older okrsync upgrades it in place; one made by a newer okrsync is refused."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from okrsync.errors import ConfigError, StoreLocked
from okrsync.store.schema import MIGRATIONS, SCHEMA_VERSION, metadata

POSTGRESQL_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def is_url(location: str | os.PathLike) -> bool:
    """A PostgreSQL URL rather than a SQLite file's path."""
    return str(location).startswith(POSTGRESQL_SCHEMES)


def shown(location: str | os.PathLike) -> str:
    """The store's location as printed: a URL never with its password."""
    if not is_url(location):
        return str(location)
    try:
        return make_url(str(location)).render_as_string(hide_password=True)
    except ArgumentError:
        return "a PostgreSQL URL that cannot be parsed"


def postgresql_url(location: str, password_env: str | None) -> URL:
    """The URL for psycopg 3; the password comes from ``password_env`` (else libpq's own
    PGPASSWORD or ~/.pgpass), never from the configuration file. ValueError says what is wrong."""
    try:
        url = make_url(location)
    except ArgumentError:
        raise ValueError("is not a PostgreSQL URL okrsync can read (postgresql://user@host:port/database)") from None
    if url.password is not None:
        raise ValueError("must not carry a password: put it in the variable named by `state_password_env`, "
                         "or in PGPASSWORD or ~/.pgpass")
    url = url.set(drivername="postgresql+psycopg")
    if password_env:
        if password_env not in os.environ:
            raise ValueError(f"needs a password from {password_env} (`state_password_env`), which is not set")
        url = url.set(password=os.environ[password_env])
    return url


def engine_for(location: str | os.PathLike, password_env: str | None = None, read_only: bool = False) -> Engine:
    if is_url(location):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError("A PostgreSQL store needs psycopg: pip install 'okrsync[postgresql]'.") from None
        try:
            url = postgresql_url(str(location), password_env)
        except ValueError as exc:
            raise ConfigError(f"The history store {shown(location)} {exc}.") from None
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    path = Path(location).resolve()
    url = f"sqlite:///file:{path}?mode=ro&uri=true" if read_only else f"sqlite:///{path}"
    return _sqlite(create_engine(url), read_only)


def upgraded_copy(location: str | os.PathLike) -> Engine:
    """A SQLite store written by an older okrsync, copied into memory and upgraded there: what
    a reader (status, validate) sees without changing the file; the next run upgrades it."""
    import sqlite3

    engine = _sqlite(create_engine("sqlite://", poolclass=StaticPool), read_only=True)
    with engine.connect() as conn:
        source = sqlite3.connect(f"file:{Path(location).resolve()}?mode=ro", uri=True)
        try:
            source.backup(conn.connection.driver_connection)
        finally:
            source.close()
    upgrade(engine, str(location))
    return engine


def _sqlite(engine: Engine, read_only: bool) -> Engine:

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection, _record):
        # SQLAlchemy says BEGIN itself (below), so DDL is inside transactions too: a migration
        # is all or nothing. WAL: readers (status, validate) never block the run; NORMAL sync
        # is durable with WAL except for the last transactions on power loss.
        dbapi_connection.isolation_level = None
        if not read_only:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute("PRAGMA busy_timeout=10000")

    @event.listens_for(engine, "begin")
    def begin(conn):
        conn.exec_driver_sql("BEGIN")

    return engine


class FileLock:
    """One process at a time on a SQLite store: a lock file beside it saying who holds it."""

    def __init__(self, store: Path):
        self.store, self.path = store, store.with_name(store.name + ".lock")
        self.handle = None

    def take(self) -> None:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreLocked(f"Another okrsync ({holder}) is working on {self.store}; try again when it has finished.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {now()}")
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        if self.handle:
            self.handle.close()
            self.handle = None

    def holder(self) -> str | None:
        """Who holds the lock right now, if anyone."""
        if not self.path.exists():
            return None
        with open(self.path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                return handle.read().strip() or "another process"
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def upsert_for(engine: Engine):
    """The insert construct with ON CONFLICT of the store's database (the other dialect is never
    imported: a SQLite run does not pay for PostgreSQL's)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def execute_many(conn: Connection, stmt, columns: list[str], rows: list[tuple]) -> None:
    """Many rows (tuples in the order of ``columns``) of one insert or upsert through the
    driver's executemany, the statement compiled once: on tables of tens of thousands of items,
    SQLAlchemy's handling of each row's parameters costs more than the database's own work."""
    if not rows:
        return
    compiled = stmt.compile(dialect=conn.dialect, column_keys=columns)
    if not compiled.positional:
        conn.exec_driver_sql(compiled.string, [dict(zip(columns, row)) for row in rows])
    elif list(compiled.positiontup) == columns:
        conn.exec_driver_sql(compiled.string, rows)
    else:
        order = [columns.index(name) for name in compiled.positiontup]
        conn.exec_driver_sql(compiled.string, [tuple(row[i] for i in order) for row in rows])


# -- schema versions ----------------------------------------------------------------------------
# SQLite stamps the version in the file header (PRAGMA user_version), as okrsync always has;
# PostgreSQL has no such header, so a one-row table holds it.

def version(conn: Connection) -> int:
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("PRAGMA user_version").scalar()
    if not inspect(conn).has_table("okrsync_schema"):
        return 0
    return conn.execute(text("SELECT version FROM okrsync_schema")).scalar() or 0


def _stamp(conn: Connection, number: int) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA user_version = {int(number)}")
        return
    conn.execute(text("CREATE TABLE IF NOT EXISTS okrsync_schema (version INTEGER NOT NULL)"))
    conn.execute(text("DELETE FROM okrsync_schema"))
    conn.execute(text("INSERT INTO okrsync_schema (version) VALUES (:v)"), {"v": number})


def refuse_newer(conn: Connection, where: str) -> None:
    found = version(conn)
    if found > SCHEMA_VERSION:
        raise ConfigError(
            f"The history store {where} was written by a newer okrsync (schema {found}; this one "
            f"knows up to {SCHEMA_VERSION}): upgrade okrsync, or point `state` at another store.")


def upgrade(engine: Engine, where: str) -> None:
    """A new store gets the whole schema; one written by an older okrsync is upgraded in place,
    every step and the new version in one transaction (all or nothing)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two workers starting at once: one upgrades, the other waits
            conn.execute(text("SELECT pg_advisory_xact_lock(7107851)"))
        refuse_newer(conn, where)
        found = version(conn)
        if not inspect(conn).has_table("runs"):
            metadata.create_all(conn)
        elif found < SCHEMA_VERSION:
            for number, step in sorted(MIGRATIONS.items()):
                if number > max(found, 1):
                    step(conn)
        else:
            return
        _stamp(conn, SCHEMA_VERSION)


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own first line, without SQLAlchemy's wrapping and background link."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def failure(exc: BaseException) -> str | None:
    """One sentence for a store that failed in the middle of a command (a server gone, a disk
    full); None for anything else."""
    if not isinstance(exc, SQLAlchemyError):
        return None
    return f"The history store failed: {_reason(exc)}. Nothing more was recorded; the next run starts again from there."


def unusable(location, exc: SQLAlchemyError) -> ConfigError:
    return ConfigError(f"The history store {shown(location)} cannot be used: {_reason(exc)}.")
