"""Rules compiled into Pandera schemas, run lazily over a table, failures turned into findings.

Built-in rules are dataframe-wide checks (okrsync.checks); custom rules are Pandera built-in
checks on a column. Pandera reports a dataframe-wide check once per column and a failed row
more than once; findings are collapsed to one per check and cell (and per group where a rule
counts).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from okrsync.checks import Part, parts_for
from okrsync.domain import Finding, Severity
from okrsync.refs import split_cell
from okrsync.rule_context import RuleContext
from okrsync.ruleset import CustomRule, RuleSet
from okrsync.table import Table
from okrsync.values import display, text_of

FRAMES = ("items", "objectives")
NUMERIC = {"start", "target", "current", "weight", "confidence", "threshold"}
DATES = {"due": "due_d", "as_of": "as_of_d"}
CUSTOM = "__custom_"


def _custom_values(frame: pd.DataFrame, rule: CustomRule) -> pd.Series:
    """The column a custom rule checks: parsed numbers and dates, text otherwise; rows the rule's
    `where` leaves out are blank, which Pandera's checks skip."""
    if rule.column in NUMERIC:
        values = frame[f"{rule.column}_n"].astype(object)
    elif rule.column in DATES:
        values = frame[DATES[rule.column]]
    else:
        values = frame[rule.column].map(text_of)
    mask = pd.Series(True, index=frame.index)
    for column, wanted in rule.where.items():
        allowed = {w.casefold() for w in wanted}
        mask &= frame[column].map(lambda v: text_of(v).casefold() in allowed)
    return values.where(mask & values.map(lambda v: v is not None and v == v), None)


def _schema(parts: list[tuple[int, Part]], custom: list[tuple[int, CustomRule]]) -> pa.DataFrameSchema:
    checks = [pa.Check(part.passes, name=str(index), ignore_na=False) for index, part in parts]
    columns = {f"{CUSTOM}{i}": pa.Column(checks=[rule.pandera_check()], nullable=True, coerce=False)
               for i, rule in custom}
    return pa.DataFrameSchema(columns=columns, checks=checks, strict=False, coerce=False)


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[tuple[str, object]]:
    """(check name, or the custom column, failing row index) pairs, each once."""
    try:
        schema.validate(frame, lazy=True, inplace=True)  # the frame is a fresh copy already
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        out = set()
        for column, check, index in cases[["column", "check", "index"]].itertuples(index=False):
            if index is None or index != index:
                continue
            key = column if isinstance(column, str) and column.startswith(CUSTOM) else check
            out.add((str(key), index))
        return list(out)
    return []


def validate(table: Table, ruleset: RuleSet, context: RuleContext | None = None) -> list[Finding]:
    parts = parts_for(table, ruleset, context)
    custom = [(i, r) for i, r in enumerate(ruleset.custom.values()) if r.table == table.kind and r.severity != "off"]
    custom_rules = dict(custom)
    findings: list[Finding] = []
    for frame_name in FRAMES:
        frame = getattr(table, frame_name)
        indexed = [(i, p) for i, p in enumerate(parts) if p.frame == frame_name]
        rules_here = custom if frame_name == "items" else []
        if frame is None or frame.empty or not (indexed or rules_here):
            continue
        extra = {"table": ""}
        if frame_name == "objectives":
            extra["team_cycle"] = frame["team"] + "|" + frame["cycle"]
        extra.update({f"{CUSTOM}{i}": _custom_values(frame, rule) for i, rule in rules_here})
        frame = frame.assign(**extra)
        failures = _failures(_schema(indexed, rules_here), frame)
        failures.sort(key=lambda f: (f[0], frame.index.get_loc(f[1])))
        first: dict[tuple[str, object], pd.Series] = {}  # (check, cell row or group) → first failing row
        affected: dict[tuple[str, object], list[int]] = {}
        for check, index in failures:
            row = frame.loc[index]
            if check.startswith(CUSTOM):
                key = (check, int(row["row"]))
            else:
                part = parts[int(check)]
                key = (check, row[part.first_per] if part.first_per else int(row[part.at_row]))
            first.setdefault(key, row)
            affected.setdefault(key, []).append(int(row["row"]))
        for (check, group), row in first.items():
            if check.startswith(CUSTOM):
                findings.append(_custom_finding(table, custom_rules[int(check[len(CUSTOM):])], row))
            else:
                part = parts[int(check)]
                rows = affected[(check, group)] if not part.first_per else [int(row["row"])]
                findings.append(_finding(table, part, row, tuple(rows), ruleset))
    return sort_findings(findings)


def _finding(table: Table, part: Part, row: pd.Series, rows: tuple[int, ...], ruleset: RuleSet) -> Finding:
    """One finding per check and cell; ``rows``: every item row it affects."""
    at = int(row[part.at_row])
    return Finding(
        rule=part.rule,
        severity=part.severity or ruleset.get(part.rule).level,
        message=part.message(row),
        source=table.source,
        tab=table.tab,
        cell=table.cell(part.column, at) if part.column else "",
        row=at,
        hint=part.hint,
        rows=rows if rows != (at,) else (),
    )


def _custom_finding(table: Table, rule: CustomRule, row: pd.Series) -> Finding:
    at = int(row["row"])
    return Finding(
        rule=rule.id,
        severity=Severity(rule.severity),
        message=f'{rule.message} ({table.label(rule.column)} is "{display(row[rule.column])}")',
        source=table.source,
        tab=table.tab,
        cell=table.cell(rule.column, at),
        row=at,
    )


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Sheet order: source, tab, row, column."""
    def key(f: Finding):
        col = split_cell(f.cell)[1] if f.cell else 0
        return (f.source, f.tab, f.row or 0, col, f.rule)

    return sorted(findings, key=key)
