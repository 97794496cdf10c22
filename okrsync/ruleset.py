"""Rule files: okrsync's own YAML format, read strictly and merged key by key.

A typo must never silently switch a rule off, so an unknown key, an unknown rule id or a
wrong type is an error naming the file, the line and the key.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from okrsync.domain import Severity
from okrsync.errors import RulesError

SEVERITIES = ("error", "warning", "info", "off")


@dataclass(frozen=True)
class RuleSpec:
    """A built-in rule's id, default severity, parameters with defaults, and what it checks."""

    id: str
    severity: str
    params: dict[str, float | int]
    checks: str
    why: str = ""


BUILTIN_RULES = {  # in the order SPEC §4 lists them
    spec.id: spec
    for spec in [
        RuleSpec("owner-present", "error", {}, "every objective, key result and KPI has an owner",
                 "An OKR without an accountable owner is a wish: one named person keeps it moving."),
        RuleSpec("kr-measurable", "error", {},
                 "numeric key results have numeric start, target and current with target ≠ start; "
                 "milestones a recognisable done / not-done value",
                 "If you cannot measure it, you cannot tell whether you achieved it."),
        RuleSpec("kr-direction", "error", {}, "an explicit direction agrees with start → target",
                 "A key result that says 'increase' but aims lower is scored backwards."),
        RuleSpec("krs-per-objective", "warning", {"min": 3, "max": 5}, "3–5 key results per objective",
                 "Fewer than three rarely describe an objective; more than five spread effort thin."),
        RuleSpec("objectives-per-team", "warning", {"max": 5}, "at most 5 objectives per team per cycle",
                 "Focus: a team cannot move more than three to five objectives at once."),
        RuleSpec("time-bound", "error", {"max_days": 366},
                 "the cycle can be resolved, spans at most max_days, the due date lies inside it",
                 "Objectives are time-bound: without an end date there is no urgency and no grading."),
        RuleSpec("aligned", "warning", {},
                 "below company level, an objective's parent names an objective that exists in any "
                 "source (when a parent column is present)",
                 "Alignment is what turns many teams' OKRs into one direction: a parent that does not "
                 "exist is a broken link, and a team objective without one floats free."),
        RuleSpec("unique", "warning", {}, "no duplicate key result within an objective, no duplicate KPI within a team",
                 "A duplicate is counted twice in every score and hides which copy people update."),
        RuleSpec("values-in-range", "error", {}, "weight > 0, confidence within 0–10, percent values plausible",
                 "Impossible weights or confidences distort every score computed from them."),
        RuleSpec("stale", "warning", {"days": 14},
                 "a key result's current value has not changed for more than `days` (from the history); "
                 "not once its cycle or due date has ended, when its value is final",
                 "OKRs are a weekly conversation; a number nobody has touched for weeks means nobody is "
                 "watching it — the score it yields is fiction."),
        RuleSpec("kpi-measurable", "error", {},
                 "KPIs have a numeric target (a range KPI: a numeric min below its max) and current and a known direction",
                 "A KPI is a measurement: without numbers it has no health to report."),
        RuleSpec("kpi-threshold", "error", {},
                 "the threshold lies on the bad side of the target (a range KPI's, a distance, is not negative)",
                 "A red threshold on the good side of the target would never turn red."),
        RuleSpec("kpis-per-team", "warning", {"warn": 8, "max": 12},
                 "more than warn KPIs per team warns; more than max is an error",
                 "Eight to twelve KPIs per team is what people can watch; more become noise."),
        RuleSpec("kpi-stale", "warning", {"grace_days": 3},
                 "a KPI's as-of date (or, without one, its last change in the history) is older than "
                 "its frequency allows, plus `grace_days`",
                 "A KPI is a health signal: a weekly metric measured a month ago says nothing about now."),
        RuleSpec("kpi-balanced", "info", {},
                 "a team's KPIs cover the four balanced-scorecard perspectives (financial, customer, "
                 "internal, learning), when a perspective column is present",
                 "Kaplan and Norton's balanced scorecard: financial results lag; customer, internal-process "
                 "and learning measures lead them. A team watching only one view steers half blind."),
        RuleSpec("kpi-linked", "info", {}, "a KPI names the objective it supports, and that objective exists",
                 "KPIs measure the health of the work that OKRs change; the link shows which objective a "
                 "falling KPI puts at risk."),
        RuleSpec("kr-is-kpi", "info", {},
                 "a key result that merely restates a KPI of the same team (same metric, held at a level "
                 "or aimed at the KPI's own target)",
                 "Routine health belongs in KPIs, not OKRs: key results describe the change an objective "
                 "needs, not business as usual."),
    ]
}


