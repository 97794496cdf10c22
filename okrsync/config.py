"""okrsync.toml: found, loaded and checked, with every path made absolute.

A wrong or missing key is one ConfigError sentence naming the key and the file.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from okrsync.errors import ConfigError
from okrsync.layout import KPI_FIELDS, OKR_FIELDS, OWNED_DEFAULTS

CONFIG_ENV = "OKRSYNC_CONFIG"
TODAY_ENV = "OKRSYNC_TODAY"
MAX_ROWS = 150_000  # rows with values per tab; `max_rows` in okrsync.toml changes it
HISTORY_DAYS = 365 + 92  # a year and a cycle of runs kept in the history store

@dataclass
class SourceConfig:
    name: str
    excel: Path | None = None
    google: str | None = None
    credentials: Path | None = None
    okr_tab: str = "OKRs"
    kpi_tab: str = "KPIs"
    columns: dict[str, str] = field(default_factory=dict)
    owned_columns: dict[str, str] = field(default_factory=lambda: dict(OWNED_DEFAULTS))
    backups: int = 3
    max_rows: int = MAX_ROWS  # a bigger table is refused before it is read whole
    summary_tab: str = "Summary"  # the tab okrsync owns with the cycle at a glance ("" turns it off)
    checkins_tab: str = "Check-ins"  # the tab okrsync appends each week's check-ins to ("" turns it off)

    @property
    def owned_tabs(self) -> list[str]:
        return [tab for tab in (self.summary_tab, self.checkins_tab) if tab]

    @property
    def location(self) -> str:
        return str(self.excel) if self.excel else f"https://docs.google.com/spreadsheets/d/{self.google}"


@dataclass
class EmailConfig:
    sender: str = "okrsync@localhost"
    smtp: str | None = None
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    outbox: Path = Path("outbox")

    @property
    def server(self) -> tuple[str, int]:
        """``smtp`` as host and port (465 for ssl, else 587, when it names none)."""
        host, _, port = self.smtp.rpartition(":") if ":" in self.smtp else (self.smtp, "", "")
        return host, int(port or (465 if self.security == "ssl" else 587))


@dataclass
class DigestConfig:
    name: str
    to: list[str] | str  # addresses, or "owners"; [] when the digest goes to webhooks only
    when: str = "mon 08:00"
    sources: list[str] | None = None
    webhooks: list[str] = field(default_factory=list)  # names of [webhooks.*]


WEBHOOK_KINDS = ("slack", "teams", "google-chat")


@dataclass
class WebhookConfig:
    """A chat channel's incoming webhook; its URL is a secret, read from ``url_env``."""

    name: str
    kind: str  # one of WEBHOOK_KINDS
    url_env: str

    @property
    def url(self) -> str:
        return os.environ.get(self.url_env, "")


@dataclass
class GoogleConfig:
    requests_per_minute: int = 60  # the Sheets API's default quota per user
    retries: int = 5
    backoff_seconds: float = 1.0  # first wait; doubles each retry, capped at 32 s, with jitter


@dataclass
class Config:
    path: Path
    timezone: ZoneInfo
    state: Path | str  # a SQLite file, or a PostgreSQL URL (shared by workers on several hosts)
    rules: list[Path]
    cycle: str
    fiscal_year_start: int
    sources: list[SourceConfig]
    people: dict[str, str]
    email: EmailConfig
    digests: list[DigestConfig]
    sync_every: str
    google: GoogleConfig = field(default_factory=GoogleConfig)
    history_days: int = HISTORY_DAYS
    webhooks: dict[str, WebhookConfig] = field(default_factory=dict)
    slack_ids: dict[str, str] = field(default_factory=dict)  # owner name → Slack member id, from [people]
    state_password_env: str | None = None  # the PostgreSQL password's variable
    lease_seconds: float = 960.0  # a worker's hold on a source outlives it by this much at most

    @property
    def shared_state(self) -> bool:
        """The history store is a PostgreSQL database (else a SQLite file)."""
        return isinstance(self.state, str)

    def open_store(self, read_only: bool = False):
        """The history store (okrsync.store.Store); read-only: None when there is none yet."""
        from okrsync.store import Store

        if read_only:
            return Store.read_only(self.state, self.state_password_env)
        return Store(self.state, password_env=self.state_password_env, lease_seconds=self.lease_seconds)

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources)
        raise ConfigError(f'There is no source named "{name}" in {self.path} (known: {known}).')

    def today(self, override: str | dt.date | None = None) -> dt.date:
        """The run's date: --today, then OKRSYNC_TODAY, then today in the configured timezone."""
        value = override if override is not None else os.environ.get(TODAY_ENV)
        if isinstance(value, dt.date):
            return value
        if value:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ConfigError(f'"{value}" is not a date; --today and {TODAY_ENV} take YYYY-MM-DD.') from None
        return dt.datetime.now(self.timezone).date()


