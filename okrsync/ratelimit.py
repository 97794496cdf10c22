"""One request budget shared by every Google source of a process (default 60 a minute)."""

from __future__ import annotations

import collections
import threading
import time

_shared: dict[int, "RateLimiter"] = {}
_lock = threading.Lock()


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


def shared(per_minute: int) -> RateLimiter:
    with _lock:
        if per_minute not in _shared:
            _shared[per_minute] = RateLimiter(per_minute)
        return _shared[per_minute]