# Pandera's built-in checks that apply to a column of values, for custom rules.
PANDERA_CHECKS = (
    "equal_to", "eq", "not_equal_to", "ne", "greater_than", "gt", "greater_than_or_equal_to", "ge",
    "less_than", "lt", "less_than_or_equal_to", "le", "in_range", "between", "isin", "notin",
    "str_matches", "str_contains", "str_startswith", "str_endswith", "str_length", "unique_values_eq",
)
CUSTOM_KEYS = ("id", "table", "where", "column", "check", "severity", "message")


@dataclass
class CustomRule:
    """A rule from a rule file's `custom:` list: a Pandera built-in check on one column."""

    id: str
    table: str  # okr | kpi
    column: str
    check: str
    args: object
    severity: str
    message: str
    where: dict[str, list[str]] = field(default_factory=dict)
    origin: str = ""  # file and line, for messages

    def pandera_check(self):
        """The Pandera check this rule stands for."""
        import pandera.pandas as pa

        build = getattr(pa.Check, self.check)
        if isinstance(self.args, dict):
            return build(**self.args, name=self.id)
        if isinstance(self.args, list) and self.check not in ("isin", "notin", "unique_values_eq"):
            return build(*self.args, name=self.id)
        return build(self.args, name=self.id)


@dataclass
class RuleSetting:
    severity: str
    params: dict[str, float | int]

    @property
    def enabled(self) -> bool:
        return self.severity != "off"

    @property
    def level(self) -> Severity:
        return Severity(self.severity)


@dataclass
class RuleSet:
    rules: dict[str, RuleSetting]
    custom: dict[str, CustomRule] = field(default_factory=dict)
    green: float = 0.7
    yellow: float = 0.4
    committed_green: float = 1.0  # a committed objective is expected to be delivered in full
    committed_yellow: float = 0.7
    default_commitment: str = "aspirational"
    kpi_tolerance: float = 0.10
    files: list[Path] = field(default_factory=list)

    def get(self, rule_id: str) -> RuleSetting:
        return self.rules[rule_id]


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, node: yaml.Node, key: str, problem: str) -> RulesError:
        return RulesError(f"{self.path}, line {node.start_mark.line + 1}: `{key}` {problem}.")

    def mapping(self, node: yaml.Node, key: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "must be a mapping of keys to values")
        out, seen = [], set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            if name in seen:
                raise self.fail(key_node, f"{key}.{name}" if key else name, "appears twice")
            seen.add(name)
            out.append((name, key_node, value_node))
        return out

    def number(self, node: yaml.Node, key: str, whole: bool = False) -> float | int:
        value = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
            raise self.fail(node, key, f"must be {'a whole number' if whole else 'a number'}, not {node.value!r}")
        return value


