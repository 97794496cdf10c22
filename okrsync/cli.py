"""The command line: parse, call the library, map outcomes to exit codes (here, in main).

Heavy imports (pandas, pandera) happen inside the commands so that --help answers fast.
"""

from __future__ import annotations

import gc
import logging
import sys

import click

from okrsync import __version__, logs
from okrsync.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, OkrsyncError
from okrsync.values import terminal_safe

log = logging.getLogger("okrsync")

EXIT_CODES = """\b
Exit codes:
  0  success (validate: no errors; run: every source synced, every due digest sent)
  1  validation errors, a source that failed, a digest not sent, or (doctor) a problem
  2  usage or configuration error
  3  another okrsync process holds the history store"""


def _echo(message: str = "", err: bool = False) -> None:
    """Everything okrsync prints carries values from sheets: made safe for a terminal first."""
    click.echo(terminal_safe(str(message)), err=err)


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    """-v/-q count wherever they appear, before or after the command name."""
    if not value:
        return
    meta = ctx.find_root().meta
    meta["okrsync.level"] = meta.get("okrsync.level", 0) + (value if param.name == "verbose" else -value)
    level = logging.INFO - 10 * meta["okrsync.level"]
    logging.getLogger("okrsync").setLevel(max(logging.DEBUG, min(level, logging.CRITICAL)))


def _log_format(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        logs.setup(value, logging.getLogger("okrsync").level)


def verbosity_options(f):
    """-v, -q and --log-format, accepted before or after the command name."""
    f = click.option("--log-format", type=click.Choice(["text", "json"]), default=None, expose_value=False,
                     callback=_log_format, is_eager=True,
                     help="Log records on stderr as text or JSON lines (with run id and source).")(f)
    f = click.option("-q", "--quiet", count=True, expose_value=False, callback=_set_verbosity,
                     help="Less on stderr: only errors (repeatable).")(f)
    return click.option("-v", "--verbose", count=True, expose_value=False, callback=_set_verbosity,
                        help="More detail on stderr (repeatable).")(f)


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="okrsync")
@verbosity_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """okrsync keeps OKRs and KPIs in spreadsheets: it reads the OKR and KPI tables,
    validates them against your rules, scores them, and writes scores, coloured
    statuses and messages back into okrsync's own columns."""
    if ctx.invoked_subcommand != "worker":
        # A one-shot command builds its objects once and then exits: the cyclic collector
        # would only rescan them (tenths of a second on large workbooks). The worker lives on
        # and keeps it.
        gc.disable()


def config_option(f):
    return click.option("-c", "--config", "config_path", metavar="FILE",
                        help="Configuration file (default: $OKRSYNC_CONFIG, then ./okrsync.toml).")(f)


def common_options(f):
    f = click.option("--today", metavar="YYYY-MM-DD", help="Score as of this date (or set OKRSYNC_TODAY).")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")(f)
    f = click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable).")(f)
    return verbosity_options(config_option(f))


def _progress(number: int, total: int, name: str) -> None:
    """Progress for runs over several sources, when stderr is a terminal."""
    if total > 1:
        _echo(f"[{number}/{total}] {name}", err=True)


def _load(config_path):
    from okrsync.config import find_config, load_config

    return load_config(find_config(config_path))


@cli.command(epilog=EXIT_CODES)
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--demo", is_flag=True, help="Use the demo workbook (examples and a few deliberate mistakes).")
@click.option("--google", metavar="KEY", help="Use this Google spreadsheet (key or URL): lay out its OKRs and "
              "KPIs tabs (headers, drop-downs) and point the configuration at it.")
