"""One pass over the configured sources: read → table → validate → score → plan → write →
record. ``check`` stops before writing; ``run`` goes all the way.

A run keeps what each source showed in the history store (okrsync.freshness): a source that has
not changed is not read again, and when nothing changed on the same day nothing is done at all.
That path imports neither pandas, Pandera nor openpyxl: the modules that need them
(table, validate, evaluate, plan) are imported where a table is actually built.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from okrsync import logs, snapshot
from okrsync.config import Config, SourceConfig
from okrsync.domain import Evaluation, Finding, Severity, Status
from okrsync.errors import OkrsyncError, SourceError
from okrsync.freshness import Probe, probe
from okrsync.sources import open_source
from okrsync.sources.interface import CellChange, Grid, OwnedTab, Source

if TYPE_CHECKING:
    from okrsync.rule_context import RuleContext
    from okrsync.ruleset import RuleSet
    from okrsync.table import Table

log = logging.getLogger("okrsync")


@dataclass
class SourceResult:
    name: str
    location: str
    okr_tab: str = "OKRs"
    kpi_tab: str = "KPIs"
    ok: bool = True
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    evaluation: Evaluation = field(default_factory=Evaluation)
    changes: list[CellChange] = field(default_factory=list)
    written: int = 0
    backup: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    unchanged: bool = False  # not read: the sheet still shows what okrsync last saw
    held_by: str | None = None  # not synced by this run: leased by another process, or not due (shared store)
    owned_tabs: list[OwnedTab] = field(default_factory=list)  # the summary and check-ins tabs written

    @classmethod
    def of(cls, cfg: SourceConfig, error: OkrsyncError | None = None) -> "SourceResult":
        """A source's result, to fill in; with ``error``, the result of a source that failed."""
        result = cls(cfg.name, cfg.location, cfg.okr_tab, cfg.kpi_tab)
        if error is not None:
            result.ok, result.error = False, str(error)
        return result

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    def status_counts(self) -> dict[str, int]:
        counts = {s.text: 0 for s in Status}
        for kr in self.evaluation.key_results:
            counts[kr.status.text] += 1
        return counts


@dataclass
class RunResult:
    today: dt.date
    sources: list[SourceResult]
    run_id: int | None = None
    digests: list[str] = field(default_factory=list)  # where each sent digest went
    digest_errors: list[str] = field(default_factory=list)
    digest_findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> list[SourceResult]:
        return [s for s in self.sources if not s.ok]

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sources for f in s.findings]


def _selected(config: Config, names: tuple[str, ...] | list[str]) -> list[SourceConfig]:
    return [config.source(n) for n in names] if names else list(config.sources)


@dataclass
class Loaded:
    """A source read and its tables found, before any rule runs."""

    cfg: SourceConfig
    source: Source
    grids: dict[str, Grid]
    tables: list[Table]
    seconds: float
    probe: Probe | None = None  # set when the store keeps what the source showed
    unchanged: bool = False  # the grids came from the store, not from a read


def _load(cfg: SourceConfig, config: Config, today: dt.date, source: Source | None = None,
          checked: Probe | None = None, store=None) -> Loaded:
    started = time.perf_counter()
    source = source or open_source(cfg, config.google)
    # okrsync's own tabs are read with the others when the store saw them last time; else the
    # source looks at every tab once (a Google read naming a tab that is not there would fail)
    discover = bool(cfg.google and cfg.owned_tabs) and (
        store is None or not set(cfg.owned_tabs) <= store.kept_tabs(cfg.name))
    grids = source.read([cfg.okr_tab, cfg.kpi_tab], cfg.owned_tabs, discover=discover)
    if cfg.okr_tab not in grids and cfg.kpi_tab not in grids:
        tabs = ", ".join(source.tab_names())
        raise SourceError(f"{cfg.location} has neither an {cfg.okr_tab} nor a {cfg.kpi_tab} tab (it has: {tabs}).")
    return Loaded(cfg, source, grids, tables_of(grids, cfg, config, today), time.perf_counter() - started, checked)


