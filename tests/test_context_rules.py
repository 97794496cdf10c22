"""The rules that look beyond one row: across sources, at the history, and custom rules."""

import datetime as dt
import json
import re

import pytest

from okrsync.errors import RulesError
from okrsync.ruleset import load_rules
from tests.conftest import build_xlsx, okrsync

OKR = ["Objective ID", "Objective", "Level", "Parent", "Team", "Key result", "Owner", "Direction", "Start", "Target", "Current"]
KPI = ["KPI", "Team", "Owner", "Perspective", "Target", "Current", "As of", "Frequency", "Objective"]


def objective(ident, text, level, parent, team, n=3, **kr):
    rows = []
    for i in range(n):
        values = dict(key=f"{text} kr{i}", owner="Ada", direction="increase", start=0, target=10, current=5)
        values.update(kr if i == 0 else {})
        rows.append([ident if i == 0 else None, text if i == 0 else None, level if i == 0 else None,
                     parent if i == 0 else None, team if i == 0 else None, values["key"], values["owner"],
                     values["direction"], values["start"], values["target"], values["current"]])
    return rows


def setup(tmp_path, sources: dict[str, dict[str, list]], rules: str = "", today="2026-11-16"):
    config = ['timezone = "UTC"', 'cycle = "2026-Q4"', 'state = "okrsync.db"']
    if rules:
        (tmp_path / "team.yaml").write_text(rules)
        config.append(f'rules = ["{tmp_path / "team.yaml"}"]')
    for name, sheets in sources.items():
        tabs = {tab: [OKR if tab == "OKRs" else KPI, *rows] for tab, rows in sheets.items()}
        build_xlsx(tmp_path / f"{name}.xlsx", tabs)
        config += ["[[sources]]", f'name = "{name}"', f'excel = "{name}.xlsx"']
    path = tmp_path / "okrsync.toml"
    path.write_text("\n".join(config) + "\n")
    return path


def found(config, rule=None, today="2026-11-16", command="validate"):
    result = okrsync(command, "-c", config, "--json", "--today", today)
    assert result.exit_code in (0, 1), result.stderr
    data = json.loads(result.stdout)
    out = [(s["name"], f["cell"], f["severity"], f["message"]) for s in data["sources"] for f in s["findings"]]
    return [f for f, s in zip(out, [f for s in data["sources"] for f in s["findings"]]) if rule is None or s["rule"] == rule]


def test_aligned_looks_across_sources(tmp_path):
    company = {"OKRs": objective("C1", "Grow revenue", "company", None, "Exec")}
    team = {"OKRs": objective("S1", "Win enterprise", "team", "C1", "Sales")             # parent by id
            + objective("S2", "Open stores", "team", "grow REVENUE", "Sales")           # parent by text
            + objective("S3", "Hire fast", "team", "Nonexistent goal", "Sales")
            + objective("S4", "Train staff", "team", None, "Sales")}
    config = setup(tmp_path, {"company": company, "sales": team})
    assert found(config, "aligned") == [
        ("sales", "D8", "warning", 'Parent "Nonexistent goal" of objective "Hire fast" names no objective in any source'),
        ("sales", "D11", "warning", 'Objective "Train staff" (team level) has no parent objective'),
    ]
    # with --source, the other sources still count as parents
    result = okrsync("validate", "-c", config, "--source", "sales", "--json", "--today", "2026-11-16")
    assert sum(f["rule"] == "aligned" for f in json.loads(result.stdout)["sources"][0]["findings"]) == 2
    config = setup(tmp_path, {"company": company, "sales": team}, rules="rules:\n  aligned: off\n")
    assert found(config, "aligned") == []


def test_unique(tmp_path):
    rows = objective("A", "Delight", "team", None, "Support") + [[None] * 5 + ["delight KR0 ", "Bo", "increase", 0, 10, 5]]
    kpis = [["NPS", "Support", "Ada", "customer", 40, 42, None, None, "Delight"],
            ["nps", "Support", "Bo", "customer", 40, 42, None, None, "Delight"],
            ["NPS", "Sales", "Cy", "customer", 40, 42, None, None, "Delight"]]
    config = setup(tmp_path, {"t": {"OKRs": rows, "KPIs": kpis}})
    assert found(config, "unique") == [
        ("t", "F5", "warning", 'Key result "delight KR0" appears twice in objective "Delight" (first at OKRs!F2)'),
        ("t", "A3", "warning", 'KPI "nps" appears twice in team Support'),
    ]


