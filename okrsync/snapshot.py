"""What the history store keeps of a source between runs, as JSON text: the grids as the sheet
shows them after okrsync's write, and the run's findings and scored items — so that a source
that has not changed is scored again without being read.

Decoding builds only okrsync's own types, named in ``_TYPES`` (no pickle: a store file must
never be able to run code).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import operator

from okrsync.domain import Cycle, Evaluation, Finding, Kpi, KeyResult, Objective, Severity, Status
from okrsync.sources.interface import Grid
from okrsync.values import ErrorValue

FORMAT = 1  # of what is kept: part of freshness' context key, so a new format is never misread
_TYPES = {cls.__name__: cls for cls in (Cycle, Evaluation, Finding, Kpi, KeyResult, Objective, Severity, Status)}
_PLAIN = frozenset((str, float, int, bool))
_PLAIN_OR_NONE = _PLAIN | {type(None)}


class _Encoder:
    """JSON-ready values; statuses and cycles, which recur on every item, are kept once in
    ``shared`` and referred to by number."""

    def __init__(self):
        self.shared: list = []
        self.numbers: dict = {}

    def encode(self, value):
        kind = type(value)
        if value is None or kind in _PLAIN:  # exact types: ErrorValue is a str, Status an Enum of str
            return value
        if kind is ErrorValue:
            return {"$e": str(value)}
        if kind is dt.datetime:
            return {"$t": value.isoformat()}
        if kind is dt.date:
            return {"$d": value.isoformat()}
        if isinstance(value, enum.Enum) or kind is Cycle:
            key = (kind, value)
            if key not in self.numbers:
                self.numbers[key] = len(self.shared)
                self.shared.append(self._object(value))
            return {"$r": self.numbers[key]}
        if kind is list and len(value) > 1 and all(type(v) is type(value[0]) for v in value) \
                and type(value[0]).__name__ in _TYPES and dataclasses.is_dataclass(value[0]):
            # many items of one kind (key results, say): field names once, then a row of values each
            names = [f.name for f in dataclasses.fields(value[0])]
            fields_of = operator.attrgetter(*names)
            return {"$rows": type(value[0]).__name__, "names": names,
                    "rows": [[v if v is None or type(v) in _PLAIN else self.encode(v) for v in fields_of(item)]
                             for item in value]}
        if isinstance(value, (list, tuple)):
            items = [self.encode(v) for v in value]
            return items if kind is list else {"$tuple": items}
        if kind is Evaluation:  # an objective's key results are the evaluation's: kept once, linked again
            objectives = [dataclasses.replace(o, key_results=[]) for o in value.objectives]
            return {"$evaluation": [self.encode(objectives), self.encode(value.key_results), self.encode(value.kpis)]}
        if kind is dict and all(type(k) is str for k in value):
            return {"$map": {k: self.encode(v) for k, v in value.items()}}
        if dataclasses.is_dataclass(value) and kind.__name__ in _TYPES:
            return self._object(value)
        raise TypeError(f"okrsync does not keep values of type {kind.__name__} in its store")

    def _object(self, value) -> dict:
        if isinstance(value, enum.Enum):
            return {"$": type(value).__name__, "v": value.value}
        return {"$": type(value).__name__, "f": {f.name: self.encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}


class _Decoder:
    """The values an _Encoder made, built only from okrsync's own types (a KeyError for anything
    else: the store holds only these)."""

    def __init__(self, shared: list):
        self.shared: list = []
        for value in shared:  # each may refer to those before it
            self.shared.append(self.decode(value))

    def decode(self, value):
        kind = type(value)
        if kind is list:
            return [self.decode(v) for v in value]
        if kind is not dict:
            return value
        if "$r" in value:
            return self.shared[value["$r"]]
        name = value.get("$")
        if name is not None:
            cls = _TYPES[name]
            if "v" in value:
                return cls._value2member_map_[value["v"]]  # an enum member
            return cls(**{field: self.decode(v) for field, v in value["f"].items()})
        if "$rows" in value:
            cls, names, shared = _TYPES[value["$rows"]], value["names"], self.shared
            return [cls(**dict(zip(names, [v if type(v) in _PLAIN_OR_NONE else shared[v["$r"]] if "$r" in v else self.decode(v)
                                           for v in row]))) for row in value["rows"]]
        if "$evaluation" in value:
            objectives, key_results, kpis = (self.decode(part) for part in value["$evaluation"])
            by_key = {o.key: o for o in objectives}
            for kr in key_results:
                by_key[kr.objective_key].key_results.append(kr)
            return Evaluation(objectives, key_results, kpis)
        if "$e" in value:
            return ErrorValue(value["$e"])
        if "$t" in value:
            return dt.datetime.fromisoformat(value["$t"])
        if "$d" in value:
            return dt.date.fromisoformat(value["$d"])
        if "$tuple" in value:
            return tuple(self.decode(v) for v in value["$tuple"])
        if "$map" in value:
            return {k: self.decode(v) for k, v in value["$map"].items()}
        raise ValueError("the history store holds a value okrsync does not know")


def dump(value) -> str:
    encoder = _Encoder()
    encoded = encoder.encode(value)
    return json.dumps({"shared": encoder.shared, "value": encoded}, ensure_ascii=False, separators=(",", ":"))


class Unreadable(Exception):
    """What the store kept cannot be read back (damaged, or written differently)."""


def load(text: str):
    try:
        kept = json.loads(text)
        return _Decoder(kept["shared"]).decode(kept["value"])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise Unreadable(str(exc)) from None


def dump_grids(grids: dict[str, Grid], owned: dict[str, set[int]]) -> str:
    """Each grid's values and merges, and the fills and formulas of its owned columns (the only
    ones the write plan looks at)."""
    out = {}
    for tab, grid in grids.items():
        columns = owned.get(tab, set())
        encode = _Encoder().encode  # grid values are plain, dates or spreadsheet errors: nothing shared
        rows = [[r, [x for c, v in cells.items() for x in (c, v if v is None or type(v) in _PLAIN else encode(v))]]
                for r, cells in grid.rows.items()]
        fills = [[r, c, grid.fill(r, c)] for r in grid.rows for c in columns if grid.fill(r, c)]
        formulas = [[r, c] for r in grid.rows for c in columns if grid.formula(r, c)]
        out[tab] = {"rows": rows, "merges": [list(m) for m in grid.merges], "fills": fills, "formulas": formulas}
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def load_grids(text: str) -> dict[str, Grid]:
    try:
        return _grids(text)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise Unreadable(str(exc)) from None


def _grids(text: str) -> dict[str, Grid]:
    grids, decode = {}, _Decoder([]).decode
    for tab, kept in json.loads(text).items():
        rows = {}
        for r, flat in kept["rows"]:
            rows[r] = {flat[i]: (flat[i + 1] if type(flat[i + 1]) is not dict else decode(flat[i + 1]))
                       for i in range(0, len(flat), 2)}
        fills = {(r, c): rgb for r, c, rgb in kept["fills"]}
        formulas = {(r, c) for r, c in kept["formulas"]}
        grids[tab] = Grid(tab, rows, [tuple(m) for m in kept["merges"]],
                          fill=lambda r, c, fills=fills: fills.get((r, c)),
                          formula=lambda r, c, formulas=formulas: (r, c) in formulas)
    return grids


def with_changes(grid: Grid, changes) -> Grid:
    """The grid as the sheet shows it once ``changes`` (CellChanges of its tab) are written."""
    rows = {r: dict(cells) for r, cells in grid.rows.items()}
    fills: dict[tuple[int, int], str | None] = {}
    for change in changes:
        if change.value is None:
            rows.get(change.row, {}).pop(change.col, None)
        else:
            rows.setdefault(change.row, {})[change.col] = change.value
        fills[(change.row, change.col)] = change.fill
    old_fill = grid.fill
    return Grid(grid.tab, rows, grid.merges,
                fill=lambda r, c: fills[(r, c)] if (r, c) in fills else old_fill(r, c), formula=grid.formula)