def _kept(checked: Probe, store, config: Config, today: dt.date) -> Loaded:
    """A source that has not changed, loaded from what the store kept of it."""
    started = time.perf_counter()
    grids = snapshot.load_grids(store.kept(checked.cfg.name, "grids"))
    tables = tables_of(grids, checked.cfg, config, today)
    return Loaded(checked.cfg, checked.source, grids, tables, time.perf_counter() - started, checked, unchanged=True)


def _load_or_keep(cfg: SourceConfig, checked: Probe | None, store, config: Config, today: dt.date) -> Loaded:
    """A source from the store's copy when it has not changed; read otherwise."""
    if checked and checked.unchanged:
        try:
            return _kept(checked, store, config, today)
        except snapshot.Unreadable as exc:
            log.debug("read again: the history store's copy cannot be read (%s)", exc)
            checked = replace(checked, unchanged=False, same_day=False)
    return _load(cfg, config, today, checked.source if checked else None, checked, store)


def tables_of(grids: dict[str, Grid], cfg: SourceConfig, config: Config, today: dt.date) -> list[Table]:
    """The tables found in a source's OKR and KPI tabs (those it has)."""
    from okrsync.table import ReadContext, read_table

    context = ReadContext(today, config.cycle, config.fiscal_year_start)
    return [read_table(grids[tab], kind, cfg, context)
            for tab, kind in ((cfg.okr_tab, "okr"), (cfg.kpi_tab, "kpi")) if tab in grids]


def read_tables(source: Source, cfg: SourceConfig, config: Config, today: dt.date) -> tuple[dict[str, Grid], list[Table]]:
    """A source's OKR and KPI tabs (those it has) and the tables found in them."""
    loaded = _load(cfg, config, today, source)
    return loaded.grids, loaded.tables


def _finish(loaded: Loaded, config: Config, ruleset: RuleSet, rule_context: RuleContext, today: dt.date,
            store, write: bool, dry_run: bool) -> SourceResult:
    from okrsync.evaluate import evaluate_kpis, evaluate_okrs
    from okrsync.plan import desired_cells, diff, preflight, refuse_unwritable
    from okrsync.validate import validate

    cfg, source = loaded.cfg, loaded.source
    result = SourceResult.of(cfg)
    result.unchanged = loaded.unchanged
    result.timings["kept" if loaded.unchanged else "read"] = round(loaded.seconds, 3)  # kept: from the store
    changes: list[CellChange] = []
    adopted_now: dict[str, dict[str, str]] = {}
    for table in loaded.tables:
        with _timed(result.timings, "validate"):
            findings = validate(table, ruleset, rule_context)
        with _timed(result.timings, "score"):
            if table.kind == "okr":
                evaluation = evaluate_okrs(table, findings, ruleset, today, config.cycle, config.fiscal_year_start)
                result.evaluation.objectives += evaluation.objectives
                result.evaluation.key_results += evaluation.key_results
            else:
                current = {k: float(v) for k, v in zip(table.items["key"], table.items["current_n"]) if v == v}
                previous = store.previous_values(cfg.name, "kpi", current) if store else {}
                evaluation = evaluate_kpis(table, findings, ruleset, previous)
                result.evaluation.kpis += evaluation.kpis
        result.findings += findings
        if write:
            with _timed(result.timings, "plan"):
                grid = loaded.grids[table.tab]
                adopted = store.adopted_columns(cfg.name, table.tab) if store else {}
                preflight(table, grid, {k for k, h in adopted.items() if h == table.owned_headers[k]}, cfg.location)
                tab_changes = diff(desired_cells(table, evaluation, findings), grid)
                refuse_unwritable(tab_changes, grid, cfg.location)
                changes += tab_changes
                adopted_now[table.tab] = table.owned_headers
    result.changes = changes
    tabs: list[OwnedTab] = []
    if write and cfg.owned_tabs:
        with _timed(result.timings, "plan"):
            tabs = _owned_tabs(loaded, result, today, store)
    if loaded.unchanged and (changes or tabs) and write and not dry_run:
        # a new day moved a status: read the source for real before writing into it
        log.debug("read again: %d cells to write", len(changes))
        return _finish(_load(cfg, config, today, source, loaded.probe, store), config, ruleset, rule_context, today,
                       store, write, dry_run)
    if write and not dry_run:
        if store.shared and not store.leases.renew(cfg.name):
            raise SourceError(f"{cfg.location}: its lease expired and another worker may be syncing it; "
                              "nothing was written (the next sync takes it up again).")
        with _timed(result.timings, "write"):
            result.written = source.write(changes, tabs) if changes or tabs else 0
        result.owned_tabs = tabs
        backup = getattr(source, "last_backup", None)
        result.backup = str(backup) if backup else None
        with _timed(result.timings, "record"):
            for tab, headers in adopted_now.items():
                store.adopt_columns(cfg.name, tab, headers)
            store.record_values(cfg.name, "kpi", {k.key: k.current for k in result.evaluation.kpis}, today)
            store.record_values(cfg.name, "key_result", {k.key: k.current for k in result.evaluation.key_results}, today)
            if loaded.probe and loaded.probe.fingerprint:
                _keep(store, loaded, result, today)
    return result


