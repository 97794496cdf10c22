"""What the commands print: findings grouped by source and tab, run summaries, JSON.

The JSON shape (``--json``) is stable: see the README's "JSON output" section.
"""

from __future__ import annotations

import json
from collections import Counter

from okrsync.domain import Severity
from okrsync.refs import column_letter


def findings_text(run) -> str:
    lines: list[str] = []
    for source in run.sources:
        lines.append(f"{source.name} — {source.location}")
        if not source.ok:
            lines.append(f"  failed: {source.error}")
            continue
        if not source.findings:
            lines.append("  no findings")
        tab = None
        for f in source.findings:
            if f.tab != tab:
                tab = f.tab
                lines.append(f"  {tab}")
            where = f.where
            lines.append(f"    {where:<14} {f.severity.value:<8} {f.message} [{f.rule}]")
            if f.hint:
                lines.append(f"    {'':<14} {'':<8} hint: {f.hint}")
    findings = run.findings
    by_severity = Counter(f.severity for f in findings)
    by_rule = Counter(f.rule for f in findings)
    lines.append("")
    lines.append(
        f"{by_severity[Severity.ERROR]} error(s), {by_severity[Severity.WARNING]} warning(s), "
        f"{by_severity[Severity.INFO]} info in {len(run.sources)} source(s)"
        + (f"; {len(run.failed)} source(s) could not be read" if run.failed else "")
    )
    if by_rule:
        lines.append("by rule: " + ", ".join(f"{rule} {n}" for rule, n in sorted(by_rule.items())))
    return "\n".join(lines)


