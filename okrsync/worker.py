"""``okrsync worker``: a sync every ``[worker] sync_every`` and each digest at its ``when``,
scheduled with the ``schedule`` library, until SIGTERM or SIGINT.

A job that fails is logged and the loop goes on (``schedule`` itself does not catch). A stop
signal only sets a flag: the step in progress — a workbook write above all — finishes first.
With a shared (PostgreSQL) store, several workers split the sources by leases (okrsync.store.leases)
and a stopping worker gives its leases back.
"""

from __future__ import annotations

import logging
import signal
import threading

import schedule

from okrsync import logs, sync
from okrsync.config import Config
from okrsync.schedule_slots import DAYS, parse_interval, parse_when

log = logging.getLogger("okrsync")
SETTLE_SECONDS = 2.0
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Worker:
    def __init__(self, config: Config, store, today: str | None = None):
        self.config, self.store, self.today = config, store, today
        self.stop = threading.Event()
        self.scheduler = schedule.Scheduler()
        self.runs = 0

    def sync(self, reason: str = "sync") -> None:
        """One run (which also sends the digests that are due); failures are logged, never raised."""
        try:
            result = sync.run(self.config, self.config.today(self.today), store=self.store,
                              command=f"worker {reason}", worker=True)
        except Exception as exc:  # a failing job must not end the worker
            log.error("%s failed: %s", reason, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            return
        self.runs += 1
        written = sum(s.written for s in result.sources)
        with logs.context(run_id=result.run_id):
            log.info("%s: run %s, %d source(s) synced, %d failed, %d cell(s) written, %d digest(s) sent",
                     reason, result.run_id, len(result.sources) - len(result.failed), len(result.failed), written,
                     len(result.digests))

    def schedule_jobs(self) -> None:
        every = parse_interval(self.config.sync_every)
        self.scheduler.every(every).seconds.do(self.sync, "sync")
        zone = self.config.timezone.key
        for digest in self.config.digests:
            weekday, at = parse_when(digest.when)
            job = self.scheduler.every()
            job = getattr(job, WEEKDAYS[weekday]) if weekday is not None else job.day
            job.at(at.strftime("%H:%M"), zone).do(self.sync, f"digest {digest.name}")
            log.info("digest %s scheduled %s %s (%s)", digest.name,
                     DAYS[weekday] if weekday is not None else "daily", at.strftime("%H:%M"), zone)

    def serve(self) -> int:
        """Run until stopped; returns the exit code (0 on a clean stop)."""
        self.schedule_jobs()
        if self.store.shared:  # workers started together see each other before they take their shares
            self.store.leases.heartbeat()
            self.stop.wait(SETTLE_SECONDS)
        # At start: sync now, which also sends a digest whose slot passed while the worker was
        # down, as long as its period is still the current one (it is never sent twice).
        self.sync("start")
        while not self.stop.is_set():
            self.scheduler.run_pending()
            idle = self.scheduler.idle_seconds
            self.stop.wait(timeout=max(0.05, min(idle if idle is not None else 1.0, 1.0)))
        if self.store.shared:  # its sources are free for the other workers at once
            self.store.leases.leave()
        log.info("worker stopped after %d run(s)", self.runs)
        return 0

    def handle_signals(self) -> None:
        def request_stop(signum, frame):
            log.info("%s received: stopping after the step in progress", signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