def _owned_tabs(loaded: Loaded, result: SourceResult, today: dt.date, store) -> list[OwnedTab]:
    """The summary and check-ins tabs that differ from what the sheet shows (okrsync.summary),
    with the items' history from the store; a warning for a tab of that name okrsync did not make."""
    from okrsync.summary import plan_tabs

    cycle = next((o.cycle for o in result.evaluation.objectives if o.cycle), None)
    history = store.item_snapshots(loaded.cfg.name, ("objective", "key_result", "kpi"), cycle.start) \
        if store is not None and cycle is not None else []
    tabs, warnings = plan_tabs(loaded.cfg, loaded.grids, result.evaluation, result.findings, today, history)
    result.findings += warnings
    return tabs


def _keep(store, loaded: Loaded, result: SourceResult, today: dt.date) -> None:
    """What the sheet shows now that okrsync wrote, for the next run to start from."""
    fingerprint = loaded.source.fingerprint() if result.written or result.owned_tabs else loaded.probe.fingerprint
    grids = {tab: snapshot.with_changes(grid, [c for c in result.changes if c.tab == tab])
             for tab, grid in loaded.grids.items()}
    for tab in result.owned_tabs:  # as okrsync wrote them
        grids[tab.title] = Grid(tab.title, {r: {c: v for c, v in enumerate(row, start=1) if v is not None and v != ""}
                                            for r, row in enumerate(tab.rows, start=1) if any(x not in (None, "") for x in row)})
    owned = {table.tab: set(table.owned.values()) for table in loaded.tables}
    store.keep_source_state(loaded.cfg.name, fingerprint, loaded.probe.context, today,
                            snapshot.dump_grids(grids, owned),
                            snapshot.dump({"findings": result.findings, "evaluation": result.evaluation}))


def _unchanged_result(cfg: SourceConfig, store) -> SourceResult:
    """The result a source had when it was last synced, as the store kept it."""
    kept = snapshot.load(store.kept(cfg.name, "result"))
    result = SourceResult.of(cfg)
    result.findings, result.evaluation, result.unchanged = kept["findings"], kept["evaluation"], True
    return result


def _held_result(cfg: SourceConfig, store, held_by: str) -> SourceResult:
    """A source another process syncs (or one not due yet): its last kept result, for digests
    and cross-source rules; nothing when no process has synced it yet."""
    try:
        result = _unchanged_result(cfg, store)
    except snapshot.Unreadable:
        result = SourceResult.of(cfg)
        result.unchanged = True
    result.held_by = held_by
    return result


