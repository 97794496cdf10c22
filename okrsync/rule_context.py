"""What some rules see beyond one table: every objective and KPI of every source, and how
long each current value has stood unchanged (from the history store)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from okrsync.values import normalise, text_of


@dataclass
class Kpiref:
    team: str  # normalised
    name: str  # normalised
    label: str
    target: float


@dataclass
class RuleContext:
    today: dt.date
    objectives: set[str] = field(default_factory=set)  # normalised ids and texts, all sources
    kpis: dict[str, list[Kpiref]] = field(default_factory=dict)  # by normalised team
    since: dict[tuple[str, str, str], dt.date] = field(default_factory=dict)  # (source, kind, key) → date

    def unchanged_since(self, source: str, kind: str, key: str) -> dt.date | None:
        return self.since.get((source, kind, key))


def build_context(tables, today: dt.date, recorded: dict[tuple[str, str, str], tuple[float, dt.date]]) -> RuleContext:
    """``tables``: every table read this run; ``recorded``: (source, kind, key) → (value, since)."""
    context = RuleContext(today)
    for table in tables:
        if table.kind == "okr":
            for o in table.objectives.itertuples(index=False):
                for name in (o.objective_id, text_of(o.objective)):
                    if name:
                        context.objectives.add(normalise(name))
            kind = "key_result"
        else:
            for k in table.items.itertuples(index=False):
                context.kpis.setdefault(normalise(k.team), []).append(
                    Kpiref(normalise(k.team), normalise(k.kpi), text_of(k.kpi), k.target_n))
            kind = "kpi"
        for key, value in zip(table.items["key"], table.items["current_n"]):
            before = recorded.get((table.source, kind, key))
            if before is not None and value == value and before[0] == value:
                context.since[(table.source, kind, key)] = before[1]
    return context
