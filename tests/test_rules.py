"""Each built-in rule: a sheet that passes and one that fails, with the exact cells and messages."""

import datetime as dt

import pytest

from okrsync.config import SourceConfig
from okrsync.errors import RulesError
from okrsync.resources import default_rules
from okrsync.ruleset import load_rules
from okrsync.sources.excel import ExcelSource
from okrsync.table import ReadContext, read_table
from okrsync.validate import validate
from tests.conftest import Formula, build_xlsx

CTX = ReadContext(dt.date(2026, 11, 16), "2026-Q4", 1)
H = ["Objective", "Key result", "Owner", "Type", "Direction", "Start", "Target", "Current", "Weight",
     "Confidence", "Due", "Cycle", "Team"]


def okr(o="O", kr="kr", owner="Ada", type_="number", direction=None, start=0, target=10, current=5,
        weight=None, confidence=None, due=None, cycle=None, team=None):
    return [o, kr, owner, type_, direction, start, target, current, weight, confidence, due, cycle, team]


def three(**kw):
    """An objective with three clean key results, the first one changed by ``kw``."""
    return [okr(**kw), okr(o=None, kr="kr2"), okr(o=None, kr="kr3")]


def findings(tmp_path, rows, kind="okr", rules_text=None):
    tab = "OKRs" if kind == "okr" else "KPIs"
    header = H if kind == "okr" else KPI_H
    path = build_xlsx(tmp_path / "r.xlsx", {tab: [header, *rows]})
    files = [default_rules()]
    if rules_text:
        (tmp_path / "extra.yaml").write_text(rules_text)
        files.append(tmp_path / "extra.yaml")
    cfg = SourceConfig(name="src", excel=path)
    table = read_table(ExcelSource(cfg).read([tab])[tab], kind, cfg, CTX)
    return [(f.rule, f.severity.value, f.cell, f.message) for f in validate(table, load_rules(files))]


def test_a_clean_sheet_has_no_findings(tmp_path):
    assert findings(tmp_path, three()) == []


@pytest.mark.parametrize("kw, expected", [
    (dict(owner=None), [("owner-present", "error", "C2", 'Key result "kr" has no owner')]),
    (dict(target="ten"), [("kr-measurable", "error", "G2", 'Target "ten" is not a number')]),
    (dict(start=None), [("kr-measurable", "error", "F2", "Start is blank")]),
    (dict(current=Formula("=1/0", "#DIV/0!")),
     [("kr-measurable", "error", "H2", "Current shows the spreadsheet error #DIV/0!")]),
    (dict(start=10, target=10), [("kr-measurable", "error", "G2", "Target 10 equals Start 10, so progress cannot be measured")]),
    (dict(type_="velocity"), [("kr-measurable", "error", "D2", 'Type "velocity" is not one of number, percent, currency, milestone')]),
    (dict(type_="milestone", start=None, target=None, current="maybe"),
     [("kr-measurable", "error", "H2", 'Current "maybe" is not a done / not-done value')]),
    (dict(direction="increase", start=10, target=5, current=7),
     [("kr-direction", "error", "E2", "Direction is increase but Target 5 lies below Start 10")]),
    (dict(direction="sideways"),
     [("kr-direction", "error", "E2", 'Direction "sideways" is not one of increase, decrease, at least, at most')]),
    (dict(cycle="Q5 2026"), [("time-bound", "error", "L2", 'Cycle cannot be resolved: "Q5 2026" names Q5, which does not exist')]),
    (dict(cycle="2026-01-01..2027-06-30"),
     [("time-bound", "error", "L2", 'Cycle "2026-01-01..2027-06-30" spans 546 days; keep cycles to at most 366')]),
    (dict(due="soon"), [("time-bound", "error", "K2", 'Due "soon" is not a date')]),
    (dict(due=dt.date(2027, 2, 1)),
     [("time-bound", "error", "K2", "Due 2027-02-01 lies outside the cycle 2026-Q4 (2026-10-01..2026-12-31)")]),
    (dict(weight=0), [("values-in-range", "error", "I2", "Weight 0 must be greater than 0")]),
    (dict(weight="heavy"), [("values-in-range", "error", "I2", 'Weight "heavy" is not a number')]),
    (dict(confidence=150), [("values-in-range", "error", "J2", "Confidence 150 is outside 0–10 (or 0–100 %)")]),
    (dict(type_="percent", start="0%", target="5000%", current="10%"),
     [("values-in-range", "error", "G2", "Target 5000% is not a plausible percentage (over 1000 %)")]),
])
def test_key_result_rules(tmp_path, kw, expected):
    assert findings(tmp_path, three(**kw)) == expected