@click.option("--credentials", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --google: the service-account key file (default: GOOGLE_APPLICATION_CREDENTIALS).")
@click.option("--excel", type=click.Path(dir_okay=False, exists=True), metavar="FILE.xlsx|.xlsm",
              help="Use this existing workbook: add its missing OKRs and KPIs tabs (headers, drop-downs, frozen "
                   "header row) without touching anything else in it, and point the configuration at it.")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@verbosity_options
def init(directory: str, demo: bool, google: str | None, credentials: str | None, excel: str | None,
         force: bool) -> None:
    """Write a starter okrsync.toml, rules/default.yaml and a workbook (or, with --google or
    --excel, lay out an existing spreadsheet or workbook) into DIRECTORY."""
    from pathlib import Path

    from okrsync.starter import init_directory

    if sum(map(bool, (demo, google, excel))) > 1:
        raise click.UsageError("Choose one of --demo, --google and --excel.")
    if excel:
        from okrsync.sources.excel import lay_out as lay_out_workbook

        added = lay_out_workbook(Path(excel))
        _echo(f"{excel}: " + (f"added the tabs {', '.join(added)}" if added else "its tabs are already there"))
    if google:
        from okrsync.config import GoogleConfig, SourceConfig
        from okrsync.sources.google import GoogleSource, lay_out

        source = GoogleSource(SourceConfig(name="team", google=google,
                                           credentials=Path(credentials).resolve() if credentials else None),
                              GoogleConfig())
        added = lay_out(source)
        _echo(f"{source.location}: " + (f"added the tabs {', '.join(added)}" if added else "its tabs are already there"))
    for path in init_directory(directory, demo=demo, force=force, google=google, credentials=credentials,
                               excel=Path(excel) if excel else None):
        _echo(f"wrote {path}")
    _echo(f"next: fill in the sheet, then run `okrsync run -c {directory}/okrsync.toml`")


@cli.command(epilog=EXIT_CODES)
@common_options
def validate(config_path, sources, as_json, today) -> None:
    """Read and validate every source; print each finding with its cell. Writes nothing."""
    from okrsync import report, sync

    config = _load(config_path)
    history = config.open_store(read_only=True)
    try:
        result = sync.check(config, config.today(today), sources, history)
    finally:
        if history:
            history.close()
    _echo(report.as_json(result, "validate") if as_json else report.findings_text(result))
    if result.failed or any(s.errors for s in result.sources):
        raise SystemExit(EXIT_FAILED)


@cli.command(epilog=EXIT_CODES)
@common_options
@click.option("--dry-run", is_flag=True, help="Report what would be written; write and record nothing.")
def run(config_path, sources, as_json, today, dry_run) -> None:
    """One full cycle: read, validate, score, write back, record, send due digests."""
    from okrsync import report, sync

    config = _load(config_path)
    day = config.today(today)
    progress = _progress if sys.stderr.isatty() else None
    if dry_run and not config.shared_state and not config.state.exists():
        result = sync.run(config, day, sources, dry_run=True, progress=progress)  # no history yet
    else:
        with config.open_store() as store:
            result = sync.run(config, day, sources, dry_run=dry_run, store=store, progress=progress)
    if as_json:
        _echo(report.as_json(result, "run"))
    else:
        _echo(report.summary_table(result))
        if dry_run:
            _echo("\nwould write:\n" + report.changes_text(result))
        else:
            _echo("")
            for s in result.sources:
                _echo(f"{s.name}: {s.location}" + (f"  (failed: {s.error})" if not s.ok else ""))
            _echo(f"history: {config.state}")
            for where in result.digests:
                _echo(f"digest: {where}")
    if result.failed or result.digest_errors:
        raise SystemExit(EXIT_FAILED)


@cli.command(epilog=EXIT_CODES)
@config_option
@verbosity_options
@click.option("--name", "names", multiple=True, metavar="NAME", help="Only this digest (repeatable; default: all).")
@click.option("--preview", type=click.Path(), metavar="FILE.html|DIR",
              help="Render without sending or posting: FILE.html gets the HTML (one file per recipient); a folder "
                   "gets each email's HTML and text and one JSON payload per chat channel (<channel>.json).")
@click.option("--send", "send_now", is_flag=True, help="Send now, once per recipient and period.")
@click.option("--force", is_flag=True, help="With --send: send again even if already sent this period.")
@click.option("--today", metavar="YYYY-MM-DD", help="Build the digest as of this date (or set OKRSYNC_TODAY).")
def digest(config_path, names, preview, send_now, force, today) -> None:
    """Render or send digests from the sheets as they are now. Without --preview or --send,
    says which digests are configured and which period each would cover."""
    from pathlib import Path

    from okrsync import digest as digests
    from okrsync import sync

    config = _load(config_path)
    chosen = [d for d in config.digests if not names or d.name in names]
    unknown = set(names) - {d.name for d in config.digests}
    if unknown or not chosen:
        known = ", ".join(d.name for d in config.digests) or "none"
        raise click.UsageError(f"No digest named {', '.join(sorted(unknown)) or '(any)'} in {config.path} (configured: {known}).")
    if force and not send_now:
        raise click.UsageError("--force goes with --send.")
    day = config.today(today)
    with config.open_store() as store:
        sheets = sync.check(config, day, history=store)  # the sheets as they are now
        failed = False
        for d in chosen:
            period = digests.period_of(d, digests.now_for(config, sheets))
            if preview:
                for path in digests.preview(config, d, sheets, store, Path(preview)):
                    _echo(f"{d.name}: wrote {path}")
            elif send_now:
                outcome = digests.send(config, d, sheets, store, period, force=force)
                for where in outcome.sent:
                    _echo(f"{d.name}: sent to {where}")
                if not outcome.sent and not outcome.errors:
                    _echo(f"{d.name}: already sent for the period of {period} (--force sends again)")
                failed = failed or bool(outcome.errors)
            else:
                to = "each owner" if d.to == "owners" else ", ".join(d.to)
                to = ", ".join(x for x in (to, ", ".join(f"webhook {w}" for w in d.webhooks)) if x)
                sent = store.sent_count(d.name, period)
                _echo(f"{d.name}: to {to}, {d.when} ({config.timezone.key}); current period {period}: "
                           + (f"sent to {sent} recipient(s)" if sent else "not sent yet"))
    if failed:
        raise SystemExit(EXIT_FAILED)


@cli.command(epilog=EXIT_CODES)
@config_option
@verbosity_options
@click.option("--explain", "explain", metavar="ID", help="Say what one rule checks and why it matters.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
def rules(config_path, explain, as_json) -> None:
    """List the effective rules (every rule file merged) with severity and parameters."""
    from okrsync import report
    from okrsync.resources import default_rules
    from okrsync.ruleset import load_rules

    try:
        files = _load(config_path).rules
    except OkrsyncError:
        if config_path:
            raise
        files = [default_rules()]  # no configuration here: show the shipped defaults
    ruleset = load_rules(files)
    if explain:
        _echo(report.explain_text(ruleset, explain))
    else:
        _echo(report.rules_json(ruleset) if as_json else report.rules_text(ruleset))


@cli.command(epilog=EXIT_CODES)
@config_option
@verbosity_options
@click.option("--today", metavar="YYYY-MM-DD", help="Score as of this date (or set OKRSYNC_TODAY).")
def worker(config_path, today) -> None:
    """Run until stopped: a sync every [worker] sync_every, each digest at its `when`.
    SIGTERM or SIGINT finish the step in progress, then exit 0."""
    from okrsync.worker import Worker

    config = _load(config_path)
    config.today(today)  # a bad --today is a usage error now, not in every job
    with config.open_store() as store:
        job = Worker(config, store, today)
        job.handle_signals()
        log.info("worker started: sync every %s, history %s", config.sync_every, config.state)
        code = job.serve()
    raise SystemExit(code)


@cli.command(epilog=EXIT_CODES)
@common_options
@click.option("--cycle", metavar="CYCLE", help="The cycle to review, e.g. 2026-Q3 (default: the one that ended last, "
                                               "else the current one with its scores so far).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE.html",
              help="Also write a page for the review meeting, with each objective's weekly score drawn (no script).")
def review(config_path, sources, as_json, today, cycle, html_path) -> None:
    """The end-of-cycle review: each objective's final score and grade, committed objectives
    missed, each key result from start to end, the weekly score path from the history store,
    KPIs' share of weeks on track and the data-hygiene record. Reads; writes no sheet."""
    from pathlib import Path

    from okrsync import review as reviews
    from okrsync import sync

    config = _load(config_path)
    day = config.today(today)
    history = config.open_store(read_only=True)
    try:
        sheets = sync.check(config, day, sources, history)
        built = reviews.build(sheets, history, reviews.pick_cycle(sheets, cycle, day), day)
    finally:
        if history:
            history.close()
    if html_path:
        Path(html_path).write_text(reviews.as_html(built), "utf-8")
    _echo(reviews.as_json(built) if as_json else reviews.text(built))


@cli.command(epilog=EXIT_CODES)
@config_option
@verbosity_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
def status(config_path, as_json) -> None:
    """Last runs, each source's last success and last error, findings, next sync and digests."""
    import datetime as dt
    import json

    from okrsync import status as report

    config = _load(config_path)
    store = config.open_store(read_only=True)
    try:
        info = report.gather(config, store, dt.datetime.now(config.timezone))
    finally:
        if store:
            store.close()
    _echo(json.dumps(info, indent=2, default=str) if as_json else report.text(info))


@cli.command(epilog=EXIT_CODES)
@config_option
@verbosity_options
@click.option("--today", metavar="YYYY-MM-DD", help="Read the sheets as of this date (or set OKRSYNC_TODAY).")
def doctor(config_path, today) -> None:
    """Check configuration, rules, history store, each source's read and write access (changing
    nothing visible) and SMTP reachability and login (no mail sent). Exit 1 on any problem."""
    from okrsync import doctor as checks

    results = checks.run_checks(config_path, today)
    _echo(checks.text(results))
    if not all(c.ok for c in results):
        raise SystemExit(EXIT_FAILED)


@cli.group()
def store() -> None:
    """The history store: copy a SQLite history into a PostgreSQL store shared by workers."""


@store.command(epilog=EXIT_CODES)
@config_option
@verbosity_options
@click.option("--to", "target", required=True, metavar="postgresql://USER@HOST/DB",
              help="The PostgreSQL store to copy into (password from `state_password_env` in the configuration, "
                   "PGPASSWORD or ~/.pgpass). Run again: only what is missing is copied.")
def migrate(config_path, target) -> None:
    """Copy the configured SQLite history store (every run, snapshot, finding, KPI value, digest
    sent and kept sheet) into PostgreSQL, and say how many rows of each kind moved. The SQLite
    store is locked meanwhile and left as it is; then set `state` to the URL."""
    from okrsync.store import Store
    from okrsync.store.database import is_url
    from okrsync.store.transfer import copy_history

    config = _load(config_path)
    if config.shared_state:
        raise click.UsageError(f"`state` in {config.path} is already PostgreSQL; migrate copies a SQLite store.")
    if not is_url(target):
        raise click.UsageError(f"--to takes a PostgreSQL URL (postgresql://user@host/database), not {target}.")
    if not config.state.is_file():
        raise click.UsageError(f"There is no history store at {config.state} to copy.")
    with config.open_store() as source, Store(target, password_env=config.state_password_env) as into:
        moved = copy_history(source, into)
    for table, count in moved.items():
        _echo(f"{table}: {count} row(s) copied")
    _echo(f"done: set `state = \"{target}\"` in {config.path} to use it")


def main(argv: list[str] | None = None) -> None:
    """Entry point: every expected failure becomes one sentence and an exit code."""
    logs.setup()
    collecting = gc.isenabled()
    try:
        cli.main(args=argv, prog_name="okrsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else EXIT_USAGE)
    except click.exceptions.Abort:
        _echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except OkrsyncError as exc:
        _echo(f"okrsync: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        from okrsync.store.database import failure  # loaded only when something went wrong

        message = failure(exc)
        if message is None:
            raise
        _echo(f"okrsync: {message}", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        # The process ends here: spare the interpreter a last full garbage-collection pass
        # over everything the run built (a third of a second on large workbooks).
        gc.freeze()
        if collecting:  # as it was, for a caller that goes on (tests call main in-process)
            gc.enable()
    sys.exit(EXIT_OK)
