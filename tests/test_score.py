"""Scores and statuses of SPEC §3, each expected value computed by hand."""

import datetime as dt

import pytest

from okrsync.domain import Cycle, Kpi, KeyResult, Objective, Status
from okrsync.score import elapsed, improving, kpi_status, kr_score, kr_status, objective_status, trend

Q4 = Cycle("2026-Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31))  # 91 days from start to end
G, Y = 0.7, 0.4
MID = dt.date(2026, 11, 15)  # f = 45 / 91 = 0.4945
BEFORE = dt.date(2026, 9, 1)
AFTER = dt.date(2027, 1, 10)


def kr(**kw) -> KeyResult:
    base = dict(row=2, objective_key="o", text="kr", owner="Ada", type="number", direction="increase",
                start=0.0, target=100.0, current=50.0, done=None, weight=1.0, confidence=None, cycle=Q4, due=None)
    base.update(kw)
    return KeyResult(**base)


def test_elapsed_fraction_clamps_to_the_cycle():
    assert elapsed(Q4.start, Q4.end, MID) == pytest.approx(45 / 91)
    assert elapsed(Q4.start, Q4.end, BEFORE) == 0.0
    assert elapsed(Q4.start, Q4.end, AFTER) == 1.0


@pytest.mark.parametrize("kw, expected", [
    (dict(direction="increase", start=10, target=30, current=20), 0.5),        # (20-10)/(30-10)
    (dict(direction="increase", start=10, target=30, current=40), 1.0),        # clamped at 1
    (dict(direction="increase", start=10, target=30, current=5), 0.0),         # clamped at 0
    (dict(direction="decrease", start=6, target=2, current=3.5), 0.625),       # (3.5-6)/(2-6)
    (dict(direction="decrease", start=6, target=2, current=1), 1.0),
    (dict(direction="at least", target=95, current=96, start=None), 1.0),
    (dict(direction="at least", target=95, current=94, start=None), 0.0),
    (dict(direction="at most", target=2, current=2, start=None), 1.0),
    (dict(direction="at most", target=2, current=2.1, start=None), 0.0),
    (dict(type="milestone", done=True, start=None, target=None, current=None), 1.0),
    (dict(type="milestone", done=False, start=None, target=None, current=None), 0.0),
    (dict(type="milestone", done=None, start=None, target=None, current=None), None),
    (dict(start=5, target=5, current=5), None),                                 # target = start
    (dict(current=None), None),
])
def test_key_result_score(kw, expected):
    assert kr_score(kr(**kw)) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("current, today, expected", [
    # during: f = 45/91 = 0.4945; green·f = 0.346, yellow·f = 0.198
    (35, MID, Status.ON_TRACK),
    (34, MID, Status.AT_RISK),
    (20, MID, Status.AT_RISK),
    (19, MID, Status.OFF_TRACK),
    (100, MID, Status.DONE),
    # before the cycle f = 0: anything not done is on track
    (0, BEFORE, Status.ON_TRACK),
    # after the end: final grading against the bands themselves
    (70, AFTER, Status.ACHIEVED),
    (69, AFTER, Status.PARTLY_ACHIEVED),
    (40, AFTER, Status.PARTLY_ACHIEVED),
    (39, AFTER, Status.MISSED),
    (100, AFTER, Status.DONE),
])
def test_status_bands_scale_with_time(current, today, expected):
    assert kr_status(kr(current=current), today, G, Y)[1] is expected


def test_the_last_day_of_the_cycle_is_still_during():
    assert kr_status(kr(current=69), Q4.end, G, Y)[1] is Status.AT_RISK  # f = 1: green 0.7 not reached


def test_due_date_replaces_the_cycle_end():
    due = dt.date(2026, 10, 31)  # 30 days from start
    # on 2026-10-16: f = 15/30 = 0.5; score 0.36 ≥ 0.35 → On track
    assert kr_status(kr(current=36, due=due), dt.date(2026, 10, 16), G, Y)[1] is Status.ON_TRACK
    assert kr_status(kr(current=34, due=due), dt.date(2026, 10, 16), G, Y)[1] is Status.AT_RISK
    # after the due date the key result is graded even though the cycle goes on
    assert kr_status(kr(current=50, due=due), MID, G, Y)[1] is Status.PARTLY_ACHIEVED


@pytest.mark.parametrize("direction, current, today, expected", [
    ("at least", 96, MID, Status.ON_TRACK),
    ("at least", 94, MID, Status.OFF_TRACK),
    ("at least", 96, AFTER, Status.ACHIEVED),
    ("at least", 94, AFTER, Status.MISSED),
    ("at most", 90, MID, Status.ON_TRACK),
    ("at most", 96, AFTER, Status.MISSED),
])
def test_bounds_are_on_track_or_off_track_never_done(direction, current, today, expected):
    assert kr_status(kr(direction=direction, target=95, current=current, start=None), today, G, Y)[1] is expected


@pytest.mark.parametrize("confidence, expected", [
    (None, Status.ON_TRACK), (9, Status.ON_TRACK), (7, Status.ON_TRACK),
    (6, Status.AT_RISK), (4, Status.AT_RISK), (3, Status.OFF_TRACK), (0, Status.OFF_TRACK),
])
def test_confidence_can_only_worsen_during_the_cycle(confidence, expected):
    assert kr_status(kr(current=60, confidence=confidence), MID, G, Y)[1] is expected


def test_confidence_does_not_improve_and_does_not_touch_done_or_grading():
    assert kr_status(kr(current=10, confidence=10), MID, G, Y)[1] is Status.OFF_TRACK
    assert kr_status(kr(current=100, confidence=1), MID, G, Y)[1] is Status.DONE
    assert kr_status(kr(current=80, confidence=1), AFTER, G, Y)[1] is Status.ACHIEVED


def test_unscorable_key_result_needs_data():
    assert kr_status(kr(scorable=False), MID, G, Y) == (None, Status.NEEDS_DATA)
    assert kr_status(kr(current=None), MID, G, Y) == (None, Status.NEEDS_DATA)


def test_custom_bands_change_the_outcome():
    assert kr_status(kr(current=69), AFTER, 0.6, 0.3)[1] is Status.ACHIEVED
    assert kr_status(kr(current=69), AFTER, 0.8, 0.3)[1] is Status.PARTLY_ACHIEVED


def _objective(*krs: KeyResult) -> Objective:
    o = Objective("o", "O", "team", "Ada", Q4, 2)
    for k in krs:
        k.score, k.status = kr_status(k, MID, G, Y)
        o.key_results.append(k)
    return o


def test_objective_score_is_the_weighted_mean_of_scorable_key_results():
    o = _objective(kr(current=50, weight=1), kr(current=20, weight=3), kr(current=None))
    score, status = objective_status(o, MID, G, Y)
    assert score == pytest.approx((0.5 * 1 + 0.2 * 3) / 4)  # 0.275; the unscorable one is left out
    assert status is Status.AT_RISK  # 0.198 ≤ 0.275 < 0.346


def test_objective_without_scorable_key_results_needs_data():
    assert objective_status(_objective(kr(current=None)), MID, G, Y) == (None, Status.NEEDS_DATA)


def test_objective_after_the_cycle_is_graded():
    o = _objective(kr(current=80), kr(current=70))
    o.key_results[0].score, o.key_results[1].score = 0.8, 0.7
    assert objective_status(o, AFTER, G, Y) == (pytest.approx(0.75), Status.ACHIEVED)


def kpi(**kw) -> Kpi:
    base = dict(row=2, key="k", name="k", team="t", owner="o", direction="higher", target=100.0, threshold=None, current=None)
    base.update(kw)
    return Kpi(**base)


@pytest.mark.parametrize("kw, expected", [
    (dict(current=100), Status.ON_TRACK),
    (dict(current=90), Status.AT_RISK),      # default threshold 100 - 10 % = 90
    (dict(current=89.9), Status.OFF_TRACK),
    (dict(current=85, threshold=80), Status.AT_RISK),
    (dict(current=79, threshold=80), Status.OFF_TRACK),
    (dict(direction="lower", target=2, current=2), Status.ON_TRACK),
    (dict(direction="lower", target=2, current=2.2), Status.AT_RISK),   # threshold 2 + 0.2
    (dict(direction="lower", target=2, current=2.3), Status.OFF_TRACK),
    (dict(direction="lower", target=2, threshold=3, current=3), Status.AT_RISK),
    (dict(direction="higher", target=-10, current=-10.5), Status.AT_RISK),  # threshold -10 - 1 = -11
    (dict(current=None), Status.NEEDS_DATA),
    (dict(current=100, usable=False), Status.NEEDS_DATA),
])
def test_kpi_status(kw, expected):
    assert kpi_status(kpi(**kw), 0.10) is expected


def test_kpi_tolerance_comes_from_the_rules():
    assert kpi_status(kpi(current=85), 0.2) is Status.AT_RISK
    assert kpi_status(kpi(current=85), 0.1) is Status.OFF_TRACK


def test_trend():
    assert trend(5, 3) == "↑" and trend(3, 5) == "↓" and trend(3, 3) == "→" and trend(3, None) == "→"


def band_kpi(current, low=40.0, high=60.0, threshold=None):
    return Kpi(row=2, key="k", name="Occupancy", team="Ops", owner="Ada", direction="range", target=None,
               threshold=threshold, current=current, low=low, high=high)


@pytest.mark.parametrize("current, threshold, expected", [
    (40.0, None, Status.ON_TRACK), (60.0, None, Status.ON_TRACK), (52.0, None, Status.ON_TRACK),
    (38.0, None, Status.AT_RISK),  # 2 below the band; default margin 10 % of its width (20) = 2
    (62.0, None, Status.AT_RISK), (37.9, None, Status.OFF_TRACK), (62.1, None, Status.OFF_TRACK),
    (35.0, 5.0, Status.AT_RISK), (34.0, 5.0, Status.OFF_TRACK),  # a threshold is the distance allowed outside
])
def test_a_range_kpi_is_on_track_inside_its_band(current, threshold, expected):
    assert kpi_status(band_kpi(current, threshold=threshold), 0.10) is expected


def test_a_range_kpi_without_a_usable_band_needs_data():
    assert kpi_status(band_kpi(50.0, low=None), 0.10) is Status.NEEDS_DATA
    assert kpi_status(band_kpi(50.0, low=60.0, high=40.0), 0.10) is Status.NEEDS_DATA


@pytest.mark.parametrize("direction, previous, current, expected", [
    ("range", 70.0, 58.0, True), ("range", 52.0, 58.0, False), ("range", 30.0, 71.0, False),  # toward the middle, 50
    ("higher", 5.0, 6.0, True), ("higher", 6.0, 5.0, False), ("lower", 6.0, 5.0, True), ("range", 58.0, 58.0, None),
])
def test_a_kpi_improves_when_it_moves_the_right_way(direction, previous, current, expected):
    kpi = band_kpi(current)
    kpi.direction = direction
    assert improving(kpi, previous) is expected
