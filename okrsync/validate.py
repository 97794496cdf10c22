"""Rules compiled into Pandera schemas, run lazily over a table, failures turned into findings.

Pandera reports a dataframe-wide check once per column and a failed row more than once;
findings are collapsed to one per check and row (and per group where a rule counts).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from okrsync.checks import Part, parts_for
from okrsync.domain import Finding
from okrsync.ruleset import RuleSet
from okrsync.table import Table

FRAMES = ("items", "objectives")


def _schema(parts: list[tuple[int, Part]]) -> pa.DataFrameSchema:
    checks = [pa.Check(part.passes, name=str(index), ignore_na=False) for index, part in parts]
    return pa.DataFrameSchema(checks=checks, strict=False, coerce=False)


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[tuple[int, object]]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases[["check", "index"]].dropna().drop_duplicates()
        return [(int(check), index) for check, index in cases.itertuples(index=False)]
    return []


def validate(table: Table, ruleset: RuleSet) -> list[Finding]:
    parts = parts_for(table, ruleset)
    findings: list[Finding] = []
    for frame_name in FRAMES:
        frame = getattr(table, frame_name)
        indexed = [(i, p) for i, p in enumerate(parts) if p.frame == frame_name]
        if frame is None or frame.empty or not indexed:
            continue
        if frame_name == "objectives":
            frame = frame.assign(team_cycle=frame["team"] + "|" + frame["cycle"])
        failures = sorted(_failures(_schema(indexed), frame), key=lambda f: (f[0], frame.index.get_loc(f[1])))
        first: dict[tuple[int, object], pd.Series] = {}  # (check, cell row or group) → first failing row
        affected: dict[tuple[int, object], list[int]] = {}
        for check, index in failures:
            part, row = parts[check], frame.loc[index]
            key = (check, row[part.first_per] if part.first_per else int(row[part.at_row]))
            first.setdefault(key, row)
            affected.setdefault(key, []).append(int(row["row"]))
        for (check, _), row in first.items():
            rows = affected[(check, _)] if not parts[check].first_per else [int(row["row"])]
            findings.append(_finding(table, parts[check], row, tuple(rows), ruleset))
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


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Sheet order: source, tab, row, column."""
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

    def key(f: Finding):
        col = column_index_from_string(coordinate_from_string(f.cell)[0]) if f.cell else 0
        return (f.source, f.tab, f.row or 0, col, f.rule)

    return sorted(findings, key=key)