def load_rules(paths: list[Path]) -> RuleSet:
    settings = {rid: RuleSetting(spec.severity, dict(spec.params)) for rid, spec in BUILTIN_RULES.items()}
    ruleset = RuleSet(settings, files=list(paths))
    for path in paths:
        _merge(ruleset, Path(path))
    if not ruleset.yellow <= ruleset.green:
        raise RulesError(f"scoring.bands: yellow ({ruleset.yellow}) must not exceed green ({ruleset.green}).")
    if not ruleset.committed_yellow <= ruleset.committed_green:
        raise RulesError(f"scoring.committed: yellow ({ruleset.committed_yellow}) must not exceed green "
                         f"({ruleset.committed_green}).")
    return ruleset


def bands(ruleset: RuleSet, committed: bool) -> tuple[float, float]:
    """(green, yellow) for an objective's key results: committed ones have their own."""
    return (ruleset.committed_green, ruleset.committed_yellow) if committed else (ruleset.green, ruleset.yellow)


def _merge(ruleset: RuleSet, path: Path) -> None:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise RulesError(f"Cannot read rule file {path}: {exc.strerror}.") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise RulesError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}).") from None
    if root is None:
        return
    r = _Reader(path)
    for name, key_node, value in r.mapping(root, ""):
        if name == "scoring":
            for sub, sub_key, sub_value in r.mapping(value, "scoring"):
                if sub == "default_commitment":
                    choice = str(sub_value.value) if isinstance(sub_value, yaml.ScalarNode) else ""
                    if choice not in ("committed", "aspirational"):
                        raise r.fail(sub_value, "scoring.default_commitment", "must be committed or aspirational")
                    ruleset.default_commitment = choice
                    continue
                if sub not in ("bands", "committed"):
                    raise r.fail(sub_key, f"scoring.{sub}", "is not a known key (known: bands, committed, "
                                                           "default_commitment)")
                for band, band_key, band_value in r.mapping(sub_value, f"scoring.{sub}"):
                    if band not in ("green", "yellow"):
                        raise r.fail(band_key, f"scoring.{sub}.{band}", "is not a band (green, yellow)")
                    number = r.number(band_value, f"scoring.{sub}.{band}")
                    if not 0 <= number <= 1:
                        raise r.fail(band_value, f"scoring.{sub}.{band}", "must lie between 0 and 1")
                    setattr(ruleset, band if sub == "bands" else f"committed_{band}", float(number))
        elif name == "kpi":
            for sub, sub_key, sub_value in r.mapping(value, "kpi"):
                if sub != "tolerance":
                    raise r.fail(sub_key, f"kpi.{sub}", "is not a known key (known: tolerance)")
                number = r.number(sub_value, "kpi.tolerance")
                if not 0 <= number <= 1:
                    raise r.fail(sub_value, "kpi.tolerance", "must lie between 0 and 1 (0.1 = 10 %)")
                ruleset.kpi_tolerance = float(number)
        elif name == "custom":
            if not isinstance(value, yaml.SequenceNode):
                raise r.fail(value, "custom", "must be a list of rules (each starting with `- id:`)")
            for item in value.value:
                rule = _custom_rule(r, item)
                ruleset.custom[rule.id] = rule  # a later file's rule of the same id replaces it
        elif name == "rules":
            for rule_id, rule_key, rule_value in r.mapping(value, "rules"):
                if rule_id not in BUILTIN_RULES:
                    raise r.fail(rule_key, f"rules.{rule_id}", "is not a known rule id" + suggest(rule_id, BUILTIN_RULES))
                _merge_rule(r, ruleset.rules[rule_id], BUILTIN_RULES[rule_id], rule_value, rule_id)
        else:
            raise r.fail(key_node, name, "is not a known key (known: scoring, kpi, rules, custom)"
                         + suggest(name, ("scoring", "kpi", "rules", "custom")))