def find_config(explicit: str | os.PathLike | None) -> Path:
    if explicit:
        path = Path(explicit)
    elif os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    else:
        path = Path("okrsync.toml")
    if not path.is_file():
        how = "--config" if explicit else (CONFIG_ENV if os.environ.get(CONFIG_ENV) else "./okrsync.toml")
        raise ConfigError(
            f"No configuration file at {path} (from {how}); create one with `okrsync init` "
            "or point --config at it."
        )
    return path.resolve()


class _Checker:
    """Reads one TOML table, refusing unknown keys and wrong types with the key named."""

    def __init__(self, path: Path, table: dict, where: str = ""):
        self.path, self.table, self.where = path, table, where
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}{name}"

    def fail(self, name: str, problem: str) -> ConfigError:
        return ConfigError(f"Configuration key `{self.key(name)}` in {self.path} {problem}.")

    def get(self, name: str, kind: type | tuple, default=None, required: bool = False):
        self.seen.add(name)
        if name not in self.table:
            if required:
                raise self.fail(name, "is missing")
            return default
        value = self.table[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = " or ".join(dict.fromkeys(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,))))
            names = names.replace("int or float", "a number")
            names = names.replace("str", "a string").replace("int", "a whole number")
            names = names.replace("list", "a list").replace("dict", "a table")
            raise self.fail(name, f"must be {names}, not {value!r}")
        return value

    def path_value(self, name: str, default: str | None = None) -> Path | None:
        value = self.get(name, str, default)
        if value is None:
            return None
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else (self.path.parent / path).resolve()

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting (check its spelling)")


def _string_table(check: _Checker, name: str, allowed: tuple[str, ...] | None) -> dict[str, str]:
    table = check.get(name, dict, {})
    for key, value in table.items():
        if allowed is not None and key not in allowed:
            raise ConfigError(
                f"Configuration key `{check.key(name)}.{key}` in {check.path} is not a column "
                f"okrsync knows (one of: {', '.join(allowed)})."
            )
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"Configuration key `{check.key(name)}.{key}` in {check.path} must be a non-empty string."
            )
    return dict(table)


def _source(path: Path, raw: object, index: int, default_backups: int, default_max_rows: int) -> SourceConfig:
    where = f"sources[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"Configuration key `sources[{index}]` in {path} must be a table ([[sources]]).")
    check = _Checker(path, raw, where)
    name = check.get("name", str, required=True)
    excel = check.path_value("excel")
    google = check.get("google", str)
    if (excel is None) == (google is None):
        raise check.fail("excel", "or `google` must be given, exactly one of them")
    if excel is not None and excel.suffix.lower() not in (".xlsx", ".xlsm"):
        raise check.fail("excel", f"must name an .xlsx workbook, not {excel.name}")
    owned = dict(OWNED_DEFAULTS)
    owned.update(_string_table(check, "owned_columns", tuple(OWNED_DEFAULTS)))
    source = SourceConfig(
        name=name,
        excel=excel,
        google=google,
        credentials=check.path_value("credentials"),
        okr_tab=check.get("okr_tab", str, "OKRs"),
        kpi_tab=check.get("kpi_tab", str, "KPIs"),
        columns=_string_table(check, "columns", tuple(dict.fromkeys(OKR_FIELDS + KPI_FIELDS))),
        owned_columns=owned,
        backups=check.get("backups", int, default_backups),
        max_rows=check.get("max_rows", int, default_max_rows),
        summary_tab=check.get("summary_tab", str, "Summary").strip(),
        checkins_tab=check.get("checkins_tab", str, "Check-ins").strip(),
    )
    tabs = [t.lower() for t in (source.okr_tab, source.kpi_tab, *source.owned_tabs)]
    if len(set(tabs)) < len(tabs):
        raise check.fail("summary_tab", "and `checkins_tab` must name tabs of their own, not the OKR or KPI tab")
    for key in ("summary_tab", "checkins_tab"):
        title = getattr(source, key)
        if len(title) > 31 or any(ch in title for ch in "[]:*?/\\"):
            raise check.fail(key, "must be a tab name: at most 31 characters, none of [ ] : * ? / \\")
    if source.backups < 0:
        raise check.fail("backups", "must be 0 (no backups) or more")
    if source.max_rows < 1:
        raise check.fail("max_rows", "must be 1 or more")
    check.done()
    return source