def _held_loaded(cfg: SourceConfig, store, config: Config, today: dt.date) -> Loaded | None:
    """The tables of a source another process syncs, as it last kept them (None: none kept)."""
    started = time.perf_counter()
    try:
        grids = snapshot.load_grids(store.kept(cfg.name, "grids"))
    except snapshot.Unreadable:
        return None
    return Loaded(cfg, None, grids, tables_of(grids, cfg, config, today), time.perf_counter() - started,
                  unchanged=True)


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str):
    """Adds the seconds spent in a step to a source's timings (logged with -v, in --json)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = round(timings.get(step, 0.0) + time.perf_counter() - started, 3)


@contextlib.contextmanager
def _collector_paused():
    """A pass builds millions of small acyclic objects (cells, rows); Python's cyclic garbage
    collector would rescan them again and again. Paused for the pass, it runs once after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _probes(config: Config, store, today: dt.date, held: dict[str, str]) -> dict[str, Probe]:
    """Each source checked against what the store kept of its last sync (runs that write only)."""
    states = store.source_states()
    probes = {}
    for cfg in config.sources:
        if cfg.name in held:
            continue
        with logs.context(source=cfg.name):
            probes[cfg.name] = checked = probe(cfg, config, states.get(cfg.name), today)
            if checked.reason:
                log.debug("%s: %s", "scored again" if checked.unchanged else "read again", checked.reason)
    return probes


def _kept_results(chosen: list[SourceConfig], store, progress, held: dict[str, str]) -> list[SourceResult] | None:
    """The results today's last sync kept, when nothing changed since (None: the store's copy
    cannot be read, and the sources are read again)."""
    try:
        results = [_held_result(cfg, store, held[cfg.name]) if cfg.name in held else _unchanged_result(cfg, store)
                   for cfg in chosen]
    except snapshot.Unreadable as exc:
        log.debug("read again: the history store's copy cannot be read (%s)", exc)
        return None
    for number, cfg in enumerate(chosen, start=1):
        if progress:
            progress(number, len(chosen), cfg.name)
    return results


def _pass(config: Config, today: dt.date, names, store, write: bool, dry_run: bool,
          progress=None, held: dict[str, str] | None = None) -> list[SourceResult]:
    """Load every source (cross-source rules need all of them), then validate, score and write
    the selected ones. Callers pause the collector around it (see _collector_paused). ``held``:
    sources another process syncs (source → who), taken as that process last kept them."""
    held = held or {}
    selected = {cfg.name for cfg in _selected(config, names)}
    chosen = [cfg for cfg in config.sources if cfg.name in selected]
    probes = _probes(config, store, today, held) if store is not None and write and not dry_run else {}
    if (probes or held) and all(p.same_day for p in probes.values()):  # nothing changed since today's last sync
        results = _kept_results(chosen, store, progress, held)
        if results is not None:
            return results
        probes = {name: replace(p, unchanged=False, same_day=False) for name, p in probes.items()}
    from okrsync.rule_context import build_context
    from okrsync.ruleset import load_rules

    ruleset = load_rules(config.rules)
    loaded: dict[str, Loaded] = {}
    failed: dict[str, SourceResult] = {}
    for cfg in config.sources:
        checked = probes.get(cfg.name)
        try:
            with logs.context(source=cfg.name):
                if cfg.name in held:
                    kept = _held_loaded(cfg, store, config, today)
                    if kept:
                        loaded[cfg.name] = kept
                    continue
                loaded[cfg.name] = _load_or_keep(cfg, checked, store, config, today)
        except OkrsyncError as exc:
            if cfg.name in selected:
                failed[cfg.name] = SourceResult.of(cfg, exc)
            else:
                log.debug("source %s (not selected) could not be read: %s", cfg.name, exc)
    recorded = store.recorded_values() if store else {}
    rule_context = build_context([t for item in loaded.values() for t in item.tables], today, recorded)
    results = []
    for number, cfg in enumerate(chosen, start=1):
        if progress:
            progress(number, len(chosen), cfg.name)
        with logs.context(source=cfg.name):
            if cfg.name in failed:
                result = failed[cfg.name]
            elif cfg.name in held:
                result = _held_result(cfg, store, held[cfg.name])
            else:
                item = loaded[cfg.name]
                result = _guarded(cfg, lambda item=item: _finish(item, config, ruleset, rule_context, today, store,
                                                                 write, dry_run))
                log.debug("steps: %s", ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()))
            if not result.ok:
                log.error("%s: %s", "did not sync" if write else "could not be read", result.error)
        results.append(result)
    return results


