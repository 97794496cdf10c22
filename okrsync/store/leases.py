"""Leases: which process syncs a source, so that workers on several hosts sharing one store
split the sources and never sync one twice at a time.

A lease is a row per source with its holder and an expiry time. A holder renews it at every
pass and right before writing into the source; a process that dies stops renewing, and the
lease is free for another once it expires. Each claim is its own short transaction — an upsert
that only succeeds on a free or expired row — so claims never wait on each other for long and
never deadlock. Workers announce themselves (``workers``) so each takes a fair share:
ceil(sources ÷ workers seen lately).
"""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Engine

from okrsync.store.database import upsert_for
from okrsync.store.schema import leases, workers


@dataclass
class Claim:
    """What one pass may do: sync ``due``; ``not_due`` are leased by this process but were synced
    less than a sync interval ago (by whoever held them); ``others`` are leased elsewhere."""

    due: list[str] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)
    others: dict[str, str] = field(default_factory=dict)  # source → "<holder> until HH:MM:SS"


class Leases:
    def __init__(self, engine: Engine, holder: str, seconds: float):
        self.engine, self.holder, self.seconds = engine, holder, seconds
        self.host, self.pid = socket.gethostname(), os.getpid()
        self._upsert = upsert_for(engine)

    def heartbeat(self) -> None:
        """This process is a worker and takes its share of the sources."""
        stmt = self._upsert(workers).values(holder=self.holder, host=self.host, pid=self.pid, seen_at=time.time())
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["holder"], set_={"seen_at": stmt.excluded.seen_at}))

    def share(self, sources: int) -> int:
        """How many sources this worker takes: an even split among the workers seen lately."""
        with self.engine.connect() as conn:
            live = conn.execute(select(func.count()).select_from(workers).where(
                workers.c.seen_at >= time.time() - self.seconds)).scalar()
        return math.ceil(sources / max(1, live))

    def claim(self, sources: list[str], share: int | None = None, due_seconds: float = 0.0) -> Claim:
        """Renew this process's leases among ``sources``, give back those beyond ``share`` and
        take free ones up to it (None: every free one)."""
        moment = time.time()
        until = moment + self.seconds
        with self.engine.begin() as conn:
            conn.execute(update(leases).where(and_(leases.c.holder == self.holder, leases.c.expires_at >= moment))
                         .values(expires_at=until))
            held = set(conn.execute(select(leases.c.source).where(
                and_(leases.c.holder == self.holder, leases.c.expires_at >= moment))).scalars())
        mine = [s for s in sources if s in held]
        if share is not None and len(mine) > share:
            self.release(mine[share:])
            mine = mine[:share]
        for source in sources:
            if share is not None and len(mine) >= share:
                break
            if source not in mine and self._take(source, moment, until):
                mine.append(source)
        claim = Claim()
        with self.engine.connect() as conn:
            rows = {row.source: row for row in conn.execute(select(leases).where(leases.c.source.in_(sources)))}
        for source in sources:  # in the order of the configuration
            row = rows.get(source)
            if row is None:
                continue
            if source in mine:
                (claim.due if moment - row.synced_at >= due_seconds else claim.not_due).append(source)
            elif row.expires_at >= moment:
                claim.others[source] = f"{row.holder} until {time.strftime('%H:%M:%S', time.localtime(row.expires_at))}"
        return claim

    def _take(self, source: str, moment: float, until: float) -> bool:
        stmt = self._upsert(leases).values(source=source, holder=self.holder, host=self.host, pid=self.pid,
                                           expires_at=until, synced_at=0.0)
        with self.engine.begin() as conn:
            done = conn.execute(stmt.on_conflict_do_update(
                index_elements=["source"],
                set_={"holder": self.holder, "host": self.host, "pid": self.pid, "expires_at": until},
                where=(leases.c.expires_at < moment) | (leases.c.holder == self.holder)).returning(leases.c.source))
            return done.first() is not None

    def renew(self, source: str) -> bool:
        """Right before writing into a source: still this process's? (False: it expired and
        another process may have it now; the write is skipped.)"""
        moment = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(update(leases).where(and_(
                leases.c.source == source, leases.c.holder == self.holder, leases.c.expires_at >= moment))
                .values(expires_at=moment + self.seconds))
            return done.rowcount == 1

    def synced(self, source: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(leases).where(and_(leases.c.source == source, leases.c.holder == self.holder))
                         .values(synced_at=time.time()))

    def release(self, sources: list[str] | None = None) -> None:
        """Give leases back at once (all of this process's when ``sources`` is None); when they
        were last synced is kept, so the next holder waits for the interval."""
        where = leases.c.holder == self.holder
        if sources is not None:
            where = and_(where, leases.c.source.in_(sources))
        with self.engine.begin() as conn:
            conn.execute(update(leases).where(where).values(expires_at=0.0))

    def leave(self) -> None:
        """A worker stopping: its sources are free at once, and it no longer counts."""
        self.release()
        with self.engine.begin() as conn:
            conn.execute(delete(workers).where(workers.c.holder == self.holder))

    def holders(self) -> dict[str, dict]:
        """Per source: who holds its lease and until when (Unix time), while it is valid."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(leases).where(leases.c.expires_at >= time.time())).all()
        return {r.source: {"host": r.host, "pid": r.pid, "expires_at": r.expires_at} for r in rows}