def test_stale_from_the_history(tmp_path):
    rows = objective("A", "Delight", "company", None, "Support") + objective("B", "Grow", "company", None, "Support", current=10)
    config = setup(tmp_path, {"t": {"OKRs": rows}})
    assert okrsync("run", "-c", config, "--today", "2026-10-01").exit_code == 0
    assert found(config, "stale", today="2026-10-15") == []  # 14 days: not yet
    stale = found(config, "stale", today="2026-10-20")
    assert ("t", "K2", "warning", "Current 5 has not changed since 2026-10-01 (19 days)") in stale
    assert not any(cell == "K5" for _, cell, _, _ in stale)  # at its target: nothing to update
    assert len(stale) == 5
    assert found(config, "stale", today="2027-01-20") == []  # 2026-Q4 has ended: its values are final
    relaxed = setup(tmp_path, {"t": {"OKRs": rows}}, rules="rules:\n  stale: {days: 30}\n")
    assert found(relaxed, "stale", today="2026-10-20") == []


def test_stale_restarts_when_the_value_changes(tmp_path):
    rows = objective("A", "Delight", "company", None, "Support")
    config = setup(tmp_path, {"t": {"OKRs": rows}})
    okrsync("run", "-c", config, "--today", "2026-10-01")
    rows[0][10] = 6
    build_xlsx(tmp_path / "t.xlsx", {"OKRs": [OKR, *rows]})
    okrsync("run", "-c", config, "--today", "2026-10-10")
    stale = found(config, "stale", today="2026-10-20")
    assert [cell for _, cell, _, _ in stale] == ["K3", "K4"]  # K2 changed on 2026-10-10


def test_kpi_stale(tmp_path):
    today = dt.date(2026, 11, 16)
    kpis = [["Weekly fresh", "T", "A", "customer", 1, 1, today - dt.timedelta(days=10), "weekly", None],
            ["Weekly old", "T", "A", "customer", 1, 1, today - dt.timedelta(days=11), "weekly", None],
            ["Monthly", "T", "A", "customer", 1, 1, today - dt.timedelta(days=30), "monthly", None],
            ["No frequency", "T", "A", "customer", 1, 1, today - dt.timedelta(days=300), None, None]]
    config = setup(tmp_path, {"t": {"KPIs": kpis}})
    assert found(config, "kpi-stale") == [
        ("t", "G3", "warning", "As of 2026-11-05 is 11 days old; a weekly KPI needs a value every 7 days (+3 days grace)")]
    config = setup(tmp_path, {"t": {"KPIs": kpis}}, rules="rules:\n  kpi-stale: {grace_days: 5}\n")
    assert found(config, "kpi-stale") == []


def test_kpi_stale_without_as_of_uses_the_history(tmp_path):
    kpis = [["Daily", "T", "A", "customer", 1, 1, None, "daily", None]]
    config = setup(tmp_path, {"t": {"KPIs": kpis}})
    okrsync("run", "-c", config, "--today", "2026-11-10")
    assert found(config, "kpi-stale", today="2026-11-16") == [
        ("t", "G2", "warning", "Current 1, unchanged since 2026-11-10, is 6 days old; a daily KPI needs a value "
                               "every 1 days (+3 days grace)")]


def test_kpi_balanced(tmp_path):
    kpis = [["Revenue", "Sales", "A", "Financial", 1, 1, None, None, None],
            ["CSAT", "Sales", "A", "customer", 1, 1, None, None, None],
            ["Revenue", "Ops", "A", "financial", 1, 1, None, None, None],
            ["Cycle time", "Ops", "A", "Internal process", 1, 1, None, None, None],
            ["NPS", "Ops", "A", "customer", 1, 1, None, None, None],
            ["Training hours", "Ops", "A", "Learning & growth", 1, 1, None, None, None]]
    config = setup(tmp_path, {"t": {"KPIs": kpis}})
    assert found(config, "kpi-balanced") == [
        ("t", "D2", "info", "Team Sales's KPIs cover financial, customer; none is internal or learning")]


def test_kpi_linked(tmp_path):
    okrs = objective("A1", "Delight customers", "company", None, "Support")
    kpis = [["NPS", "Support", "A", "customer", 1, 1, None, None, "Delight customers"],
            ["CSAT", "Support", "A", "customer", 1, 1, None, None, "a1"],
            ["Backlog", "Support", "A", "internal", 1, 1, None, None, None],
            ["Churn", "Support", "A", "customer", 1, 1, None, None, "Retire legacy"]]
    config = setup(tmp_path, {"t": {"OKRs": okrs, "KPIs": kpis}})
    assert found(config, "kpi-linked") == [
        ("t", "I4", "info", 'KPI "Backlog" names no objective it supports'),
        ("t", "I5", "info", 'Objective "Retire legacy" of KPI "Churn" is not an objective in any source')]


def test_kpi_linked_without_an_objective_column_is_one_finding(tmp_path):
    build_xlsx(tmp_path / "t.xlsx", {"KPIs": [["KPI", "Owner", "Target", "Current"], ["a", "A", 1, 1], ["b", "A", 1, 1]]})
    (tmp_path / "okrsync.toml").write_text('[[sources]]\nname = "t"\nexcel = "t.xlsx"\n')
    assert found(tmp_path / "okrsync.toml", "kpi-linked") == [
        ("t", None, "info", "The KPIs tab has no Objective column naming the objective each KPI supports")]


