"""A real PostgreSQL server for the tests: Debian's package (installed by `make test`), a new
cluster in a temporary folder, run as an unprivileged user on a free loopback port, stopped at
the end of the session. Each test gets a database of its own."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        bindir = _bindir()
        if bindir is None:
            pytest.fail("PostgreSQL is needed: `make test` installs Debian's postgresql package")
        self.bindir, self.port = bindir, _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="okrsync-pg-"))
        self.user = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.user = next(u for u in ("postgres", "nobody") if _exists(u))
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.data = self.folder / "data"
        self._as_user("initdb", "-D", str(self.data), "-U", "okrsync", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._as_user("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "60", "-o",
                      f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                      "-c max_connections=200", "start")
        self.names = itertools.count(1)

    def _as_user(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if done.returncode:
            pytest.fail(f"{tool} failed: {done.stderr or done.stdout}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://okrsync@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self.names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=okrsync dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._as_user("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False
