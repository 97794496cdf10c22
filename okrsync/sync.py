"""One pass over the configured sources: read → table → validate → score → plan → write →
record. ``check`` stops before writing; ``run`` goes all the way."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from okrsync.config import Config, SourceConfig
from okrsync.domain import Finding, Severity, Status
from okrsync.errors import OkrsyncError, SourceError
from okrsync.evaluate import Evaluation, evaluate_kpis, evaluate_okrs
from okrsync.plan import desired_cells, diff, preflight, refuse_formulas
from okrsync.ruleset import RuleSet, load_rules
from okrsync.sources import CellChange, open_source
from okrsync.table import ReadContext, read_table
from okrsync.validate import validate



@dataclass
class SourceResult:
    name: str
    location: str
    ok: bool = True
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    evaluation: Evaluation = field(default_factory=Evaluation)
    changes: list[CellChange] = field(default_factory=list)
    written: int = 0
    backup: str | None = None

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    def status_counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for kr in self.evaluation.key_results:
            counts[kr.status.value] += 1
        return counts


@dataclass
class RunResult:
    today: dt.date
    sources: list[SourceResult]
    run_id: int | None = None
    digests: list[str] = field(default_factory=list)
    digest_errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[SourceResult]:
        return [s for s in self.sources if not s.ok]

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sources for f in s.findings]


def _selected(config: Config, names: tuple[str, ...] | list[str]) -> list[SourceConfig]:
    return [config.source(n) for n in names] if names else list(config.sources)


def _process(cfg: SourceConfig, config: Config, ruleset: RuleSet, today: dt.date, store, write: bool,
             dry_run: bool) -> SourceResult:
    result = SourceResult(cfg.name, cfg.location)
    source = open_source(cfg)
    grids = source.read([cfg.okr_tab, cfg.kpi_tab])
    if not grids:
        tabs = ", ".join(source.tab_names())
        raise SourceError(f"{cfg.location} has neither an {cfg.okr_tab} nor a {cfg.kpi_tab} tab (it has: {tabs}).")
    context = ReadContext(today, config.cycle, config.fiscal_year_start)
    changes: list[CellChange] = []
    adopted_now: dict[str, dict[str, str]] = {}
    for tab, kind in ((cfg.okr_tab, "okr"), (cfg.kpi_tab, "kpi")):
        grid = grids.get(tab)
        if grid is None:
            continue
        table = read_table(grid, kind, cfg, context)
        findings = validate(table, ruleset)
        if kind == "okr":
            evaluation = evaluate_okrs(table, findings, ruleset, today, config.cycle, config.fiscal_year_start)
            result.evaluation.objectives += evaluation.objectives
            result.evaluation.key_results += evaluation.key_results
        else:
            current = {k: float(v) for k, v in zip(table.items["key"], table.items["current_n"]) if v == v}
            previous = store.previous_kpi_values(cfg.name, current) if store else {}
            evaluation = evaluate_kpis(table, findings, ruleset, previous)
            result.evaluation.kpis += evaluation.kpis
        result.findings += findings
        if write:
            adopted = store.adopted_columns(cfg.name, tab) if store else {}
            preflight(table, grid, {k for k, h in adopted.items() if h == table.owned_headers[k]}, cfg.location)
            tab_changes = diff(desired_cells(table, evaluation, findings), grid)
            refuse_formulas(tab_changes, grid, cfg.location)
            changes += tab_changes
            adopted_now[tab] = table.owned_headers
    result.changes = changes
    if write and not dry_run:
        result.written = source.write(changes) if changes else 0
        backup = getattr(source, "last_backup", None)
        result.backup = str(backup) if backup else None
        for tab, headers in adopted_now.items():
            store.adopt_columns(cfg.name, tab, headers)
        store.record_kpi_values(cfg.name, {k.key: k.current for k in result.evaluation.kpis})
    return result


def check(config: Config, today: dt.date, names=()) -> RunResult:
    """Read, validate and score every selected source; write nothing anywhere."""
    ruleset = load_rules(config.rules)
    results = []
    for cfg in _selected(config, names):
        results.append(_guarded(cfg, lambda cfg=cfg: _process(cfg, config, ruleset, today, None, False, False)))
    return RunResult(today, results)


def run(config: Config, today: dt.date, names=(), dry_run: bool = False, store=None) -> RunResult:
    """One full cycle; ``store`` is an open okrsync.store.Store."""
    ruleset = load_rules(config.rules)
    started = time.monotonic()
    run_id = None if dry_run or store is None else store.start_run("run", today)
    results = []
    for cfg in _selected(config, names):
        result = _guarded(cfg, lambda cfg=cfg: _process(cfg, config, ruleset, today, store, True, dry_run))
        results.append(result)
        if run_id is not None:
            store.record_source(run_id, result)
    outcome = RunResult(today, results, run_id)
    if run_id is not None and config.digests:
        from okrsync.digest import send_due  # jinja2 is loaded only when digests are configured

        outcome.digests, outcome.digest_errors = send_due(config, store, outcome)
    if run_id is not None:
        store.finish_run(run_id, "failed" if outcome.failed else "ok", time.monotonic() - started)
    return outcome


def _guarded(cfg: SourceConfig, work) -> SourceResult:
    """A source that fails is reported and the others go on."""
    try:
        return work()
    except OkrsyncError as exc:
        return SourceResult(cfg.name, cfg.location, ok=False, error=str(exc))
