"""The tabs okrsync owns whole in every spreadsheet, built as values (pure functions):

- the summary: cycle, date and time elapsed; per team and objective the score against the score
  expected for the time elapsed, the status, the change since last week and the key results by
  status; KPIs by status; data hygiene; each team's average score per week — and two native
  charts drawn from those cells;
- the check-ins: one row per key result and KPI each week its value, score, status or
  confidence changed, appended; this week's row is updated by a later run the same week.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from okrsync.config import SourceConfig
from okrsync.domain import Evaluation, Finding, Severity, Status
from okrsync.score import elapsed, mean
from okrsync.sources.interface import Chart, Grid, OwnedTab, Series

SUMMARY_MARKER = "Summary · written by okrsync"
CHECKINS_MARKER = "Check-ins · written by okrsync"
GROUPS = {  # the status columns of the summary: what each counts
    "On track": (Status.ON_TRACK,),
    "At risk": (Status.AT_RISK, Status.PARTLY_ACHIEVED),
    "Off track": (Status.OFF_TRACK, Status.MISSED),
    "Done": (Status.DONE, Status.ACHIEVED),
    "Needs data": (Status.NEEDS_DATA,),
}
OBJECTIVES_HEADER = ["Team", "Objective", "Score", "Expected", "Status", "Change since last week", *GROUPS]
CHECKINS_HEADER = ["Week", "Date", "Team", "Objective", "Item", "Owner", "Value", "Score", "Status", "Confidence"]


def plan_tabs(cfg: SourceConfig, grids: dict[str, Grid], evaluation: Evaluation, findings: list[Finding],
              today: dt.date, history: list[dict]) -> tuple[list[OwnedTab], list[Finding]]:
    """The source's owned tabs that differ from what the sheet shows (``grids``), and a warning
    for each tab of that name that okrsync did not make (it is left alone). ``history``: the
    items' snapshots in the history store since the cycle began, oldest first."""
    wanted = []
    if cfg.summary_tab:
        weekly, last_week = weekly_scores([h for h in history if h["kind"] == "objective"], evaluation, today)
        wanted.append(summary_tab(cfg.summary_tab, evaluation, findings, today, weekly, last_week))
    if cfg.checkins_tab:
        wanted.append(checkins_tab(cfg.checkins_tab, evaluation, today, grids.get(cfg.checkins_tab),
                                   [h for h in history if h["kind"] != "objective"]))
    tabs, warnings = [], []
    for tab in wanted:
        shown = grids.get(tab.title)
        if shown is not None and not OwnedTab.owned(shown, tab.marker):
            key = "summary_tab" if tab.marker == SUMMARY_MARKER else "checkins_tab"
            warnings.append(Finding(
                "owned-tab", Severity.WARNING, f"A tab named {tab.title} exists and okrsync did not make it: it is left "
                f"alone (set `{key}` to another name, or \"\" to turn it off)", cfg.name, tab.title))
        elif not tab.shows(shown):
            tabs.append(tab)
    return tabs, warnings


def weekly_scores(points: list[dict], evaluation: Evaluation, today: dt.date) -> tuple[dict, dict]:
    """Each team's average objective score at the end of each past week of the cycle, and each
    objective's score a week ago, from the objectives' snapshots."""
    cycle = next((o.cycle for o in evaluation.objectives if o.cycle), None)
    if cycle is None:
        return {}, {}
    ends, end = [], cycle.start + dt.timedelta(days=6 - cycle.start.weekday())
    while end < today - dt.timedelta(days=today.weekday()):  # weeks that ended before this one
        ends.append(end)
        end += dt.timedelta(days=7)
    weekly: dict[str, list] = {}
    for end in ends:
        latest = {p["key"]: (p["team"], p["score"]) for p in points if p["day"] <= end}
        teams: dict[str, list[float]] = {}
        for team, score in latest.values():
            if score is not None:
                teams.setdefault(team or "", []).append(score)
        for team, scores in teams.items():
            weekly.setdefault(team, []).append((end, sum(scores) / len(scores)))
    week_ago = today - dt.timedelta(days=7)
    last_week = {p["key"]: p["score"] for p in points if p["day"] <= week_ago and p["score"] is not None}
    return weekly, last_week


