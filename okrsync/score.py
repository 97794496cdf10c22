"""Scores and statuses (SPEC §3): pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
import math

from okrsync.domain import Kpi, KeyResult, Objective, Status

DURING = {Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK}
_WORSE = [Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK]


def clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, x))


def elapsed(start: dt.date, end: dt.date, today: dt.date) -> float:
    """Fraction of the period [start, end] that has passed by ``today``, 0..1."""
    if end <= start:
        return 1.0 if today >= end else 0.0
    return clamp((today - start).days / (end - start).days)


def _usable(*values: float | None) -> bool:
    for v in values:
        if v is None or v != v:  # None or NaN
            return False
    return True


def kr_score(kr: KeyResult) -> float | None:
    """The key result's score 0..1, or None when its numbers cannot be used."""
    if kr.type == "milestone":
        return None if kr.done is None else (1.0 if kr.done else 0.0)
    if kr.direction == "at least":
        return (1.0 if kr.current >= kr.target else 0.0) if _usable(kr.current, kr.target) else None
    if kr.direction == "at most":
        return (1.0 if kr.current <= kr.target else 0.0) if _usable(kr.current, kr.target) else None
    if not _usable(kr.start, kr.target, kr.current) or kr.target == kr.start:
        return None
    return clamp((kr.current - kr.start) / (kr.target - kr.start))


def band_status(score: float, f: float, after_end: bool, green: float, yellow: float) -> Status:
    """Status from a score: Done at 1, else bands scaled by time elapsed (or final grading)."""
    if score >= 1.0:
        return Status.DONE
    if after_end:
        return Status.ACHIEVED if score >= green else Status.PARTLY_ACHIEVED if score >= yellow else Status.MISSED
    if score >= green * f:
        return Status.ON_TRACK
    if score >= yellow * f:
        return Status.AT_RISK
    return Status.OFF_TRACK


def _cap_by_confidence(status: Status, confidence: float | None) -> Status:
    """During the cycle a low confidence can only worsen a status."""
    if confidence is None or math.isnan(confidence) or status not in DURING:
        return status
    floor = Status.ON_TRACK if confidence >= 7 else Status.AT_RISK if confidence >= 4 else Status.OFF_TRACK
    return max(status, floor, key=_WORSE.index)


def kr_status(kr: KeyResult, today: dt.date, green: float, yellow: float) -> tuple[float | None, Status]:
    if not kr.scorable or kr.cycle is None or kr.end is None:
        return None, Status.NEEDS_DATA
    score = kr_score(kr)
    if score is None:
        return None, Status.NEEDS_DATA
    after_end = today > kr.end
    if kr.type != "milestone" and kr.direction in ("at least", "at most"):
        holding = score >= 1.0
        if after_end:
            return score, Status.ACHIEVED if holding else Status.MISSED
        return score, _cap_by_confidence(Status.ON_TRACK if holding else Status.OFF_TRACK, kr.confidence)
    f = elapsed(kr.cycle.start, kr.end, today)
    status = band_status(score, f, after_end, green, yellow)
    return score, status if after_end else _cap_by_confidence(status, kr.confidence)


def objective_status(objective: Objective, today: dt.date, green: float, yellow: float) -> tuple[float | None, Status]:
    """Weight-averaged score of the scorable key results; the same banding as key results."""
    scored = [kr for kr in objective.key_results if kr.score is not None]
    total = sum(kr.weight for kr in scored)
    if not scored or total <= 0 or objective.cycle is None:
        return None, Status.NEEDS_DATA
    score = sum(kr.score * kr.weight for kr in scored) / total
    end = max(kr.end for kr in scored)
    f = elapsed(objective.cycle.start, end, today)
    return score, band_status(score, f, today > end, green, yellow)


def kpi_status(kpi: Kpi, tolerance: float) -> Status:
    """On track at the target, at risk up to the threshold (default 10 % of the target beyond it).
    A range KPI is on track inside its band, at risk up to the threshold outside it (default
    ``tolerance`` × the band's width on each side)."""
    if kpi.direction == "range":
        if not kpi.usable or not _usable(kpi.low, kpi.high, kpi.current) or kpi.low >= kpi.high:
            return Status.NEEDS_DATA
        margin = kpi.threshold if _usable(kpi.threshold) else tolerance * (kpi.high - kpi.low)
        outside = max(kpi.low - kpi.current, kpi.current - kpi.high, 0.0)
        return Status.ON_TRACK if outside == 0 else Status.AT_RISK if outside <= margin else Status.OFF_TRACK
    if not kpi.usable or not _usable(kpi.target, kpi.current) or kpi.direction not in ("higher", "lower"):
        return Status.NEEDS_DATA
    t, c = kpi.target, kpi.current
    lower_is_better = kpi.direction == "lower"
    h = kpi.threshold if _usable(kpi.threshold) else (t + tolerance * abs(t) if lower_is_better else t - tolerance * abs(t))
    if lower_is_better:
        return Status.ON_TRACK if c <= t else Status.AT_RISK if c <= h else Status.OFF_TRACK
    return Status.ON_TRACK if c >= t else Status.AT_RISK if c >= h else Status.OFF_TRACK


def improving(kpi: Kpi, previous: float | None) -> bool | None:
    """Whether the KPI's last change was for the better: up for higher-is-better, down for
    lower-is-better, toward the band's middle for a range KPI; None when it did not change."""
    if not _usable(kpi.current) or not _usable(previous) or kpi.current == previous:
        return None
    if kpi.direction == "range":
        if not _usable(kpi.low, kpi.high):
            return None
        middle = (kpi.low + kpi.high) / 2
        return abs(kpi.current - middle) < abs(previous - middle)
    return (kpi.current > previous) == (kpi.direction != "lower")


def trend(current: float | None, previous: float | None) -> str:
    """↑, ↓ or → comparing the current value with the last different recorded one."""
    if not _usable(current) or not _usable(previous) or current == previous:
        return "→"
    return "↑" if current > previous else "↓"


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
