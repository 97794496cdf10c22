"""From a grid of cells to an OKR or KPI table: header row, columns, items, parsed values.

Every item keeps its sheet row, so every value can be named by its cell (``OKRs!H7``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pandas as pd

from okrsync.config import SourceConfig
from okrsync.cycles import CycleError, parse_cycle
from okrsync.errors import SourceError
from okrsync.layout import KEY_HEADERS, KPI_FIELDS, OKR_FIELDS, OWNED, header_map
from okrsync.refs import column_letter
from okrsync.sources.interface import Grid
from okrsync.values import display, is_blank, text_of, normalise, parse_date, parse_done, parse_number

HEADER_SEARCH_ROWS = 20

# Carried down from an objective's first row to its continuation rows when blank there.
OBJECTIVE_FIELDS = ("objective_id", "objective_owner", "parent", "level", "team", "cycle", "commitment")
COMMITMENTS = {"committed": "committed", "commit": "committed", "aspirational": "aspirational",
               "stretch": "aspirational", "moonshot": "aspirational"}

KR_TYPES = {
    "number": "number", "numeric": "number", "count": "number",
    "percent": "percent", "percentage": "percent", "pct": "percent",
    "currency": "currency", "money": "currency",
    "milestone": "milestone", "binary": "milestone", "boolean": "milestone", "yesno": "milestone",
}
KR_DIRECTIONS = {
    "increase": "increase", "up": "increase", "grow": "increase",
    "decrease": "decrease", "down": "decrease", "reduce": "decrease",
    "atleast": "at least", "stayabove": "at least", "higherisbetter": "at least", "min": "at least",
    "atmost": "at most", "staybelow": "at most", "lowerisbetter": "at most", "max": "at most",
}
KPI_DIRECTIONS = {
    "higher": "higher", "higherisbetter": "higher", "increase": "higher", "up": "higher",
    "lower": "lower", "lowerisbetter": "lower", "decrease": "lower", "down": "lower",
    "range": "range", "within": "range", "band": "range", "closertotargetisbetter": "range",
}


@dataclass
class Table:
    kind: str  # okr | kpi
    source: str
    tab: str
    header_row: int
    columns: dict[str, int]  # canonical name → column number
    headers: dict[str, str]  # canonical name → header text as the sheet shows it
    owned: dict[str, int]  # owned column key → column number (existing or to be added)
    new_owned: set[str]
    owned_headers: dict[str, str]
    items: pd.DataFrame  # one row per key result / KPI, for validation
    objectives: pd.DataFrame = field(default_factory=pd.DataFrame)  # OKR tables only
    records: list[dict] = field(default_factory=list)  # the same items as dicts, for scoring
    objective_records: list[dict] = field(default_factory=list)  # the same objectives as dicts

    def cell(self, name: str, row: int) -> str:
        """The reference of a canonical column's cell in a sheet row, e.g. ``H7``."""
        col = self.columns.get(name)
        return f"{column_letter(col)}{row}" if col else ""

    def label(self, name: str) -> str:
        return self.headers.get(name) or name.replace("_", " ").capitalize()


@dataclass
class ReadContext:
    today: dt.date
    default_cycle: str
    fiscal_year_start: int


def find_header(grid: Grid, kind: str, config: SourceConfig) -> tuple[int, dict[str, int], dict[str, str]] | None:
    """The header row, canonical name → column, and header texts; None if no row qualifies."""
    located = _locate_header(grid, kind, config)
    return located[:3] if located else None


def _locate_header(grid: Grid, kind: str, config: SourceConfig):
    """find_header's answer and every value of the header row."""
    mapping = header_map(kind, config.columns)
    for row in range(1, HEADER_SEARCH_ROWS + 1):
        found: dict[str, int] = {}
        texts: dict[str, str] = {}
        cells = grid.rows.get(row, {})
        for col, value in sorted(cells.items()):
            name = mapping.get(normalise(value)) if isinstance(value, str) else None
            if name and name not in found:  # a duplicate header: the first one counts
                found[name] = col
                texts[name] = value.strip()
        if all(key in found for key in KEY_HEADERS[kind]):
            return row, found, texts, cells
    return None


def _filled_merges(grid: Grid, header_row: int, columns: set[int]) -> dict[tuple[int, int], object]:
    """Values of vertically merged ranges below the header, copied into the cells they hide
    below their first row — only in the table's columns and down to its last row, however large
    a range claims to be."""
    filled = {}
    for min_col, min_row, max_col, max_row in grid.merges:
        if min_row <= header_row or max_row == min_row:
            continue
        value = grid.value(min_row, min_col)
        for c in columns.intersection(range(min_col, max_col + 1)):
            for r in range(min_row + 1, min(max_row, grid.max_row) + 1):
                filled[(r, c)] = value
    return filled


