"""The sheet layout's vocabulary (SPEC §2): canonical columns, their header aliases, the
drop-down choices, the key headers that mark a table and the columns okrsync owns.

The reader (table.py), the starter workbooks (sheet_templates/generate.py) and
``okrsync init --google`` all draw on this one module, so they cannot drift apart.
"""

from __future__ import annotations

from okrsync.values import normalise

OKR_FIELDS = (
    "cycle", "team", "level", "objective_id", "objective", "objective_owner", "parent", "commitment",
    "key_result", "owner", "type", "direction", "start", "target", "current", "weight",
    "confidence", "due",
)
KPI_FIELDS = (
    "kpi", "team", "owner", "perspective", "unit", "direction", "target", "min", "max", "threshold",
    "current", "as_of", "frequency", "objective",
)

_OWNER = ["owner", "kr owner", "responsible", "dri"]
# The first alias of each column is the header the templates write.
OKR_ALIASES = {
    "cycle": ["cycle", "quarter", "period"],
    "team": ["team", "department", "group"],
    "level": ["level"],
    "objective_id": ["objective id", "id", "obj id"],
    "objective": ["objective", "objectives", "o"],
    "objective_owner": ["objective owner"],
    "parent": ["parent", "aligned to", "parent objective", "supports"],
    "commitment": ["commitment", "kind", "okr type", "committed/aspirational"],
    "key_result": ["key result", "key results", "kr", "krs"],
    "owner": _OWNER,
    "type": ["type", "kr type", "metric type"],
    "direction": ["direction"],
    "start": ["start", "baseline", "initial", "from"],
    "target": ["target", "goal", "to"],
    "current": ["current", "actual", "value"],
    "weight": ["weight"],
    "confidence": ["confidence"],
    "due": ["due", "due date", "deadline"],
}
KPI_ALIASES = {
    "kpi": ["kpi", "metric", "indicator", "measure"],
    "team": ["team", "department", "group"],
    "owner": _OWNER,
    "perspective": ["perspective"],
    "unit": ["unit"],
    "direction": ["direction", "polarity"],
    "target": ["target", "goal"],
    "min": ["min", "target min", "lower bound"],  # a range KPI's band
    "max": ["max", "target max", "upper bound"],
    "threshold": ["threshold", "red at", "red threshold"],
    "current": ["current", "actual", "value", "latest"],
    "as_of": ["as of", "date", "updated"],
    "frequency": ["frequency"],
    "objective": ["objective", "linked objective", "supports"],
}
# The drop-downs templates offer, by table and canonical column.
CHOICES = {
    ("okr", "type"): ["number", "percent", "currency", "milestone"],
    ("okr", "direction"): ["increase", "decrease", "at least", "at most"],
    ("okr", "commitment"): ["committed", "aspirational"],
    ("kpi", "direction"): ["higher", "lower", "range"],
    ("kpi", "perspective"): ["financial", "customer", "internal", "learning"],
    ("kpi", "frequency"): ["daily", "weekly", "monthly", "quarterly"],
}
# The columns of a new OKRs / KPIs tab (starter workbook, demo, init --google), in order.
TEMPLATE_COLUMNS = {
    "okr": ("cycle", "team", "objective", "objective_owner", "commitment", "key_result", "owner", "type", "direction",
            "start", "target", "current", "confidence", "due"),
    "kpi": ("kpi", "team", "owner", "perspective", "unit", "direction", "target", "min", "max", "threshold",
            "current", "as_of", "frequency", "objective"),
}
KEY_HEADERS = {"okr": ("objective", "key_result"), "kpi": ("kpi",)}
OWNED_DEFAULTS = {
    "score": "Score",
    "status": "Status",
    "objective_score": "Objective score",
    "trend": "Trend",
    "check": "Check",
}
OWNED = {"okr": ("score", "status", "objective_score", "check"), "kpi": ("status", "trend", "check")}


def fields(kind: str) -> tuple[str, ...]:
    return OKR_FIELDS if kind == "okr" else KPI_FIELDS


def aliases(kind: str) -> dict[str, list[str]]:
    return OKR_ALIASES if kind == "okr" else KPI_ALIASES


def header_text(kind: str, name: str) -> str:
    """The header a template writes for a canonical column: 'key result' → 'Key result'."""
    text = aliases(kind)[name][0]
    return "KPI" if text == "kpi" else text[0].upper() + text[1:]


def template_headers(kind: str) -> list[str]:
    return [header_text(kind, name) for name in TEMPLATE_COLUMNS[kind]]


def header_map(kind: str, columns: dict[str, str]) -> dict[str, str]:
    """Normalised header text → canonical column; ``columns`` ([sources.columns]) replaces a
    column's default aliases with the header that sheet uses."""
    mapping = {normalise(alias): name for name, names in aliases(kind).items() for alias in names}
    for name, header in columns.items():
        if name in fields(kind):
            for key in [k for k, v in mapping.items() if v == name]:
                del mapping[key]
            mapping[normalise(header)] = name
    return mapping


def choices_by_column(kind: str, headers: list[str]) -> list[tuple[int, list[str]]]:
    """(0-based column, choices) of the drop-downs for a row of headers."""
    canonical = header_map(kind, {})
    named = [(i, canonical.get(normalise(h))) for i, h in enumerate(headers)]
    return [(i, CHOICES[(kind, name)]) for i, name in named if (kind, name) in CHOICES]