def load_config(path: Path) -> Config:
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    check = _Checker(path, raw)

    tz_name = check.get("timezone", str)
    try:
        timezone = ZoneInfo(tz_name) if tz_name else local_zone()
    except (ZoneInfoNotFoundError, ValueError):
        raise check.fail("timezone", f'names no known time zone ("{tz_name}"; e.g. "Europe/Berlin")') from None

    rules = check.get("rules", list, None)
    rule_paths = []
    if rules is None:
        from okrsync.resources import default_rules

        rule_paths = [default_rules()]
    else:
        for item in rules:
            if not isinstance(item, str):
                raise check.fail("rules", "must be a list of file names")
            rule_path = Path(item) if Path(item).is_absolute() else (path.parent / item).resolve()
            if not rule_path.is_file():
                raise check.fail("rules", f"names {rule_path}, which does not exist")
            rule_paths.append(rule_path)

    fiscal = check.get("fiscal_year_start", int, 1)
    if not 1 <= fiscal <= 12:
        raise check.fail("fiscal_year_start", "must be a month number from 1 to 12")
    cycle = check.get("cycle", str, "auto")
    from okrsync.cycles import CycleError, parse_cycle

    try:
        parse_cycle(cycle, dt.date.today(), fiscal)
    except CycleError as exc:
        raise check.fail("cycle", f"is not a cycle: {exc}") from None

    history_days = check.get("history_days", int, HISTORY_DAYS)
    if history_days < 1:
        raise check.fail("history_days", "must be 1 or more (days of runs to keep)")
    max_rows = check.get("max_rows", int, MAX_ROWS)
    if max_rows < 1:
        raise check.fail("max_rows", "must be 1 or more")
    raw_sources = check.get("sources", list, [])
    sources = [_source(path, item, i, 3, max_rows) for i, item in enumerate(raw_sources)]
    if not sources:
        raise check.fail("sources", "is missing: add at least one [[sources]] table")
    names = [s.name for s in sources]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise check.fail("sources", f'names the source "{duplicate}" twice')

    people, slack_ids = _people(check)
    email = _email(path, check.get("email", dict, {}))
    webhooks = {name: _webhook(path, name, table) for name, table in check.get("webhooks", dict, {}).items()}
    digests = [_digest(path, item, i, names, webhooks) for i, item in enumerate(check.get("digests", list, []))]
    worker = _Checker(path, check.get("worker", dict, {}), "worker.")
    sync_every = worker.get("sync_every", str, "15m")
    from okrsync.schedule_slots import parse_interval

    try:
        interval = parse_interval(sync_every)
    except ValueError as exc:
        raise worker.fail("sync_every", str(exc)) from None
    # A live worker renews its leases every sync; a dead one's are free a minute after its next sync was due.
    lease_seconds = float(worker.get("lease_seconds", (int, float), interval + 60))
    if lease_seconds <= interval:
        raise worker.fail("lease_seconds", f"must be longer than sync_every ({interval} s), or leases lapse between syncs")
    worker.done()

    google_table = _Checker(path, check.get("google", dict, {}), "google.")
    google = GoogleConfig(
        requests_per_minute=google_table.get("requests_per_minute", int, 60),
        retries=google_table.get("retries", int, 5),
        backoff_seconds=float(google_table.get("backoff_seconds", (int, float), 1.0)),
    )
    if google.requests_per_minute < 1 or google.retries < 0 or google.backoff_seconds < 0:
        raise google_table.fail("requests_per_minute", "and the other [google] settings must be positive")
    google_table.done()

    config = Config(
        path=path,
        timezone=timezone,
        state=_state(check),
        state_password_env=check.get("state_password_env", str),
        lease_seconds=lease_seconds,
        rules=rule_paths,
        cycle=cycle,
        fiscal_year_start=fiscal,
        sources=sources,
        people=people,
        email=email,
        digests=digests,
        sync_every=sync_every,
        google=google,
        history_days=history_days,
        webhooks=webhooks,
        slack_ids=slack_ids,
    )
    check.done()
    return config


