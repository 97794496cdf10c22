"""One request budget per Google Cloud project (default 60 a minute), shared by every Google
source whose credentials belong to it: within a process, and — with a shared (PostgreSQL)
history store — by every process on every host, counted in the store."""

from __future__ import annotations

import collections
import contextlib
import threading
import time

_shared: dict[tuple[str, int], "RateLimiter"] = {}
_lock = threading.Lock()
_ledger = None  # the shared store the budgets are counted in, while a run uses one


WINDOW = 61.0  # the API's 60-second window, plus a second for calls that arrive later than they left


class RateLimiter:
    """At most ``per_minute`` calls in any window of WINDOW seconds; ``acquire`` waits for a slot."""

    def __init__(self, per_minute: int, clock=time.monotonic, sleep=time.sleep):
        self.per_minute, self.clock, self.sleep = per_minute, clock, sleep
        self.calls: collections.deque = collections.deque()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Take a slot; returns the seconds waited."""
        waited = 0.0
        while True:
            with self.lock:
                now = self.clock()
                while self.calls and now - self.calls[0] >= WINDOW:
                    self.calls.popleft()
                if len(self.calls) < self.per_minute:
                    self.calls.append(now)
                    return waited
                pause = WINDOW - (now - self.calls[0]) + 0.01
            self.sleep(pause)
            waited += pause


class SharedBudget:
    """A project's budget counted in the shared store, so every process spends the same one."""

    def __init__(self, ledger, project: str, per_minute: int, sleep=time.sleep):
        self.ledger, self.project, self.per_minute, self.sleep = ledger, project, per_minute, sleep

    def acquire(self) -> float:
        waited = 0.0
        while True:
            pause = self.ledger.take_request_slot(self.project, self.per_minute, WINDOW)
            if not pause:
                return waited
            pause = min(pause, 5.0)  # look again soon: another process may not use all its slots
            self.sleep(pause)
            waited += pause


class ProjectBudget:
    """What a Google source asks for a slot: the project's budget in the shared store while a run
    uses one, else the process's own."""

    def __init__(self, project: str, per_minute: int):
        self.project, self.per_minute = project, per_minute

    def acquire(self) -> float:
        if _ledger is not None:
            return SharedBudget(_ledger, self.project, self.per_minute).acquire()
        with _lock:
            limiter = _shared.setdefault((self.project, self.per_minute), RateLimiter(self.per_minute))
        return limiter.acquire()


def shared(project: str, per_minute: int) -> ProjectBudget:
    return ProjectBudget(project, per_minute)


@contextlib.contextmanager
def counted_in(ledger):
    """While a run uses a shared store (``ledger``), budgets are counted there (None: in-process)."""
    global _ledger
    previous, _ledger = _ledger, ledger
    try:
        yield
    finally:
        _ledger = previous