@pytest.mark.parametrize("kw", [dict(direction="at least", start=None), dict(type_="milestone", start=None, target=None, current="done"),
                                dict(confidence="70%"), dict(confidence=0.7), dict(weight=2), dict(due=dt.date(2026, 12, 1)),
                                dict(cycle="Q4 2026"), dict(direction="decrease", start=10, target=5)])
def test_key_result_rules_pass(tmp_path, kw):
    assert findings(tmp_path, three(**kw)) == []


def test_krs_per_objective(tmp_path):
    rows = [okr(), okr(o=None, kr="kr2")]
    assert findings(tmp_path, rows) == [("krs-per-objective", "warning", "A2", 'Objective "O" has 2 key results; aim for 3–5')]
    six = [okr()] + [okr(o=None, kr=f"k{i}") for i in range(5)]
    assert findings(tmp_path, six)[0][3] == 'Objective "O" has 6 key results; aim for 3–5'
    assert findings(tmp_path, rows, rules_text="rules:\n  krs-per-objective: {min: 2}\n") == []
    assert findings(tmp_path, rows, rules_text="rules:\n  krs-per-objective: off\n") == []
    assert findings(tmp_path, rows, rules_text="rules:\n  krs-per-objective: {severity: error}\n")[0][1] == "error"


def test_objectives_per_team(tmp_path):
    rows = [r for i in range(6) for r in three(o=f"Objective {i}", team="Sales")]
    assert findings(tmp_path, rows) == [("objectives-per-team", "warning", "A17",
                                         'Team Sales has more than 5 objectives in 2026-Q4; "Objective 5" is number 6')]
    assert findings(tmp_path, rows[:15]) == []
    assert findings(tmp_path, rows, rules_text="rules:\n  objectives-per-team: {max: 6}\n") == []


def test_owner_inherits_the_objective_owner(tmp_path):
    header = ["Objective", "Objective owner", "Key result", "Owner", "Start", "Target", "Current"]
    rows = [header, ["O", "Ada", "a", None, 0, 1, 0], [None, None, "b", "Bo", 0, 1, 0], [None, None, "c", None, 0, 1, 0],
            ["P", None, "d", None, 0, 1, 0], [None, None, "e", "Cy", 0, 1, 0], [None, None, "f", "Cy", 0, 1, 0]]
    path = build_xlsx(tmp_path / "o.xlsx", {"OKRs": rows})
    cfg = SourceConfig(name="src", excel=path)
    table = read_table(ExcelSource(cfg).read(["OKRs"])["OKRs"], "okr", cfg, CTX)
    got = [(f.rule, f.cell, f.message) for f in validate(table, load_rules([default_rules()]))]
    assert got == [("owner-present", "B5", 'Objective "P" has no owner'),
                   ("owner-present", "D5", 'Key result "d" has no owner')]


KPI_H = ["KPI", "Team", "Owner", "Direction", "Target", "Threshold", "Current"]


def kpi(name="k", team="T", owner="Ada", direction="higher", target=100, threshold=None, current=95):
    return [name, team, owner, direction, target, threshold, current]