def _state(check: _Checker) -> Path | str:
    """`state`: a PostgreSQL URL as written (no password in it), else a file path."""
    value = check.get("state", str, "okrsync.db")
    if value.startswith(("postgresql:", "postgres:", "postgresql+psycopg:")):
        from okrsync.store.database import postgresql_url

        try:
            postgresql_url(value, None)
        except ValueError as exc:
            raise check.fail("state", str(exc)) from None
        return value
    return check.path_value("state", "okrsync.db")


def _email(path: Path, raw: dict) -> EmailConfig:
    check = _Checker(path, raw, "email.")
    email = EmailConfig(
        sender=check.get("from", str, "okrsync@localhost"),
        smtp=check.get("smtp", str),
        security=check.get("security", str, "starttls"),
        username=check.get("username", str),
        password_env=check.get("password_env", str),
        outbox=check.path_value("outbox", "outbox"),
    )
    if email.security not in ("starttls", "ssl", "none"):
        raise check.fail("security", f'must be "starttls", "ssl" or "none", not "{email.security}"')
    check.done()
    return email


def _people(check: "_Checker") -> tuple[dict[str, str], dict[str, str]]:
    """[people]: name = "address", or name = {email = "address", slack = "U123"}."""
    emails, slack_ids = {}, {}
    for name, value in check.get("people", dict, {}).items():
        if isinstance(value, str) and value.strip():
            emails[name] = value
            continue
        if not isinstance(value, dict):
            raise check.fail("people", f'gives "{name}" neither an address nor a table {{email = …, slack = …}}')
        entry = _Checker(check.path, value, f"people.{name}.")
        email, slack = entry.get("email", str), entry.get("slack", str)
        entry.done()
        if email:
            emails[name] = email
        if slack:
            slack_ids[name] = slack
    return emails, slack_ids


def _webhook(path: Path, name: str, raw: object) -> WebhookConfig:
    from urllib.parse import urlsplit

    if not isinstance(raw, dict):
        raise ConfigError(f"Configuration key `webhooks.{name}` in {path} must be a table ([webhooks.{name}]).")
    check = _Checker(path, raw, f"webhooks.{name}.")
    kind = check.get("kind", str, required=True)
    if kind not in WEBHOOK_KINDS:
        raise check.fail("kind", f'is "{kind}"; it must be one of {", ".join(WEBHOOK_KINDS)}')
    url_env = check.get("url_env", str, required=True)
    url = os.environ.get(url_env)
    if not url:
        raise check.fail("url_env", f"names the variable {url_env}, which is not set (it holds the webhook's URL)")
    parts = urlsplit(url.strip())
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)) or not parts.hostname:
        raise check.fail("url_env", f"names {url_env}, whose URL is not https (plain http only to loopback addresses)")
    check.done()
    return WebhookConfig(name, kind, url_env)


def _digest(path: Path, raw: object, index: int, source_names: list[str],
            webhooks: dict[str, WebhookConfig]) -> DigestConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"Configuration key `digests[{index}]` in {path} must be a table ([[digests]]).")
    check = _Checker(path, raw, f"digests[{index}].")
    to = check.get("to", (str, list), [])
    if isinstance(to, str) and to != "owners":
        to = [to]
    digest = DigestConfig(
        name=check.get("name", str, required=True),
        to=to,
        when=check.get("when", str, "mon 08:00"),
        sources=check.get("sources", list),
        webhooks=check.get("webhooks", list, []),
    )
    for name in digest.webhooks:
        if name not in webhooks:
            raise check.fail("webhooks", f'names "{name}", which is not a [webhooks.*] table')
    if not digest.to and not digest.webhooks:
        raise check.fail("to", "or `webhooks` must be given: where the digest goes")
    for name in digest.sources or []:
        if name not in source_names:
            raise check.fail("sources", f'names "{name}", which is not a configured source')
    from okrsync.schedule_slots import parse_when

    try:
        parse_when(digest.when)
    except ValueError as exc:
        raise check.fail("when", str(exc)) from None
    check.done()
    return digest


def local_zone() -> ZoneInfo:
    """The machine's time zone, as an IANA zone when it can be found."""
    name = os.environ.get("TZ")
    if not name:
        try:
            name = os.path.realpath("/etc/localtime").split("zoneinfo/", 1)[1]
        except (IndexError, OSError):
            name = "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