def check(config: Config, today: dt.date, names=(), history=None, progress=None) -> RunResult:
    """Read, validate and score the selected sources; write nothing anywhere. ``history``: a
    read-only store, for the rules that look at history (stale values)."""
    with _collector_paused():
        return RunResult(today, _pass(config, today, names, history, write=False, dry_run=False, progress=progress))


def run(config: Config, today: dt.date, names=(), dry_run: bool = False, store=None, progress=None,
        command: str = "run", worker: bool = False) -> RunResult:
    """One full cycle; ``store`` is an open okrsync.store.Store. With a shared (PostgreSQL)
    store, only the sources this process holds the lease of are synced; ``worker``: this
    process is a worker, which takes its share of the sources and keeps them between passes."""
    from okrsync import ratelimit

    started = time.monotonic()
    run_id = None if dry_run or store is None else store.start_run(command, today)
    shared = store is not None and store.shared and not dry_run
    with logs.context(run_id=run_id), ratelimit.counted_in(store if shared else None):
        try:
            held = _claim(config, names, store, worker) if shared else {}
            return _record(config, today, names, dry_run, store, progress, run_id, started, held)
        except BaseException:
            if run_id is not None:  # a bad rule file, say: the run is recorded as failed, not left open
                store.finish_run(run_id, "error", time.monotonic() - started)
            raise
        finally:
            if shared and not worker:
                store.leases.release()


def _claim(config: Config, names, store, worker: bool) -> dict[str, str]:
    """Take the leases of the sources this process syncs now; the others, with who has them."""
    from okrsync.schedule_slots import parse_interval

    wanted = [cfg.name for cfg in _selected(config, names)]
    if worker:
        store.leases.heartbeat()
        # a source just synced by its previous holder waits for its interval (a little early is fine)
        claim = store.leases.claim(wanted, store.leases.share(len(config.sources)),
                                   due_seconds=0.8 * parse_interval(config.sync_every))
    else:
        claim = store.leases.claim(wanted)
    held = {name: f"leased by {who}" for name, who in claim.others.items()}
    held.update({name: "not due: synced less than a sync interval ago" for name in claim.not_due})
    for name in wanted:
        if name not in claim.due and name not in held:
            held[name] = "left to the other workers (this one has its share)"
    if held:
        log.debug("synced elsewhere or later: %s", ", ".join(f"{n} ({why})" for n, why in held.items()))
    return held


def _record(config, today, names, dry_run, store, progress, run_id, started, held) -> RunResult:
    """The pass, then what a run records: each source, the digests that are due, the outcome."""
    with _collector_paused():  # the pass and the recording that walks the objects it built
        results = _pass(config, today, names, store, write=True, dry_run=dry_run, progress=progress, held=held)
        if run_id is not None:
            for result in results:
                if result.held_by is None:
                    store.record_source(run_id, result)
                    if store.shared:  # its next holder waits an interval from now
                        store.leases.synced(result.name)
    outcome = RunResult(today, results, run_id)
    if run_id is not None and config.digests:
        from okrsync.digest import send_due  # jinja2 is loaded only when digests are configured

        sent = send_due(config, store, outcome)
        outcome.digests, outcome.digest_errors, outcome.digest_findings = sent.sent, sent.errors, sent.findings
    if run_id is not None:
        failed = outcome.failed or outcome.digest_errors
        store.finish_run(run_id, "failed" if failed else "ok", time.monotonic() - started)
        store.prune(today, config.history_days)
    return outcome


def _guarded(cfg: SourceConfig, work) -> SourceResult:
    """A source that fails is reported and the others go on."""
    try:
        return work()
    except OkrsyncError as exc:
        return SourceResult.of(cfg, exc)
