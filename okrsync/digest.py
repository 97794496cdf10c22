"""Digests: the leaders' weekly email, rendered from the latest run, sent once per period.

Without ``[email] smtp`` messages land in the outbox folder as .eml files with an .html
preview beside them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import smtplib
from collections import Counter
import ssl
from email.message import EmailMessage
from email.utils import format_datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from okrsync.config import Config, DigestConfig
from okrsync.domain import Severity, Status
from okrsync.errors import ConfigError
from okrsync.schedule_slots import latest_slot
from okrsync.score import elapsed, mean

log = logging.getLogger("okrsync")
NOT_ON_TRACK = {Status.AT_RISK, Status.OFF_TRACK, Status.MISSED, Status.PARTLY_ACHIEVED}
KPI_BAD = {Status.AT_RISK, Status.OFF_TRACK, Status.NEEDS_DATA}


def _env() -> Environment:
    return Environment(loader=PackageLoader("okrsync", "templates"), autoescape=select_autoescape(["html", "j2"]),
                       trim_blocks=True, lstrip_blocks=True)


def digest_context(run, sources: list[str] | None) -> dict:
    picked = [s for s in run.sources if sources is None or s.name in sources]
    krs = [kr for s in picked for kr in s.evaluation.key_results]
    objectives = [(s, o) for s in picked for o in s.evaluation.objectives]
    counts = {status: sum(1 for kr in krs if kr.status is status) for status in Status}
    # The headline cycle: the one most key results belong to (the shorter one on a tie).
    by_cycle = Counter(kr.cycle for kr in krs if kr.cycle)
    cycle = min(by_cycle, key=lambda c: (-by_cycle[c], c.days)) if by_cycle else None
    teams: dict[str, dict] = {}
    for _, o in objectives:
        team = teams.setdefault(o.team, {"objectives": [], "errors": 0, "warnings": 0})
        team["objectives"].append({"text": o.text, "score": o.score, "pct": round((o.score or 0) * 100),
                                   "status": o.status.value, "colour": o.status.colour})
    for s in picked:
        for f in s.findings:
            team = _team_of(s, f.row, f.tab)
            entry = teams.setdefault(team, {"objectives": [], "errors": 0, "warnings": 0})
            if f.severity is Severity.ERROR:
                entry["errors"] += 1
            elif f.severity is Severity.WARNING:
                entry["warnings"] += 1
    scores = [o.score for _, o in objectives if o.score is not None]
    return {
        "today": run.today,
        "cycle": cycle.label if cycle else "",
        "week": ((run.today - cycle.start).days // 7 + 1) if cycle else None,
        "elapsed": round(elapsed(cycle.start, cycle.end, run.today) * 100) if cycle else None,
        "average": mean(scores),
        "counts": {s.value: n for s, n in counts.items() if n},
        "on_track": counts[Status.ON_TRACK] + counts[Status.DONE] + counts[Status.ACHIEVED],
        "at_risk": counts[Status.AT_RISK] + counts[Status.PARTLY_ACHIEVED],
        "off_track": counts[Status.OFF_TRACK] + counts[Status.MISSED],
        "teams": dict(sorted(teams.items())),
        "attention": [{"text": kr.text, "owner": kr.owner, "status": kr.status.value, "colour": kr.status.colour,
                       "score": kr.score} for kr in krs if kr.status in NOT_ON_TRACK],
        "kpis": [{"name": k.name, "team": k.team, "owner": k.owner, "status": k.status.value,
                  "colour": k.status.colour, "trend": k.trend, "current": k.current, "target": k.target}
                 for s in picked for k in s.evaluation.kpis if k.status in KPI_BAD],
        "failed": [{"name": s.name, "error": s.error} for s in picked if not s.ok],
        "links": [{"name": s.name, "location": s.location} for s in picked],
    }


def _team_of(source, row, tab) -> str:
    for o in source.evaluation.objectives:
        if any(kr.row == row for kr in o.key_results) or o.first_row == row:
            return o.team
    for k in source.evaluation.kpis:
        if k.row == row:
            return k.team
    return source.name


def subject(context: dict) -> str:
    head = f"{context['cycle']} week {context['week']}" if context["cycle"] else "OKR weekly"
    return f"{head}: {context['on_track']} on track, {context['at_risk']} at risk, {context['off_track']} off track"


def render(context: dict) -> tuple[str, str]:
    env = _env()
    html = env.get_template("leaders.html.j2").render(**context)
    text = env.get_template("leaders.txt.j2").render(**context)
    return html, text


def build_message(config: Config, digest: DigestConfig, recipient: str, period: str, context: dict) -> EmailMessage:
    html, text = render(context)
    message = EmailMessage()
    message["Subject"] = subject(context)
    message["From"] = config.email.sender
    message["To"] = recipient
    message["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    token = hashlib.sha256(f"{digest.name}|{period}|{recipient}".encode()).hexdigest()[:20]
    message["Message-ID"] = f"<okrsync.{token}@{config.email.sender.split('@')[-1]}>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def deliver(config: Config, message: EmailMessage, name: str) -> str:
    """Send through SMTP, or write to the outbox; returns where it went."""
    email = config.email
    if not email.smtp:
        email.outbox.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^\w.-]+", "_", name)
        eml = email.outbox / f"{stem}.eml"
        eml.write_bytes(bytes(message))
        html_part = message.get_body(("html",))
        eml.with_suffix(".html").write_text(html_part.get_content(), "utf-8")
        return str(eml)
    host, _, port = email.smtp.rpartition(":") if ":" in email.smtp else (email.smtp, "", "")
    port = int(port or (465 if email.security == "ssl" else 587))
    context = ssl.create_default_context()
    password = None
    if email.password_env:
        import os

        password = os.environ.get(email.password_env)
        if password is None:
            raise ConfigError(f"The SMTP password variable {email.password_env} (email.password_env) is not set.")
    smtp_class = smtplib.SMTP_SSL if email.security == "ssl" else smtplib.SMTP
    kwargs = {"context": context} if email.security == "ssl" else {}
    with smtp_class(host, port, timeout=30, **kwargs) as smtp:
        if email.security == "starttls":
            smtp.starttls(context=context)
        if email.username:
            smtp.login(email.username, password or "")
        smtp.send_message(message)
    return f"{message['To']} via {host}"


def send_due(config: Config, store, run) -> tuple[list[str], list[str]]:
    """Send each digest whose latest slot has passed and that was not sent for that period."""
    sent, errors = [], []
    now = dt.datetime.now(config.timezone)
    if run.today != now.date():  # a run for a fixed --today: its slots are judged on that day
        now = dt.datetime.combine(run.today, dt.time(23, 59), config.timezone)
    for digest in config.digests:
        if digest.to == "owners":
            log.info("digest %s: per-owner digests are not part of this version yet; skipped", digest.name)
            continue
        period = latest_slot(digest.when, now).date().isoformat()
        context = digest_context(run, digest.sources)
        for recipient in digest.to:
            if store.digest_sent(digest.name, period, recipient):
                continue
            message = build_message(config, digest, recipient, period, context)
            try:
                where = deliver(config, message, f"{digest.name}-{period}-{recipient}")
            except (OSError, smtplib.SMTPException) as exc:
                errors.append(f"digest {digest.name} to {recipient}: {exc}")
                log.error("digest %s to %s not sent: %s (retried on the next run)", digest.name, recipient, exc)
                continue
            store.record_digest(digest.name, period, recipient, message["Message-ID"])
            sent.append(where)
    return sent, errors
