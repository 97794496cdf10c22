"""The shared rate limiter, on a fake clock (no waiting in tests)."""

from okrsync.ratelimit import WINDOW, RateLimiter


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_at_most_n_calls_in_any_window():
    clock = Clock()
    limiter = RateLimiter(60, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(150):
        limiter.acquire()
        times.append(clock.now)
    assert times[59] == 0.0 and times[60] > WINDOW - 0.1  # a burst of 60, then wait for the window
    for i in range(60, 150):
        assert times[i] - times[i - 60] >= WINDOW  # never 61 calls within one window
    assert times[-1] < 3 * WINDOW  # and no slower than the quota allows