@pytest.mark.parametrize("kw, expected", [
    (dict(owner=None), [("owner-present", "error", "C2", 'KPI "k" has no owner')]),
    (dict(current="n/a"), [("kpi-measurable", "error", "G2", 'Current "n/a" is not a number')]),
    (dict(target=None), [("kpi-measurable", "error", "E2", "Target is blank")]),
    (dict(direction="sideways"), [("kpi-measurable", "error", "D2", 'Direction "sideways" is not one of higher, lower, range')]),
    (dict(threshold="red"), [("kpi-measurable", "error", "F2", 'Threshold "red" is not a number')]),
    (dict(threshold=120), [("kpi-threshold", "error", "F2",
                            "Threshold 120 lies above Target 100; for a higher-is-better KPI it must lie on the lower side")]),
    (dict(direction="lower", threshold=80), [("kpi-threshold", "error", "F2",
                                              "Threshold 80 lies below Target 100; for a lower-is-better KPI it must lie on the higher side")]),
])
def test_kpi_rules(tmp_path, kw, expected):
    assert findings(tmp_path, [kpi(**kw)], kind="kpi") == expected
    assert findings(tmp_path, [kpi()], kind="kpi") == []


def test_kpis_per_team(tmp_path):
    nine = [kpi(name=f"k{i}") for i in range(9)]
    assert findings(tmp_path, nine, kind="kpi") == [
        ("kpis-per-team", "warning", "A10", 'Team T tracks more than 8 KPIs; "k8" is number 9')]
    thirteen = [kpi(name=f"k{i}") for i in range(13)]
    assert findings(tmp_path, thirteen, kind="kpi") == [
        ("kpis-per-team", "error", "A14", 'Team T tracks more than 12 KPIs; "k12" is number 13')]
    assert findings(tmp_path, nine[:8], kind="kpi") == []
    assert findings(tmp_path, nine, kind="kpi", rules_text="rules:\n  kpis-per-team: {warn: 10}\n") == []


def test_a_typo_in_a_rule_id_fails_loudly_with_file_and_line(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("rules:\n  owner-present: error\n  krs-per-objectve:\n    max: 4\n")
    with pytest.raises(RulesError, match=r"typo.yaml, line 3: `rules.krs-per-objectve` is not a known rule id \(did you mean `krs-per-objective`\?\)"):
        load_rules([default_rules(), bad])


def test_a_typo_in_a_parameter_fails_loudly(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("rules:\n  krs-per-objective:\n    mx: 5\n")
    with pytest.raises(RulesError, match=r"line 3: `rules.krs-per-objective.mx` is not a parameter of krs-per-objective .*did you mean `max`"):
        load_rules([bad])


@pytest.mark.parametrize("text, message", [
    ("rules:\n  kr-measurable: {severity: fatal}\n", "must be one of error, warning, info, off"),
    ("rules:\n  krs-per-objective: {min: three}\n", "must be a whole number"),
    ("scoring:\n  bands: {green: 1.5}\n", "must lie between 0 and 1"),
    ("rulez: {}\n", "is not a known key"),
    ("rules: [a, b]\n", "must be a mapping"),
])
def test_wrong_types_and_keys_are_errors(tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(RulesError, match=message):
        load_rules([bad])


def test_later_rule_files_override_earlier_ones_key_by_key(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("rules:\n  krs-per-objective: {min: 2, max: 4}\n")
    b.write_text("rules:\n  krs-per-objective: {max: 6}\nscoring:\n  bands: {green: 0.8}\n")
    rs = load_rules([default_rules(), a, b])
    assert rs.get("krs-per-objective").params == {"min": 2, "max": 6}
    assert (rs.green, rs.yellow) == (0.8, 0.4)


def test_the_shipped_strict_example_loads_and_tightens(tmp_path):
    from pathlib import Path

    strict = Path(__file__).resolve().parents[1] / "rules" / "examples" / "strict.yaml"
    rs = load_rules([default_rules(), strict])
    assert rs.get("objectives-per-team").params["max"] == 3 and rs.get("krs-per-objective").severity == "error"
    assert (rs.green, rs.yellow) == (0.8, 0.5)
