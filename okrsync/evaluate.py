"""A validated table turned into scored domain items: key results, objectives, KPIs."""

from __future__ import annotations

import datetime as dt
import math

from okrsync.cycles import CycleError, parse_cycle
from okrsync.domain import Evaluation, Finding, Kpi, KeyResult, Objective, Severity
from okrsync.ruleset import RuleSet, bands
from okrsync.score import improving, kpi_status, kr_status, objective_status, trend
from okrsync.table import Table
from okrsync.values import text_of

# An error from one of these means the key result's numbers cannot be used (SPEC §3).
BLOCKING_RULES = {"kr-measurable", "kr-direction", "values-in-range", "time-bound"}
KPI_BLOCKING_RULES = {"kpi-measurable", "kpi-threshold"}


def _num(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _blocked_rows(findings: list[Finding], rules: set[str]) -> set[int]:
    return {row for f in findings if f.rule in rules and f.severity is Severity.ERROR
            for row in (f.rows or ((f.row,) if f.row is not None else ()))}


def evaluate_okrs(table: Table, findings: list[Finding], ruleset: RuleSet, today: dt.date,
                  default_cycle: str, fiscal_year_start: int) -> Evaluation:
    blocked = _blocked_rows(findings, BLOCKING_RULES)
    result = Evaluation()
    objectives: dict[str, Objective] = {}
    for o in table.objective_records:
        try:
            cycle = parse_cycle(o["cycle"] or default_cycle, today, fiscal_year_start)
        except CycleError:
            cycle = None
        objectives[o["key"]] = Objective(
            key=o["key"], text=text_of(o["objective"]), team=o["team"], owner=text_of(o["objective_owner"]),
            cycle=cycle, first_row=int(o["row"]),
            committed=(o["commitment"] or ruleset.default_commitment) == "committed")
    for r in table.records:
        kr = KeyResult(
            row=r["row"], objective_key=r["objective_key"], text=text_of(r["key_result"]),
            owner=text_of(r["owner"]), type=r["type_n"] or "number",
            direction=r["direction_n"] or "increase", start=_num(r["start_n"]), target=_num(r["target_n"]),
            current=_num(r["current_n"]), done=r["done"], weight=_num(r["weight_n"]) or 1.0,
            confidence=_num(r["confidence_n"]), cycle=r["cycle_c"], due=r["due_d"],
            scorable=int(r["row"]) not in blocked and r["type_n"] is not None and r["direction_n"] is not None,
        )
        kr.score, kr.status = kr_status(kr, today, *bands(ruleset, objectives[kr.objective_key].committed))
        objectives[kr.objective_key].key_results.append(kr)
        result.key_results.append(kr)
    for objective in objectives.values():
        objective.score, objective.status = objective_status(objective, today, *bands(ruleset, objective.committed))
    result.objectives = list(objectives.values())
    return result


def evaluate_kpis(table: Table, findings: list[Finding], ruleset: RuleSet,
                  previous: dict[str, float]) -> Evaluation:
    blocked = _blocked_rows(findings, KPI_BLOCKING_RULES)
    result = Evaluation()
    for r in table.records:
        kpi = Kpi(
            row=r["row"], key=r["key"], name=text_of(r["kpi"]), team=r["team"],
            owner=text_of(r["owner"]), direction=r["direction_n"] or "",
            target=_num(r["target_n"]), threshold=_num(r["threshold_n"]), current=_num(r["current_n"]),
            usable=int(r["row"]) not in blocked, low=_num(r["min_n"]), high=_num(r["max_n"]),
        )
        kpi.status = kpi_status(kpi, ruleset.kpi_tolerance)
        kpi.trend = trend(kpi.current, previous.get(kpi.key))
        kpi.improving = improving(kpi, previous.get(kpi.key))
        result.kpis.append(kpi)
    return result
