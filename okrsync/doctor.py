"""``okrsync doctor``: is everything in place? Configuration, rule files, history store, each
source's read and write access (checked without changing anything visible), SMTP reachability
and login (no mail sent). One line per check, with what to do when it fails."""

from __future__ import annotations

import os
import smtplib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from okrsync.errors import OkrsyncError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(config_path, today: str | None) -> list[Check]:
    """``today``: --today as given (OKRSYNC_TODAY and the real date otherwise)."""
    from okrsync.config import find_config, load_config

    try:
        config = load_config(find_config(config_path))
        day = config.today(today)
    except OkrsyncError as exc:
        return [Check("config", False, str(exc), "fix the key named, or create a configuration with `okrsync init`")]
    checks = [Check("config", True, str(config.path))]
    checks.append(_rules(config))
    checks.append(_history(config))
    for source in config.sources:
        checks.append(_source(source, config, day))
    checks.append(_email(config))
    checks += [_webhook(hook) for hook in config.webhooks.values()]
    return checks


def _rules(config) -> Check:
    from okrsync.ruleset import load_rules

    try:
        rules = load_rules(config.rules)
    except OkrsyncError as exc:
        return Check("rules", False, str(exc), "fix the rule file at the line named; `okrsync rules` shows the result")
    on = sum(1 for r in rules.rules.values() if r.enabled)
    return Check("rules", True, f"{len(config.rules)} file(s), {on} rule(s) on, {len(rules.custom)} custom")


def _history(config) -> Check:
    if config.shared_state:
        try:
            store = config.open_store()  # connects, and creates or upgrades the schema
        except OkrsyncError as exc:
            return Check("history", False, str(exc), "check the URL, that the server is up and the password "
                                                      "(`state_password_env`, PGPASSWORD or ~/.pgpass)")
        held = len(store.leases.holders())
        store.close()
        return Check("history", True, f"{config.state} (PostgreSQL; {held} source lease(s) held now)")
    folder = config.state.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        return Check("history", False, f"cannot write in {folder}", "make the folder writable, or set `state` elsewhere")
    if config.state.exists():
        store = config.open_store(read_only=True)
        if store is None:
            return Check("history", False, f"{config.state} is not an okrsync history store",
                         "point `state` at another file; okrsync creates it")
        holder = store.holder()
        store.close()
        if holder:
            return Check("history", True, f"{config.state} (in use by {holder})")
    return Check("history", True, str(config.state))


def _source(source, config, today) -> Check:
    name = f"source {source.name}"
    if source.excel is None:
        return _google(name, source, config, today)
    from okrsync.sources.excel import ExcelSource
    from okrsync.sync import read_tables
    from okrsync.xlsx.package import lock_holder

    try:
        _, tables = read_tables(ExcelSource(source), source, config, today)
        sizes = [f"{t.tab} {len(t.items)} {'key results' if t.kind == 'okr' else 'KPIs'}" for t in tables]
    except OkrsyncError as exc:
        return Check(name, False, f"cannot read: {exc}", "fix the workbook or the path in `excel`")
    path = Path(source.excel)
    if not path.stat().st_mode & 0o222:
        return Check(name, False, f"read ok ({', '.join(sizes)}); {path} is marked read-only",
                     "clear the read-only flag, or okrsync will leave the workbook as it is")
    try:  # the write path without a visible change: a temporary file beside the workbook
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".~okrsync-doctor-"):
            pass
    except OSError as exc:
        return Check(name, False, f"read ok; cannot create files in {path.parent} ({exc.strerror})",
                     "okrsync writes a temporary file next to the workbook: make the folder writable")
    holder = lock_holder(path)
    if holder:
        return Check(name, False, f"read ok; the workbook is open in Excel by {holder}",
                     "okrsync writes once it is closed; a stale ~$ lock file can be deleted")
    return Check(name, True, f"read {', '.join(sizes)}; writable")


def _google(name: str, source, config, today) -> Check:
    from okrsync.sources.google import GoogleSource
    from okrsync.sources.google_client import account_of
    from okrsync.sync import read_tables

    try:
        google = GoogleSource(source, config.google)
    except OkrsyncError as exc:
        return Check(name, False, str(exc), "download a JSON key for the service account (IAM → Service accounts → "
                     "Keys) and set `credentials` to its path")
    try:
        _, tables = read_tables(google, source, config, today)
        sizes = [f"{t.tab} {len(t.items)} rows" for t in tables]
        # A write that changes nothing visible: set the title to what it is.
        title = google._call("read its title", lambda: google.gspread.http_client.fetch_sheet_metadata(
            google.key, params={"fields": "properties.title"}))
        google._call("check write access", lambda: google.gspread.http_client.batch_update(google.key, {"requests": [
            {"updateSpreadsheetProperties": {"properties": {"title": title["properties"]["title"]}, "fields": "title"}}]}))
    except OkrsyncError as exc:
        fix = ("share the spreadsheet with that address as an Editor" if "not shared" in str(exc)
               else "check the key or URL in `google` and the tab names")
        return Check(name, False, str(exc), fix)
    return Check(name, True, f"read {', '.join(sizes)}; writable (as {account_of(google.credentials)})")


def _webhook(hook) -> Check:
    """The webhook's variable is set (loading the configuration checked that) and its host
    resolves; nothing is posted, and the URL (a secret) is never shown."""
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(hook.url).hostname or ""
    try:
        socket.getaddrinfo(host, 443)
    except OSError as exc:
        return Check(f"webhook {hook.name}", False, f"the {hook.kind} webhook's host does not resolve ({exc.strerror})",
                     f"check the URL in {hook.url_env}, and this host's DNS")
    return Check(f"webhook {hook.name}", True, f"{hook.kind}: {hook.url_env} is set and its host resolves (nothing posted)")


def _email(config) -> Check:
    settings = config.email
    if not settings.smtp:
        folder = settings.outbox
        target = folder if folder.exists() else folder.parent
        if not os.access(target, os.W_OK):
            return Check("email", False, f"outbox {folder} is not writable", "make it writable or configure `smtp`")
        return Check("email", True, f"no SMTP: digests are written to {folder}")
    from okrsync.digest import connect

    host, port = settings.server
    try:
        with connect(settings, timeout=10) as smtp:
            smtp.ehlo()
            steps = ["connected"] + (["STARTTLS"] if settings.security == "starttls" else [])
            if settings.username:
                password = os.environ.get(settings.password_env or "")
                if password is None:
                    return Check("email", False, f"SMTP {host}:{port} reachable; {settings.password_env} is not set",
                                 f"export {settings.password_env} with the SMTP password")
                smtp.login(settings.username, password)
                steps.append(f"logged in as {settings.username}")
    except smtplib.SMTPAuthenticationError:
        return Check("email", False, f"SMTP {host}:{port} refused the login of {settings.username}",
                     f"check `username` and the password in {settings.password_env}")
    except (OSError, smtplib.SMTPException) as exc:
        return Check("email", False, f"cannot reach SMTP {host}:{port} ({exc})",
                     "check `[email] smtp`, `security` and the network")
    return Check("email", True, f"SMTP {host}:{port}: {', '.join(steps)} (no mail sent)")


def text(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<18} {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"{'':6}{'':<18} → {c.fix}")
    return "\n".join(lines)