def _merge_rule(r: _Reader, setting: RuleSetting, spec: RuleSpec, node: yaml.Node, rule_id: str) -> None:
    if isinstance(node, yaml.ScalarNode):  # shorthand: `owner-present: warning`
        entries = [("severity", node, node)]
    else:
        entries = r.mapping(node, f"rules.{rule_id}")
    for key, key_node, value in entries:
        full = f"rules.{rule_id}.{key}"
        if key == "severity":
            if not isinstance(value, yaml.ScalarNode) or str(value.value) not in SEVERITIES:
                raise r.fail(value, full, f"must be one of {', '.join(SEVERITIES)}, not {value.value!r}")
            setting.severity = str(value.value)
        elif key in spec.params:
            number = r.number(value, full, whole=isinstance(spec.params[key], int))
            if number < 0:
                raise r.fail(value, full, "must not be negative")
            setting.params[key] = number
        else:
            known = ", ".join(["severity", *spec.params])
            raise r.fail(key_node, full, f"is not a parameter of {rule_id} (known: {known})" + suggest(key, ["severity", *spec.params]))


def _custom_rule(r: _Reader, node: yaml.Node) -> CustomRule:
    from okrsync.layout import KPI_FIELDS, OKR_FIELDS

    entries = {key: (key_node, value) for key, key_node, value in r.mapping(node, "custom[]")}
    for key, (key_node, _) in entries.items():
        if key not in CUSTOM_KEYS:
            raise r.fail(key_node, f"custom.{key}", f"is not a key of a custom rule (known: {', '.join(CUSTOM_KEYS)})"
                         + suggest(key, CUSTOM_KEYS))
    scalar = lambda key: yaml.safe_load(yaml.serialize(entries[key][1]))  # noqa: E731
    for required in ("id", "table", "column", "check"):
        if required not in entries:
            raise r.fail(node, f"custom.{required}", "is missing from a custom rule")
    rule_id = str(scalar("id"))
    where = f"custom.{rule_id}"
    if rule_id in BUILTIN_RULES:
        raise r.fail(entries["id"][1], f"{where}.id", "is the id of a built-in rule; choose another")
    table = scalar("table")
    if table not in ("okr", "kpi"):
        raise r.fail(entries["table"][1], f"{where}.table", f'must be "okr" or "kpi", not {table!r}')
    fields = OKR_FIELDS if table == "okr" else KPI_FIELDS
    column = scalar("column")
    if column not in fields:
        raise r.fail(entries["column"][1], f"{where}.column", f"is not a column of the {table} table"
                     + suggest(str(column), fields))
    check_node = entries["check"][1]
    check = scalar("check")
    if not isinstance(check, dict) or len(check) != 1:
        raise r.fail(check_node, f"{where}.check", "must name one Pandera check, e.g. {greater_than: 0}")
    (check_name, args), = check.items()
    if check_name not in PANDERA_CHECKS:
        raise r.fail(check_node, f"{where}.check.{check_name}", "is not a Pandera built-in check"
                     + suggest(str(check_name), PANDERA_CHECKS))
    # the raw text: YAML 1.1 would read a bare `off` as false
    severity = str(entries["severity"][1].value) if "severity" in entries else "error"
    if severity not in SEVERITIES:
        raise r.fail(entries["severity"][1], f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    filters = scalar("where") if "where" in entries else {}
    if not isinstance(filters, dict):
        raise r.fail(entries["where"][1], f"{where}.where", "must map columns to values, e.g. {team: Sales}")
    for key in filters:
        if key not in fields:
            raise r.fail(entries["where"][1], f"{where}.where.{key}", f"is not a column of the {table} table"
                         + suggest(str(key), fields))
    rule = CustomRule(
        id=rule_id, table=table, column=column, check=check_name, args=args, severity=severity,
        message=str(scalar("message")) if "message" in entries else f"fails {check_name}",
        where={k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in filters.items()},
        origin=f"{r.path}, line {node.start_mark.line + 1}",
    )
    try:
        rule.pandera_check()
    except Exception as exc:  # Pandera says what is wrong with the arguments
        raise r.fail(check_node, f"{where}.check.{check_name}", f"has arguments Pandera refuses ({exc})") from None
    return rule
