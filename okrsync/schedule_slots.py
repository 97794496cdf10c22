"""When things happen: digest slots ("mon 08:00" in the configured timezone, the latest one
that has passed and the next one) and the worker's sync interval ("15m")."""

from __future__ import annotations

import datetime as dt
import re

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WHEN = re.compile(r"^(?P<day>[a-z]+)\s+(?P<h>\d{1,2}):(?P<m>\d{2})$")


def parse_when(text: str) -> tuple[int | None, dt.time]:
    """(weekday or None for every day, time). Raises ValueError with the accepted forms."""
    m = _WHEN.match(text.strip().lower())
    day = m["day"][:3] if m else None
    if not m or (m["day"] not in ("daily", "day") and day not in DAYS) or int(m["h"]) > 23 or int(m["m"]) > 59:
        raise ValueError(f'must look like "mon 08:00" or "daily 07:30", not "{text}"')
    weekday = None if m["day"] in ("daily", "day") else DAYS.index(day)
    return weekday, dt.time(int(m["h"]), int(m["m"]))


def latest_slot(when: str, now: dt.datetime) -> dt.datetime:
    """The most recent slot at or before ``now`` (an aware datetime in the config's timezone)."""
    weekday, at = parse_when(when)
    candidate = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if weekday is None:
        return candidate if candidate <= now else candidate - dt.timedelta(days=1)
    candidate -= dt.timedelta(days=(candidate.weekday() - weekday) % 7)
    if candidate > now:
        candidate -= dt.timedelta(days=7)
    return candidate


def period(when: str, now: dt.datetime) -> str:
    """The period a slot schedule is in at ``now``, named by the date of its latest slot."""
    return latest_slot(when, now).date().isoformat()


def next_slot(when: str, now: dt.datetime) -> dt.datetime:
    """The first slot after ``now``."""
    weekday, _ = parse_when(when)
    return latest_slot(when, now) + dt.timedelta(days=1 if weekday is None else 7)


_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def parse_interval(text: str) -> int:
    """Seconds in "30s", "15m", "1h", "1h30m". Raises ValueError with the accepted forms."""
    m = _DURATION.match(text.strip().lower())
    seconds = (int(m["h"] or 0) * 3600 + int(m["m"] or 0) * 60 + int(m["s"] or 0)) if m and text.strip() else 0
    if seconds <= 0:
        raise ValueError(f'must be a duration such as "15m", "1h" or "1h30m", not "{text}"')
    return seconds