def summary_table(run) -> str:
    head = ["source", "objectives", "key results", "KPIs", "on track", "at risk", "off track",
            "done/achieved", "needs data", "errors", "warnings", "cells written"]
    rows = []
    for s in run.sources:
        if not s.ok:
            rows.append([s.name, "failed", "", "", "", "", "", "", "", "", "", ""])
            continue
        c = s.status_counts()
        rows.append([
            s.name, len(s.evaluation.objectives), len(s.evaluation.key_results), len(s.evaluation.kpis),
            c["On track"], c["At risk"] + c["Partly achieved"], c["Off track"] + c["Missed"],
            c["Done"] + c["Achieved"], c["Needs data"], s.errors, s.warnings, s.written,
        ])
    cells = [head] + [[str(x) for x in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    out = []
    for i, row in enumerate(cells):
        out.append("  ".join(v.ljust(w) if j == 0 else v.rjust(w) for j, (v, w) in enumerate(zip(row, widths))))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def changes_text(run) -> str:
    lines = []
    for s in run.sources:
        for c in s.changes:
            fill = f"  fill #{c.fill}" if c.fill else ""
            value = "(empty)" if c.value is None else repr(c.value) if isinstance(c.value, float) else c.value
            lines.append(f"{s.name}  {c.tab}!{column_letter(c.col)}{c.row}  ← {value}{fill}")
    return "\n".join(lines) if lines else "nothing to write: every owned cell already shows the right value"


def as_json(run, command: str) -> str:
    sources = []
    for s in run.sources:
        entry = {
            "name": s.name,
            "location": s.location,
            "ok": s.ok,
            "error": s.error,
            "counts": {
                "objectives": len(s.evaluation.objectives),
                "key_results": len(s.evaluation.key_results),
                "kpis": len(s.evaluation.kpis),
                "status": {k: v for k, v in s.status_counts().items() if v},
                "errors": s.errors,
                "warnings": s.warnings,
            },
            "findings": [f.as_dict() for f in s.findings],
            "objectives": [{"row": o.first_row, "objective": o.text, "team": o.team, "score": o.score,
                            "status": o.status.text} for o in s.evaluation.objectives],
            "key_results": [{"row": k.row, "key_result": k.text, "owner": k.owner, "score": k.score,
                             "status": k.status.text} for k in s.evaluation.key_results],
            "kpis": [{"row": k.row, "kpi": k.name, "team": k.team, "status": k.status.text, "trend": k.trend}
                     for k in s.evaluation.kpis],
        }
        entry["timings_s"] = s.timings
        if command == "run":
            entry["unchanged"] = s.unchanged  # not read: it showed what okrsync last saw
            entry["synced_by"] = s.held_by  # another process's (a shared store's lease), or not due yet
            entry["cells_to_write"] = len(s.changes)
            entry["cells_written"] = s.written
            entry["backup"] = s.backup
        sources.append(entry)
    payload = {"command": command, "today": run.today.isoformat(), "sources": sources}
    if command == "run":
        payload["run_id"] = run.run_id
        payload["digests"] = run.digests
        payload["digest_errors"] = run.digest_errors
        payload["digest_findings"] = [f.as_dict() for f in run.digest_findings]
    return json.dumps(payload, indent=2, ensure_ascii=False)


def rules_text(ruleset) -> str:
    """The effective rules after merging every rule file, with severity and parameters."""
    from okrsync.ruleset import BUILTIN_RULES

    files = ", ".join(str(f) for f in ruleset.files) or "(built-in defaults)"
    lines = [f"rules from: {files}",
             f"scoring bands: green {ruleset.green}, yellow {ruleset.yellow}; committed objectives: green "
             f"{ruleset.committed_green}, yellow {ruleset.committed_yellow}; a blank commitment is "
             f"{ruleset.default_commitment}; KPI tolerance {ruleset.kpi_tolerance}", ""]
    width = max(len(r) for r in [*BUILTIN_RULES, *ruleset.custom])
    for rule_id in BUILTIN_RULES:
        setting = ruleset.get(rule_id)
        params = ", ".join(f"{k}={v}" for k, v in setting.params.items())
        lines.append(f"{rule_id:<{width}}  {setting.severity:<8}  {params}")
    for rule in ruleset.custom.values():
        where = " where " + ", ".join(f"{k} in {v}" for k, v in rule.where.items()) if rule.where else ""
        lines.append(f"{rule.id:<{width}}  {rule.severity:<8}  custom: {rule.table}.{rule.column} {rule.check}({rule.args!r}){where}")
    lines.append("")
    lines.append("okrsync rules --explain ID says what a rule checks and why it matters.")
    return "\n".join(lines)


def rules_json(ruleset) -> str:
    from okrsync.ruleset import BUILTIN_RULES

    return json.dumps({
        "files": [str(f) for f in ruleset.files],
        "scoring": {"bands": {"green": ruleset.green, "yellow": ruleset.yellow},
                    "committed": {"green": ruleset.committed_green, "yellow": ruleset.committed_yellow},
                    "default_commitment": ruleset.default_commitment},
        "kpi": {"tolerance": ruleset.kpi_tolerance},
        "rules": [{"id": rid, "severity": ruleset.get(rid).severity, "params": ruleset.get(rid).params,
                   "checks": spec.checks} for rid, spec in BUILTIN_RULES.items()],
        "custom": [{"id": r.id, "table": r.table, "column": r.column, "check": {r.check: r.args},
                    "where": r.where, "severity": r.severity, "message": r.message} for r in ruleset.custom.values()],
    }, indent=2, ensure_ascii=False)


def explain_text(ruleset, rule_id: str) -> str:
    from okrsync.errors import ConfigError
    from okrsync.ruleset import BUILTIN_RULES, suggest

    if rule_id in ruleset.custom:
        rule = ruleset.custom[rule_id]
        where = "; only rows where " + ", ".join(f"{k} is {' or '.join(v)}" for k, v in rule.where.items()) if rule.where else ""
        return (f"{rule.id} (custom rule from {rule.origin}), severity {rule.severity}\n\n"
                f"Checks the {rule.column} column of the {rule.table.upper()} table with Pandera's "
                f"{rule.check}({rule.args!r}){where}.\nMessage: {rule.message}")
    if rule_id not in BUILTIN_RULES:
        raise ConfigError(f"There is no rule {rule_id!r}" + suggest(rule_id, [*BUILTIN_RULES, *ruleset.custom])
                          + "; `okrsync rules` lists them.")
    spec, setting = BUILTIN_RULES[rule_id], ruleset.get(rule_id)
    params = ", ".join(f"{k}: {v}" for k, v in setting.params.items()) or "none"
    return (f"{rule_id}: severity {setting.severity} (default {spec.severity}); parameters: {params}\n\n"
            f"Checks: {spec.checks}.\n\nWhy it matters: {spec.why}")