def test_kr_is_kpi(tmp_path):
    okrs = (objective("A", "Keep customers", "company", None, "Support",
                      key="Keep customer retention rate above 90", direction="at least", target=90, current=92)
            + objective("B", "Other team", "company", None, "Sales",
                        key="Keep customer retention rate above 90", direction="at least", target=90, current=92))
    kpis = [["Customer retention rate", "Support", "A", "customer", 90, 92, None, None, "Keep customers"]]
    config = setup(tmp_path, {"t": {"OKRs": okrs, "KPIs": kpis}})
    assert found(config, "kr-is-kpi") == [
        ("t", "F2", "info", 'Key result "Keep customer retention rate above 90" restates the KPI '
                            '"Customer retention rate" of team Support')]
    assert found(setup(tmp_path, {"t": {"OKRs": okrs, "KPIs": kpis}}, rules="rules:\n  kr-is-kpi: warning\n"),
                 "kr-is-kpi")[0][2] == "warning"


CUSTOM = """custom:
  - id: sales-targets-positive
    table: okr
    where: {team: sales}
    column: target
    check: {greater_than: 0}
    severity: error
    message: "Sales targets must be positive"
  - id: owner-initials
    table: okr
    column: owner
    check: {str_length: {min_value: 3}}
    severity: info
    message: "Write the owner's name"
"""


def test_custom_rules(tmp_path):
    okrs = (objective("A", "Grow", "company", None, "Sales", target=-5, start=-10)
            + objective("B", "Ops", "company", None, "Ops", target=-5, start=-10, owner="Al"))
    config = setup(tmp_path, {"t": {"OKRs": okrs}}, rules=CUSTOM)
    assert found(config, "sales-targets-positive") == [
        ("t", "J2", "error", 'Sales targets must be positive (Target is "-5")')]
    assert found(config, "owner-initials") == [("t", "G5", "info", "Write the owner's name (Owner is \"Al\")")]
    assert okrsync("validate", "-c", config, "--today", "2026-11-16").exit_code == 1  # a custom error counts
    off = CUSTOM.replace("severity: error", "severity: off")
    assert found(setup(tmp_path, {"t": {"OKRs": okrs}}, rules=off), "sales-targets-positive") == []


@pytest.mark.parametrize("text, message", [
    ("custom:\n  - id: x\n    table: okr\n    column: target\n    check: {greter_than: 0}\n",
     "line 5: `custom.x.check.greter_than` is not a Pandera built-in check (did you mean `greater_than`?)"),
    ("custom:\n  - id: x\n    table: okr\n    column: targt\n    check: {gt: 0}\n", "`custom.x.column` is not a column of the okr table"),
    ("custom:\n  - id: x\n    tabel: okr\n", "`custom.tabel` is not a key of a custom rule"),
    ("custom:\n  - id: stale\n    table: okr\n    column: target\n    check: {gt: 0}\n", "is the id of a built-in rule"),
    ("custom:\n  - id: x\n    table: okr\n    column: target\n    check: {in_range: {min: 0}}\n", "has arguments Pandera refuses"),
])
def test_custom_rules_are_read_strictly(tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(RulesError, match=re.escape(message)):
        load_rules([bad])


def test_rules_command_lists_and_explains(tmp_path):
    config = setup(tmp_path, {"t": {"OKRs": objective("A", "Grow", "company", None, "Sales")}},
                   rules="rules:\n  stale: {days: 21}\n" + CUSTOM)
    listing = okrsync("rules", "-c", config)
    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    assert any(line.split() == ["stale", "warning", "days=21"] for line in lines)
    assert any(line.startswith("sales-targets-positive") and "custom: okr.target greater_than(0)" in line for line in lines)
    data = json.loads(okrsync("rules", "-c", config, "--json").stdout)
    assert {"id": "kpis-per-team", "severity": "warning", "params": {"warn": 8, "max": 12},
            "checks": "more than warn KPIs per team warns; more than max is an error"} in data["rules"]
    explain = okrsync("rules", "-c", config, "--explain", "krs-per-objective")
    assert "Why it matters" in explain.stdout and "three" in explain.stdout.lower()
    assert "Sales targets must be positive" in okrsync("rules", "-c", config, "--explain", "sales-targets-positive").stdout
    unknown = okrsync("rules", "--explain", "krs-per-objectve")
    assert unknown.exit_code == 2 and "did you mean `krs-per-objective`" in unknown.stderr


def test_the_shipped_custom_example_loads():
    from pathlib import Path

    from okrsync.resources import default_rules

    example = Path(__file__).resolve().parents[1] / "rules" / "examples" / "custom.yaml"
    rs = load_rules([default_rules(), example])
    assert set(rs.custom) == {"sales-targets-positive", "kr-type-listed", "owner-is-a-name", "confidence-scale"}
    assert all(rule.pandera_check() for rule in rs.custom.values())
