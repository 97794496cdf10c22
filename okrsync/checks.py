"""What each built-in rule checks, as vectorised pass/fail columns plus the sentence a person
reads when a row fails. okrsync.validate compiles these into Pandera schemas."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from okrsync.domain import Severity
from okrsync.rule_context import RuleContext
from okrsync.ruleset import RuleSet
from okrsync.table import Table
from okrsync.values import ErrorValue, display, is_blank, normalise, text_of


@dataclass
class Part:
    """One check of a rule: a pass/fail column over a frame and the message for a failure."""

    rule: str
    frame: str  # "items" or "objectives"
    column: str | None  # the canonical column the finding points at; None: the row
    passes: Callable[[pd.DataFrame], pd.Series]
    message: Callable[[pd.Series], str]
    hint: str = ""
    severity: Severity | None = None  # overrides the rule's own
    first_per: str | None = None  # report only the first failing row per value of this column
    at_row: str = "row"  # the column holding the sheet row the finding points at


def _attr(series: pd.Series, name: str) -> pd.Series:
    """An attribute of the objects in a column (None where the cell holds none)."""
    return series.map(lambda v: None if v is None else getattr(v, name))


def _needs_start(df: pd.DataFrame) -> pd.Series:
    return df["type_n"].isin(NUMERIC_TYPES) & ~df["direction_n"].isin(("at least", "at most"))


def _blank(series: pd.Series) -> pd.Series:
    return series.map(lambda v: is_blank(v) or isinstance(v, ErrorValue)).astype(bool)


def _empty(series: pd.Series) -> pd.Series:
    """Blank cells (an error value is not blank)."""
    return series.map(is_blank).astype(bool)


def _number_problem(raw: object, label: str) -> str:
    if isinstance(raw, ErrorValue):
        return f"{label} shows the spreadsheet error {raw}"
    if is_blank(raw):
        return f"{label} is blank"
    return f'{label} "{display(raw)}" is not a number'


NUMERIC_TYPES = ("number", "percent", "currency")


def _parts_okr(t: Table, rs: RuleSet) -> list[Part]:
    L = t.label
    parts: list[Part] = []
    numeric = lambda df: df["type_n"].isin(NUMERIC_TYPES)

    # owner-present
    owner_col = "owner" if "owner" in t.columns else "objective_owner" if "objective_owner" in t.columns else None
    parts.append(Part("owner-present", "items", owner_col, lambda df: ~_blank(df["owner"]),
                      lambda r: (f"{L('owner')} shows the spreadsheet error {r['owner']}" if isinstance(r["owner"], ErrorValue)
                                 else f'Key result "{display(r["key_result"])}" has no owner'),
                      hint="Name the one person accountable for it"
                      if owner_col else f"The {t.tab} tab has no Owner column: add one"))
    if "objective_owner" in t.columns:
        parts.append(Part("owner-present", "objectives", "objective_owner", lambda df: ~_blank(df["objective_owner"]),
                          lambda r: f'Objective "{display(r["objective"])}" has no owner'))

    # kr-measurable
    parts += [
        Part("kr-measurable", "items", "type", lambda df: df["type_n"].notna(),
             lambda r: f'{L("type")} "{display(r["type"])}" is not one of number, percent, currency, milestone'),
        Part("kr-measurable", "items", "current",
             lambda df: (df["type_n"] != "milestone") | df["done"].notna(),
             lambda r: (f"{L('current')} shows the spreadsheet error {r['current']}" if isinstance(r["current"], ErrorValue)
                        else f'{L("current")} "{display(r["current"])}" is not a done / not-done value'),
             hint="Use done, yes or ✓ when achieved; leave empty or no otherwise"),
    ]
    for name, needed in (("start", _needs_start), ("target", numeric), ("current", numeric)):
        parts.append(Part(
            "kr-measurable", "items", name,
            lambda df, name=name, needed=needed: ~needed(df) | df[f"{name}_n"].notna(),
            lambda r, name=name: _number_problem(r[name], L(name)),
            hint="Type a number (1,200, 45 %, $150,000 work), or set the type to milestone"))
    parts.append(Part(
        "kr-measurable", "items", "target",
        lambda df: ~_needs_start(df) | (df["start_n"] != df["target_n"]),
        lambda r: f"{L('target')} {display(r['target'])} equals {L('start')} {display(r['start'])}, so progress cannot be measured"))

    # kr-direction
    def direction_agrees(df: pd.DataFrame) -> pd.Series:
        explicit = ~_blank(df["direction"])
        up_but_lower = (df["direction_n"] == "increase") & (df["target_n"] < df["start_n"])
        down_but_higher = (df["direction_n"] == "decrease") & (df["target_n"] > df["start_n"])
        return ~(explicit & (up_but_lower | down_but_higher))  # NaN comparisons are False: pass

    parts += [
        Part("kr-direction", "items", "direction", lambda df: df["direction_n"].notna(),
             lambda r: f'{L("direction")} "{display(r["direction"])}" is not one of increase, decrease, at least, at most'),
        Part("kr-direction", "items", "direction", direction_agrees,
             lambda r: (f"{L('direction')} is {r['direction_n']} but {L('target')} {display(r['target'])} lies "
                        f"{'below' if r['direction_n'] == 'increase' else 'above'} {L('start')} {display(r['start'])}"),
             hint="Fix the direction, or swap start and target"),
    ]

    # krs-per-objective, objectives-per-team
    kmin, kmax = rs.get("krs-per-objective").params["min"], rs.get("krs-per-objective").params["max"]
    parts.append(Part("krs-per-objective", "objectives", "objective",
                      lambda df: df["kr_count"].between(kmin, kmax),
                      lambda r: f'Objective "{display(r["objective"])}" has {r["kr_count"]} key result'
                                f'{"" if r["kr_count"] == 1 else "s"}; aim for {kmin}–{kmax}'))
    omax = rs.get("objectives-per-team").params["max"]

    def within_team_limit(df: pd.DataFrame) -> pd.Series:
        rank = df.groupby(["team", "cycle"]).cumcount() + 1
        return rank <= omax

    parts.append(Part("objectives-per-team", "objectives", "objective", within_team_limit,
                      lambda r: f"Team {r['team']} has more than {omax} objectives in {r['cycle']}; "
                                f'"{display(r["objective"])}" is number {omax + 1}',
                      hint="Keep the few that matter most this cycle", first_per="team_cycle"))

    # time-bound
    max_days = rs.get("time-bound").params["max_days"]
    cycle_col = "cycle" if "cycle" in t.columns else None
    parts += [
        Part("time-bound", "items", cycle_col, lambda df: df["cycle_error"] == "",
             lambda r: f"{L('cycle')} cannot be resolved: {r['cycle_error']}", at_row="cycle_row"),
        Part("time-bound", "items", cycle_col,
             lambda df: _attr(df["cycle_c"], "days").fillna(0).astype(float) <= max_days,
             lambda r: f'{L("cycle")} "{r["cycle_c"].label}" spans {r["cycle_c"].days} days; keep cycles to at most {max_days}',
             at_row="cycle_row"),
        Part("time-bound", "items", "due", lambda df: _empty(df["due"]) | df["due_d"].notna(),
             lambda r: (f"{L('due')} shows the spreadsheet error {r['due']}" if isinstance(r["due"], ErrorValue)
                        else f'{L("due")} "{display(r["due"])}" is not a date'),
             hint="Use a date cell or YYYY-MM-DD"),
        Part("time-bound", "items", "due", _due_inside_cycle,
             lambda r: f"{L('due')} {r['due_d']} lies outside the cycle {r['cycle_c'].label} "
                       f"({r['cycle_c'].start}..{r['cycle_c'].end})"),
    ]

    # values-in-range
    parts += [
        Part("values-in-range", "items", "weight", lambda df: df["weight_n"].notna() & (df["weight_n"] > 0),
             lambda r: (_number_problem(r["weight"], L("weight")) if math.isnan(r["weight_n"])
                        else f"{L('weight')} {display(r['weight'])} must be greater than 0")),
        Part("values-in-range", "items", "confidence",
             lambda df: _empty(df["confidence"])
             | df["confidence_n"].between(0, 10),
             lambda r: (_number_problem(r["confidence"], L("confidence")) if math.isnan(r["confidence_n"])
                        else f"{L('confidence')} {display(r['confidence'])} is outside 0–10 (or 0–100 %)")),
    ]
    for name in ("start", "target", "current"):
        parts.append(Part(
            "values-in-range", "items", name,
            lambda df, name=name: (df["type_n"] != "percent") | ~(df[f"{name}_n"].abs() > 10),
            lambda r, name=name: f"{L(name)} {display(r[name])} is not a plausible percentage (over 1000 %)"))
    return parts


def _parts_kpi(t: Table, rs: RuleSet) -> list[Part]:
    L = t.label
    parts = [
        Part("owner-present", "items", "owner" if "owner" in t.columns else None, lambda df: ~_blank(df["owner"]),
             lambda r: (f"{L('owner')} shows the spreadsheet error {r['owner']}" if isinstance(r["owner"], ErrorValue)
                        else f'KPI "{display(r["kpi"])}" has no owner'),
             hint="Name the one person accountable for it"),
        Part("kpi-measurable", "items", "direction", lambda df: df["direction_n"].notna(),
             lambda r: f'{L("direction")} "{display(r["direction"])}" is not one of higher, lower, range'),
        Part("kpi-measurable", "items", "threshold",
             lambda df: _empty(df["threshold"]) | df["threshold_n"].notna(),
             lambda r: _number_problem(r["threshold"], L("threshold"))),
    ]
    ranged = lambda df: df["direction_n"] == "range"  # noqa: E731 — a range KPI needs min and max, not a target
    parts.append(Part("kpi-measurable", "items", "current", lambda df: df["current_n"].notna(),
                      lambda r: _number_problem(r["current"], L("current")), hint="Type a number (1,200, 45 %, $150,000 work)"))
    parts.append(Part("kpi-measurable", "items", "target", lambda df: ranged(df) | df["target_n"].notna(),
                      lambda r: _number_problem(r["target"], L("target")), hint="Type a number (1,200, 45 %, $150,000 work)"))
    for name in ("min", "max"):
        parts.append(Part("kpi-measurable", "items", name if name in t.columns else "direction",
                          lambda df, name=name: ~ranged(df) | df[f"{name}_n"].notna(),
                          lambda r, name=name: (_number_problem(r[name], L(name)) if name in t.columns else
                                                f"a range KPI needs a {name} column (Target {name}) for its band"),
                          hint="Give the band's lower and upper bounds as numbers"))
    parts.append(Part("kpi-measurable", "items", "max" if "max" in t.columns else "direction",
                      lambda df: ~ranged(df) | df["min_n"].isna() | df["max_n"].isna() | (df["min_n"] < df["max_n"]),
                      lambda r: f"{L('min')} {display(r['min'])} is not below {L('max')} {display(r['max'])}",
                      hint="The band runs from its lower bound to a higher upper bound"))

    def threshold_side(df: pd.DataFrame) -> pd.Series:
        lower = df["direction_n"] == "lower"
        wrong = (~lower & (df["threshold_n"] > df["target_n"])) | (lower & (df["threshold_n"] < df["target_n"]))
        wrong = (wrong & ~ranged(df)) | (ranged(df) & (df["threshold_n"] < 0))  # a range's is a distance
        return ~wrong  # NaN comparisons are False: a missing number is kpi-measurable's to report

    parts.append(Part("kpi-threshold", "items", "threshold", threshold_side,
                      lambda r: (f"{L('threshold')} {display(r['threshold'])} is negative; for a range KPI it is how far "
                                 "outside the band counts as at risk" if r["direction_n"] == "range" else
                                 f"{L('threshold')} {display(r['threshold'])} lies "
                                 f"{'above' if r['direction_n'] != 'lower' else 'below'} {L('target')} {display(r['target'])}; "
                                 f"for a {r['direction_n'] or 'higher'}-is-better KPI it must lie on the "
                                 f"{'lower' if r['direction_n'] != 'lower' else 'higher'} side")))
    warn, kmax = rs.get("kpis-per-team").params["warn"], rs.get("kpis-per-team").params["max"]

    def team_rank(df: pd.DataFrame) -> pd.Series:
        return df.groupby("team").cumcount() + 1

    def within_warning(df: pd.DataFrame) -> pd.Series:
        """Past ``warn`` warns only in a team that stays within ``max`` (beyond it, the error speaks)."""
        return ~((team_rank(df) > warn) & (df.groupby("team")["kpi"].transform("size") <= kmax))

    parts += [
        Part("kpis-per-team", "items", "kpi", within_warning,
             lambda r: f"Team {r['team']} tracks more than {warn} KPIs; \"{display(r['kpi'])}\" is number {warn + 1}",
             hint=f"Keep {warn} or fewer KPIs per team so each one is watched", first_per="team"),
        Part("kpis-per-team", "items", "kpi", lambda df: team_rank(df) <= kmax,
             lambda r: f"Team {r['team']} tracks more than {kmax} KPIs; \"{display(r['kpi'])}\" is number {kmax + 1}",
             hint=f"Keep at most {kmax} KPIs per team", severity=Severity.ERROR, first_per="team"),
    ]
    return parts


def _due_inside_cycle(df: pd.DataFrame) -> pd.Series:
    start, end = _attr(df["cycle_c"], "start"), _attr(df["cycle_c"], "end")
    known = df["due_d"].notna() & start.notna()
    inside = pd.Series([s <= d <= e if k else True for k, s, d, e in zip(known, start, df["due_d"], end)],
                       index=df.index, dtype=bool)
    return inside


FREQUENCY_DAYS = {"daily": 1, "day": 1, "weekly": 7, "week": 7, "biweekly": 14, "fortnightly": 14,
                  "monthly": 31, "month": 31, "quarterly": 92, "quarter": 92, "yearly": 366, "annually": 366}
PERSPECTIVES = ("financial", "customer", "internal", "learning")
CHILD_LEVELS = ("department", "team", "individual")


def perspective_of(text: object) -> str | None:
    """financial / customer / internal (process) / learning (& growth), from how people write them."""
    word = normalise(text)
    for prefix, name in (("fin", "financial"), ("cust", "customer"), ("int", "internal"), ("process", "internal"),
                         ("oper", "internal"), ("learn", "learning"), ("growth", "learning"), ("people", "learning")):
        if word.startswith(prefix):
            return name
    return None


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _days(a, b) -> int:
    return (a - b).days


def _context_parts_okr(t: Table, rs: RuleSet, ctx: RuleContext) -> list[Part]:
    L = t.label
    parts: list[Part] = []
    if "parent" in t.columns:
        def parent_known(df: pd.DataFrame) -> pd.Series:
            level = df["level"].map(lambda v: normalise(v))
            parent = df["parent"].map(lambda v: normalise(text_of(v)))
            linked = parent.map(lambda p: p in ctx.objectives)
            return (level == "company") | linked | ((parent == "") & ~level.isin(CHILD_LEVELS))

        parts.append(Part(
            "aligned", "objectives", "parent", parent_known,
            lambda r: (f'Objective "{display(r["objective"])}" ({r["level"]} level) has no parent objective'
                       if is_blank(r["parent"]) else
                       f'{L("parent")} "{display(r["parent"])}" of objective "{display(r["objective"])}" '
                       "names no objective in any source"),
            hint="Name the id or the text of the objective this one supports"))

    def first_same(r) -> int:
        same = t.items[(t.items["objective_key"] == r["objective_key"])
                       & (t.items["key_result"].map(normalise) == normalise(r["key_result"]))]
        return int(same["row"].min())

    parts.append(Part(
        "unique", "items", "key_result",
        lambda df: ~pd.DataFrame({"o": df["objective_key"], "k": df["key_result"].map(normalise)}).duplicated(),
        lambda r: f'Key result "{display(r["key_result"])}" appears twice in objective "{display(r["objective"])}" '
                  f'(first at {t.tab}!{t.cell("key_result", first_same(r))})'))

    days = rs.get("stale").params["days"]

    def fresh(df: pd.DataFrame) -> pd.Series:
        done = (df["done"] == True) | ((df["direction_n"] == "increase") & (df["current_n"] >= df["target_n"])) \
            | ((df["direction_n"] == "decrease") & (df["current_n"] <= df["target_n"]))  # noqa: E712
        since = df["key"].map(lambda k: ctx.unchanged_since(t.source, "key_result", k))
        age = since.map(lambda d: _days(ctx.today, d) if d is not None else 0)
        # a key result whose cycle (or due date) has ended holds its final value: never stale
        ends = [due if due is not None else (cycle.end if cycle else None) for due, cycle in zip(df["due_d"], df["cycle_c"])]
        ended = pd.Series([end is not None and end < ctx.today for end in ends], index=df.index)
        return done | ended | (age <= days)

    parts.append(Part(
        "stale", "items", "current", fresh,
        lambda r: (f"{L('current')} {display(r['current'])} has not changed since "
                   f"{ctx.unchanged_since(t.source, 'key_result', r['key'])} "
                   f"({_days(ctx.today, ctx.unchanged_since(t.source, 'key_result', r['key']))} days)"),
        hint=f"Update it at least every {days} days, even when it has not moved"))

    def restates_kpi(row) -> str | None:
        for kpi in ctx.kpis.get(normalise(row["team"]), []):
            if len(kpi.name) >= 4 and kpi.name in normalise(row["key_result"]) and (
                    row["direction_n"] in ("at least", "at most") or row["target_n"] == kpi.target):
                return kpi.label
        return None

    def not_a_kpi(df: pd.DataFrame) -> pd.Series:
        columns = ("team", "key_result", "direction_n", "target_n")
        passes = [normalise(values[0]) not in ctx.kpis  # only a team with KPIs can restate one
                  or restates_kpi(dict(zip(columns, values))) is None
                  for values in zip(*(df[c] for c in columns))]
        return pd.Series(passes, index=df.index, dtype=bool)

    parts.append(Part(
        "kr-is-kpi", "items", "key_result", not_a_kpi,
        lambda r: f'Key result "{display(r["key_result"])}" restates the KPI "{restates_kpi(r)}" of team {r["team"]}',
        hint="Track routine health as a KPI; keep key results for the change the objective needs"))
    return parts


def _context_parts_kpi(t: Table, rs: RuleSet, ctx: RuleContext) -> list[Part]:
    L = t.label
    parts: list[Part] = [Part(
        "unique", "items", "kpi",
        lambda df: ~pd.DataFrame({"t": df["team"].map(normalise), "k": df["kpi"].map(normalise)}).duplicated(),
        lambda r: f'KPI "{display(r["kpi"])}" appears twice in team {r["team"]}')]

    grace = rs.get("kpi-stale").params["grace_days"]

    def reference(r) -> tuple[object, str]:
        if r["as_of_d"] is not None:
            return r["as_of_d"], "as_of"
        return ctx.unchanged_since(t.source, "kpi", r["key"]), "current"

    def allowed(r) -> int | None:
        days = FREQUENCY_DAYS.get(normalise(r["frequency"]))
        return None if days is None else days + grace

    def fresh(df: pd.DataFrame) -> pd.Series:
        out = []
        for r in df[["as_of_d", "key", "frequency"]].to_dict("records"):
            ref, _ = reference(r)
            limit = allowed(r)
            out.append(ref is None or limit is None or _days(ctx.today, ref) <= limit)
        return pd.Series(out, index=df.index, dtype=bool)

    def stale_message(r) -> str:
        ref, where = reference(r)
        age, every = _days(ctx.today, ref), FREQUENCY_DAYS[normalise(r["frequency"])]
        what = f"{L('as_of')} {ref}" if where == "as_of" else f"{L('current')} {display(r['current'])}, unchanged since {ref},"
        return (f"{what} is {age} days old; a {normalise(r['frequency'])} KPI needs a value every {every} days "
                f"(+{grace} days grace)")

    parts.append(Part("kpi-stale", "items", "as_of" if "as_of" in t.columns else "current", fresh, stale_message,
                      hint="Enter this period's value and its date"))

    if "perspective" in t.columns:
        def covered(df: pd.DataFrame) -> pd.Series:
            kinds = df["perspective"].map(perspective_of)
            per_team = kinds.groupby(df["team"]).transform(lambda k: len({x for x in k if x}))
            return per_team == len(PERSPECTIVES)

        def missing(r) -> str:
            team_rows = t.items[t.items["team"] == r["team"]]
            have = {perspective_of(p) for p in team_rows["perspective"]} - {None}
            lacking = [p for p in PERSPECTIVES if p not in have]
            got = ", ".join(p for p in PERSPECTIVES if p in have) or "no perspective"
            return f"Team {r['team']}'s KPIs cover {got}; none is {_either(lacking)}"

        parts.append(Part("kpi-balanced", "items", "perspective", covered, missing,
                          hint="Balance lagging financial measures with customer, internal and learning ones",
                          first_per="team"))

    if "objective" in t.columns:
        parts.append(Part(
            "kpi-linked", "items", "objective",
            lambda df: df["objective"].map(lambda v: not is_blank(v) and normalise(text_of(v)) in ctx.objectives),
            lambda r: (f'KPI "{display(r["kpi"])}" names no objective it supports' if is_blank(r["objective"]) else
                       f'{L("objective")} "{display(r["objective"])}" of KPI "{display(r["kpi"])}" is not an '
                       "objective in any source"),
            hint="Name the id or text of the objective whose health this KPI shows"))
    else:
        # One finding for the table: only the first row fails (Pandera reports every failing
        # row once per column, which costs time on a long table).
        parts.append(Part("kpi-linked", "items", None, lambda df: pd.Series(df.index != df.index[0], index=df.index),
                          lambda r: f"The {t.tab} tab has no Objective column naming the objective each KPI supports",
                          hint="Add an Objective (or Supports) column", first_per="table"))
    return parts


def parts_for(table: Table, ruleset: RuleSet, context: RuleContext | None = None) -> list[Part]:
    if table.kind == "okr":
        parts = _parts_okr(table, ruleset) + (_context_parts_okr(table, ruleset, context) if context else [])
    else:
        parts = _parts_kpi(table, ruleset) + (_context_parts_kpi(table, ruleset, context) if context else [])
    return [p for p in parts if ruleset.get(p.rule).enabled]