def read_table(grid: Grid, kind: str, config: SourceConfig, context: ReadContext) -> Table:
    located = _locate_header(grid, kind, config)
    if located is None:
        keys = " and ".join(f'"{k.replace("_", " ").capitalize()}"' for k in KEY_HEADERS[kind])
        raise SourceError(
            f'{config.location}: tab {grid.tab} has no header row with {keys} in its first '
            f"{HEADER_SEARCH_ROWS} rows (map other header names in [sources.columns])."
        )
    header_row, columns, headers, header_values = located
    owned, new_owned = _owned_columns(header_values, kind, config)
    wanted = {col: name for name, col in columns.items()}
    merged = _filled_merges(grid, header_row, set(wanted))
    rows: dict[int, dict[str, object]] = {}
    for r, cells in grid.rows.items():
        if r > header_row:
            named = {wanted[c]: value for c, value in cells.items() if c in wanted}
            if named:
                rows[r] = named
    for (r, c), value in merged.items():
        if value is not None:
            rows.setdefault(r, {})[wanted[c]] = value
    table = Table(kind, config.name, grid.tab, header_row, columns, headers, owned, new_owned,
                  {k: config.owned_columns[k] for k in OWNED[kind]}, pd.DataFrame())
    if kind == "okr":
        # a row whose objective cell lies inside a merged range continues the objective above
        continued = {r for (r, c) in merged if c == columns.get("objective")}
        table.records, table.items, table.objective_records, table.objectives = _okr_items(rows, config, context,
                                                                                           continued)
    else:
        table.records, table.items = _kpi_items(rows, config)
    return table


def _owned_columns(header: dict[int, object], kind: str, config: SourceConfig) -> tuple[dict[str, int], set[str]]:
    by_name = {normalise(v): c for c, v in sorted(header.items(), reverse=True) if isinstance(v, str) and v.strip()}
    last = max((c for c, v in header.items() if not is_blank(v)), default=0)
    owned, new = {}, set()
    for key in OWNED[kind]:
        col = by_name.get(normalise(config.owned_columns[key]))
        if col is None:
            last += 1
            col = last
            new.add(key)
        owned[key] = col
    return owned, new


def _okr_items(rows: dict[int, dict[str, object]], config: SourceConfig, context: ReadContext,
               continued: set[int]):
    items, objectives = [], {}
    current: dict[str, object] | None = None
    for row in sorted(rows):
        values = rows[row]
        if all(is_blank(v) for v in values.values()):
            continue
        starts_objective = not is_blank(values.get("objective")) and row not in continued
        own_cycle = not is_blank(values.get("cycle"))
        if starts_objective or current is None:
            current = {name: values.get(name) for name in OBJECTIVE_FIELDS + ("objective",)}
            current["row"] = row
            if is_blank(current.get("team")):
                current["team"] = config.name
            team, text = text_of(current["team"]), text_of(current.get("objective"))
            cycle_text = text_of(current.get("cycle")) or context.default_cycle
            ident = text_of(current.get("objective_id"))
            current["key"] = f"id:{ident}" if ident else f"{team}|{cycle_text}|{text}"
            if current["key"] not in objectives:
                objectives[current["key"]] = {
                    "key": current["key"], "row": row, "objective": current.get("objective"),
                    "team": team, "cycle": cycle_text, "objective_id": ident,
                    "objective_owner": current.get("objective_owner"), "parent": current.get("parent"),
                    "level": text_of(current.get("level")).lower(), "kr_count": 0,
                    "commitment": COMMITMENTS.get(normalise(current.get("commitment"))),  # None: blank or unknown
                }
        else:
            for name in OBJECTIVE_FIELDS:
                if is_blank(values.get(name)):
                    values[name] = current.get(name)
        if is_blank(values.get("key_result")):
            continue
        item = dict.fromkeys(OKR_FIELDS)
        item.update(values)  # objective fields were carried down above
        item["objective"] = current.get("objective")
        item["row"] = row
        # An inherited cycle is reported at the cell that holds it.
        item["cycle_row"] = row if own_cycle or row == current["row"] else current["row"]
        item["objective_key"] = current["key"]
        item["key"] = f'{current["key"]}|{text_of(item.get("key_result"))}'
        item["objective_row"] = current["row"]
        item["team"] = text_of(item.get("team")) or config.name
        owner = item.get("owner")
        item["owner_inherited"] = is_blank(owner) and not is_blank(item.get("objective_owner"))
        if item["owner_inherited"]:
            item["owner"] = item.get("objective_owner")
        objectives[current["key"]]["kr_count"] += 1
        items.append(_parse_kr(item, context))
    columns = ["row", "cycle_row", "key", "objective_key", "objective_row", *OKR_FIELDS, "owner_inherited", *_KR_PARSED]
    frame = _frame(items, columns, ("start_n", "target_n", "current_n", "weight_n", "confidence_n"))
    objective_records = list(objectives.values())
    objective_frame = _frame(
        objective_records,
        ["key", "row", "objective", "team", "cycle", "objective_id", "objective_owner", "parent", "level", "kr_count",
         "commitment"],
        (),
    )
    objective_frame["kr_count"] = objective_frame["kr_count"].astype(int)
    return items, frame, objective_records, objective_frame