def week_of(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02}"


def summary_tab(title: str, evaluation: Evaluation, findings: list[Finding], today: dt.date,
                weekly: dict[str, list[tuple[dt.date, float]]], last_week: dict[str, float]) -> OwnedTab:
    """``weekly``: team → (week's end, average objective score) from the history store, oldest
    first; ``last_week``: objective key → its score a week ago."""
    objectives = evaluation.objectives
    cycle = next((o.cycle for o in objectives if o.cycle), None)
    share = round(elapsed(cycle.start, cycle.end, today), 3) if cycle else None
    rows: list[list] = [
        [f"{SUMMARY_MARKER} — edits here are replaced at the next sync"],
        ["Cycle", cycle.label if cycle else "", "Date", today.isoformat(), "Time elapsed", share],
        [],
        list(OBJECTIVES_HEADER),
    ]
    fills: dict[tuple[int, int], str] = {}
    for o in objectives:
        expected = round(elapsed(o.cycle.start, o.cycle.end, today), 3) if o.cycle else None
        before = last_week.get(o.key)
        change = round(o.score - before, 3) if o.score is not None and before is not None else None
        counts = [sum(1 for kr in o.key_results if kr.status in statuses) for statuses in GROUPS.values()]
        rows.append([o.team, o.text, None if o.score is None else round(o.score, 3), expected, o.status.text, change,
                     *counts])
        fills[(len(rows), 5)] = o.status.colour
    last_objective = len(rows)
    rows.append([])
    rows.append(["KPIs", *GROUPS])
    rows.append(["All", *(sum(1 for k in evaluation.kpis if k.status in statuses) for statuses in GROUPS.values())])
    rows.append([])
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    rows.append(["Data hygiene", "Errors", "Warnings", "Key results needing data"])
    rows.append(["All", errors, warnings, sum(1 for kr in evaluation.key_results if kr.status is Status.NEEDS_DATA)])
    rows.append([])
    teams = sorted({o.team for o in objectives if o.team})
    weeks = _weekly_table(teams, weekly, objectives, today)
    week_header = len(rows) + 1
    rows.append(["Week ending", *teams])
    rows.extend(weeks)
    charts = []
    if last_objective > 4:
        charts.append(Chart("bar", "Objectives: score against the score expected by now", (2, 5, last_objective),
                            [Series(4, 3, 5, last_objective), Series(4, 4, 5, last_objective)],
                            anchor=(len(OBJECTIVES_HEADER) + 2, 4), size=(9, 18), percent=True))
    if teams and weeks:
        charts.append(Chart("line", "Average score per team, week by week", (1, week_header + 1, week_header + len(weeks)),
                            [Series(week_header, 2 + i, week_header + 1, week_header + len(weeks))
                             for i in range(len(teams))],
                            anchor=(len(OBJECTIVES_HEADER) + 2, 24), size=(9, 18), percent=True))
    widths = {1: 14.0, 2: 40.0, **{c: 12.0 for c in range(3, len(OBJECTIVES_HEADER) + 1)}, 6: 22.0}
    return OwnedTab(title, SUMMARY_MARKER, rows, fills, charts, widths)


def _weekly_table(teams: list[str], weekly: dict[str, list[tuple[dt.date, float]]], objectives, today) -> list[list]:
    """A row per week's end: each team's average score (blank where a team had none)."""
    by_week: dict[dt.date, dict[str, float]] = defaultdict(dict)
    for team, points in weekly.items():
        for day, score in points:
            by_week[day][team] = score
    now = [o for o in objectives if o.score is not None]
    end = today + dt.timedelta(days=6 - today.weekday())  # this week's Sunday: the scores as they are now
    for team in teams:
        scores = [o.score for o in now if o.team == team]
        if scores:
            by_week[end][team] = mean(scores)
    return [[day.isoformat(), *(round(by_week[day][t], 3) if t in by_week[day] else None for t in teams)]
            for day in sorted(by_week)]


