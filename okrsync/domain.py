"""The domain: statuses, findings, and the items okrsync scores."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class Status(str, enum.Enum):
    DONE = "Done"
    ON_TRACK = "On track"
    AT_RISK = "At risk"
    OFF_TRACK = "Off track"
    ACHIEVED = "Achieved"
    PARTLY_ACHIEVED = "Partly achieved"
    MISSED = "Missed"
    NEEDS_DATA = "Needs data"

    @property
    def text(self) -> str:
        """What the Status cell shows (``.value`` without enum's slow descriptor: read per item)."""
        return self._value_

    @property
    def colour(self) -> str:
        return STATUS_COLOURS[self]


GREEN, YELLOW, RED, GREY = "B7E1CD", "FCE8B2", "F4C7C3", "E0E0E0"

STATUS_COLOURS = {
    Status.DONE: GREEN,
    Status.ON_TRACK: GREEN,
    Status.ACHIEVED: GREEN,
    Status.AT_RISK: YELLOW,
    Status.PARTLY_ACHIEVED: YELLOW,
    Status.OFF_TRACK: RED,
    Status.MISSED: RED,
    Status.NEEDS_DATA: GREY,
}


# The grades after a cycle's end below full delivery (Done).
GRADED_BELOW_FULL = frozenset({Status.ACHIEVED, Status.PARTLY_ACHIEVED, Status.MISSED})


# The fills okrsync itself sets: a cell showing one of them was coloured by okrsync.
OWN_COLOURS = frozenset(STATUS_COLOURS.values())


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Finding:
    """One problem a rule found, pinned to a cell, a row or a whole table."""

    rule: str
    severity: Severity
    message: str
    source: str = ""
    tab: str = ""
    cell: str = ""  # "H7" for a cell; "" with row set for a row; both empty for a table
    row: int | None = None
    hint: str = ""
    rows: tuple[int, ...] = ()  # every item row the problem affects, when more than ``row``

    @property
    def where(self) -> str:
        if self.cell:
            return f"{self.tab}!{self.cell}"
        if self.row is not None:
            return f"{self.tab} row {self.row}"
        return self.tab

    def as_check(self) -> str:
        """The text written into the sheet's Check column."""
        return f"{self.severity.value}: {self.message} [{self.rule}]"

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "source": self.source,
            "tab": self.tab,
            "cell": self.cell or None,
            "row": self.row,
            "message": self.message,
            "hint": self.hint or None,
        }


@dataclass(frozen=True)
class Cycle:
    label: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(slots=True)
class KeyResult:
    row: int  # sheet row
    objective_key: str
    text: str
    owner: str
    type: str  # number | percent | currency | milestone
    direction: str  # increase | decrease | at least | at most
    start: float | None
    target: float | None
    current: float | None
    done: bool | None  # milestones
    weight: float
    confidence: float | None  # normalised to 0-10
    cycle: Cycle | None
    due: dt.date | None
    scorable: bool = True
    score: float | None = None
    status: Status = Status.NEEDS_DATA

    @property
    def key(self) -> str:
        """Stable identity across runs: the objective's key and the key result's text."""
        return f"{self.objective_key}|{self.text}"

    @property
    def end(self) -> dt.date | None:
        if self.due is not None:
            return self.due
        return self.cycle.end if self.cycle else None


@dataclass(slots=True)
class Objective:
    key: str
    text: str
    team: str
    owner: str
    cycle: Cycle | None
    first_row: int
    key_results: list[KeyResult] = field(default_factory=list)
    score: float | None = None
    status: Status = Status.NEEDS_DATA
    committed: bool = False  # expected in full (its own bands); aspirational otherwise

    @property
    def missed_commitment(self) -> bool:
        """A committed objective whose cycle ended below full delivery."""
        return self.committed and self.status in GRADED_BELOW_FULL


@dataclass(slots=True)
class Kpi:
    row: int
    key: str
    name: str
    team: str
    owner: str
    direction: str  # higher | lower | range
    target: float | None
    threshold: float | None
    current: float | None
    usable: bool = True
    status: Status = Status.NEEDS_DATA
    trend: str = ""
    low: float | None = None  # a range KPI's band, [low, high]
    high: float | None = None
    improving: bool | None = None  # whether its last change was for the better (None: no change)


@dataclass
class Evaluation:
    """A table's items, scored."""

    objectives: list[Objective] = field(default_factory=list)
    key_results: list[KeyResult] = field(default_factory=list)
    kpis: list[Kpi] = field(default_factory=list)