def _frame(items: list[dict], columns: list[str], numeric: tuple[str, ...]) -> pd.DataFrame:
    """Cells stay the Python values the sheet gave (no type guessing); parsed numbers are floats."""
    frame = pd.DataFrame(items, columns=columns, dtype=object)
    for name in numeric:
        frame[name] = frame[name].astype(float)
    frame["row"] = frame["row"].astype(int)
    return frame


_KR_PARSED = ["type_n", "direction_n", "start_n", "target_n", "current_n", "done", "weight_n",
              "confidence_n", "due_d", "cycle_c", "cycle_error"]


def _number(value: object, percent_kr: bool) -> float:
    if type(value) is float and not percent_kr:  # a number cell, the common case
        return value if math.isfinite(value) else math.nan
    number = parse_number(value)
    if number is None:
        return math.nan
    if number.percent or (percent_kr and abs(number.value) > 1.0):
        return number.value / 100.0  # "45 %" and 45 in a percent KR both mean 0.45
    return number.value


def _parse_kr(item: dict, context: ReadContext) -> dict:
    raw_type = item.get("type")
    type_text = "percent" if text_of(raw_type) == "%" else normalise(raw_type)
    if type_text:
        kr_type = KR_TYPES.get(type_text)  # None: unknown, reported by kr-measurable
    elif is_blank(item.get("start")) and is_blank(item.get("target")) and parse_number(item.get("current")) is None \
            and not is_blank(item.get("current")) and parse_done(item.get("current")) is not None:
        kr_type = "milestone"  # "done" / "yes" with no numbers beside it
    else:
        kr_type = "number"
    percent = kr_type == "percent"
    start, target, current = (_number(item.get(k), percent) for k in ("start", "target", "current"))
    direction_text = normalise(item.get("direction"))
    if direction_text:
        direction = KR_DIRECTIONS.get(direction_text)
    elif not (math.isnan(start) or math.isnan(target)):
        direction = "decrease" if target < start else "increase"
    else:
        direction = "increase"
    weight = 1.0 if is_blank(item.get("weight")) else _number(item.get("weight"), False)
    confidence = _confidence(item.get("confidence"))
    due_raw = item.get("due")
    due = None if is_blank(due_raw) else parse_date(due_raw)
    cycle, cycle_error = None, ""
    try:
        cycle_text = item.get("cycle")
        cycle = parse_cycle(context.default_cycle if is_blank(cycle_text) else display(cycle_text),
                            context.today, context.fiscal_year_start)
    except CycleError as exc:
        cycle_error = str(exc)
    item.update(
        type_n=kr_type, direction_n=direction, start_n=start, target_n=target, current_n=current,
        done=parse_done(item.get("current")) if kr_type == "milestone" else None,
        weight_n=weight, confidence_n=confidence, due_d=due, cycle_c=cycle, cycle_error=cycle_error,
    )
    return item


def _confidence(raw: object) -> float:
    """Confidence on a 0-10 scale: 0-1 fractions and 0-100 % are normalised."""
    number = parse_number(raw)
    if number is None:
        return math.nan
    value = number.value
    if number.percent:
        return value / 10.0
    if 0 < value < 1:
        return value * 10.0
    if 10 < value <= 100:
        return value / 10.0
    return value


def _kpi_items(rows: dict[int, dict[str, object]], config: SourceConfig) -> tuple[list[dict], pd.DataFrame]:
    items = []
    for row in sorted(rows):
        values = rows[row]
        if is_blank(values.get("kpi")):
            continue
        item = dict.fromkeys(KPI_FIELDS)
        item.update(values)
        item["row"] = row
        item["team"] = text_of(item.get("team")) or config.name
        direction_text = normalise(item.get("direction"))
        item["direction_n"] = KPI_DIRECTIONS.get(direction_text) if direction_text else "higher"
        for name in ("target", "min", "max", "threshold", "current"):
            item[f"{name}_n"] = _number(item.get(name), False)
        as_of = item.get("as_of")
        item["as_of_d"] = None if is_blank(as_of) else parse_date(as_of)
        item["key"] = f"{item['team']}|{text_of(item.get('kpi'))}"
        items.append(item)
    columns = ["row", "key", *KPI_FIELDS, "direction_n", "target_n", "min_n", "max_n", "threshold_n", "current_n",
               "as_of_d"]
    return items, _frame(items, columns, ("target_n", "min_n", "max_n", "threshold_n", "current_n"))