def checkins_tab(title: str, evaluation: Evaluation, today: dt.date, shown: Grid | None,
                 history: list[dict] = ()) -> OwnedTab:
    """The rows the tab already has (earlier weeks kept as they are), and this week's: a row per
    key result and KPI whose value, score, status or confidence differs from its last row. A
    new tab starts with the earlier weeks of the cycle from the history store (``history``: the
    items' snapshots, oldest first)."""
    week = week_of(today)
    kept: list[list] = []
    last: dict[tuple, tuple] = {}
    if shown is None:
        kept = _earlier_weeks(history, week)
        last = {tuple(row[2:5]): tuple(row[6:]) for row in kept}
    elif OwnedTab.owned(shown, CHECKINS_MARKER):
        for r in range(3, shown.max_row + 1):
            row = [shown.value(r, c) for c in range(1, len(CHECKINS_HEADER) + 1)]
            if row[0] in (None, "") or row[0] == week:
                continue
            kept.append(row)
            last[tuple("" if v is None else str(v) for v in row[2:5])] = tuple(row[6:])
    objectives = {o.key: o for o in evaluation.objectives}
    fresh = []
    for kr in evaluation.key_results:
        objective = objectives.get(kr.objective_key)
        item = (objective.team if objective else "", objective.text if objective else "", kr.text)
        item = tuple("" if v is None else str(v) for v in item)
        state = (kr.current, None if kr.score is None else round(kr.score, 3), kr.status.text, kr.confidence)
        if _differs(last.get(item), state):
            fresh.append([week, today.isoformat(), *item, kr.owner, *state])
    for k in evaluation.kpis:
        item = (k.team or "", "", k.name)
        state = (k.current, None, k.status.text, None)
        if _differs(last.get(item), state):
            fresh.append([week, today.isoformat(), *item, k.owner, *state])
    rows = [[f"{CHECKINS_MARKER} — one row per key result and KPI each week it changed"], list(CHECKINS_HEADER),
            *kept, *fresh]
    fills = {(r, 9): Status(row[8]).colour for r, row in enumerate(rows, start=1)
             if r > 2 and row[8] in {s.text for s in Status}}
    widths = {1: 10.0, 2: 12.0, 3: 14.0, 4: 32.0, 5: 36.0, 6: 14.0, 7: 10.0, 8: 8.0, 9: 12.0, 10: 11.0}
    return OwnedTab(title, CHECKINS_MARKER, rows, fills, [], widths)


def _earlier_weeks(history: list[dict], this_week: str) -> list[list]:
    """Check-in rows of the weeks before ``this_week`` from the items' snapshots: a row each week
    an item showed something new (its last state that week). Confidence is not kept there."""
    rows: list[list] = []
    latest: dict[tuple, int] = {}  # item → index of its last row
    for snap in history:
        week = week_of(snap["day"])
        if week >= this_week:
            continue
        if snap["kind"] == "key_result":  # its key: "team|cycle|objective|key result"
            team, _, rest = snap["key"].partition("|")
            objective = rest.partition("|")[2].rpartition("|")[0]
        else:
            team, objective = snap["team"] or "", ""
        item = (team, objective, snap["label"])
        score = None if snap["score"] is None else round(snap["score"], 3)
        row = [week, snap["day"].isoformat(), *item, snap["owner"], snap["current"], score, snap["status"], None]
        at = latest.get(item)
        if at is not None and rows[at][0] == week:
            rows[at] = row  # the week's last state
        elif at is None or _differs(tuple(rows[at][6:]), tuple(row[6:])):
            latest[item] = len(rows)
            rows.append(row)
    return rows


def _differs(before: tuple | None, now: tuple) -> bool:
    if before is None:
        return True
    return any(not _same(a, b) for a, b in zip(before, now))


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) < 1e-9
    return (a in (None, "") and b in (None, "")) or a == b
