"""Digests (SPEC §8): the leaders' weekly email and the owners' reminders, rendered from a
run's results and the history store, sent once per digest, period and recipient.

Without ``[email] smtp`` messages land in the outbox folder as .eml files with an .html
preview beside them.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import smtplib
import ssl
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import css_inline
from jinja2 import Environment, PackageLoader, select_autoescape

from okrsync.config import Config, DigestConfig, EmailConfig
from okrsync.delivery import chat, webhook
from okrsync.domain import Finding, Severity, Status
from okrsync.errors import ConfigError
from okrsync.schedule_slots import period
from okrsync.score import elapsed, mean
from okrsync.values import normalise

log = logging.getLogger("okrsync")
NOT_ON_TRACK = {Status.AT_RISK, Status.OFF_TRACK, Status.MISSED, Status.PARTLY_ACHIEVED}
KPI_BAD = {Status.AT_RISK, Status.OFF_TRACK, Status.NEEDS_DATA}
STALE_RULES = {"stale", "kpi-stale"}
GOOD = {Status.ON_TRACK, Status.DONE, Status.ACHIEVED}
RISK = {Status.AT_RISK, Status.PARTLY_ACHIEVED}
BAD = {Status.OFF_TRACK, Status.MISSED}


@dataclass
class Message:
    """One rendered digest for one recipient."""

    digest: str
    recipient: str
    period: str
    subject: str
    html: str
    text: str
    summary: dict  # what the next digest compares against


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # owners without an address


@functools.lru_cache(maxsize=1)  # one environment: templates compile once, not per message
def _env() -> Environment:
    # HTML templates escape every value; the plain-text part must not.
    autoescape = select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False)
    return Environment(loader=PackageLoader("okrsync", "templates"), autoescape=autoescape,
                       trim_blocks=True, lstrip_blocks=True)


def _html(template: str, context: dict) -> str:
    """Rendered with autoescape, then the stylesheet inlined: mail clients drop <style> blocks."""
    return css_inline.inline(_env().get_template(template).render(**context))


def _picked(run, sources: list[str] | None):
    return [s for s in run.sources if sources is None or s.name in sources]


def _headline_cycle(krs):
    """The cycle most key results belong to (the shorter one on a tie)."""
    by_cycle = Counter(kr.cycle for kr in krs if kr.cycle)
    return min(by_cycle, key=lambda c: (-by_cycle[c], c.days)) if by_cycle else None


def _delta(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 2)


def leaders_context(run, sources: list[str] | None, previous: dict | None) -> dict:
    picked = _picked(run, sources)
    krs = [kr for s in picked for kr in s.evaluation.key_results]
    cycle = _headline_cycle(krs)
    counts = Counter(kr.status for kr in krs)
    groups = {"on_track": sum(counts[s] for s in GOOD), "at_risk": sum(counts[s] for s in RISK),
              "off_track": sum(counts[s] for s in BAD)}
    before = previous or {}
    teams: dict[str, dict] = {}
    objective_scores = {}
    for s in picked:
        for o in s.evaluation.objectives:
            objective_scores[f"{s.name}|{o.key}"] = o.score
            team = teams.setdefault(o.team, _team())
            team["objectives"].append({
                "text": o.text, "score": o.score, "pct": round((o.score or 0) * 100), "status": o.status.text,
                "colour": o.status.colour,
                "change": _delta(o.score, before.get("objectives", {}).get(f"{s.name}|{o.key}"))})
        rows_to_team = _row_teams(s)
        for f in s.findings:
            team = teams.setdefault(rows_to_team.get((f.tab, f.row), s.name), _team())
            if f.severity is Severity.ERROR:
                team["errors"] += 1
            elif f.severity is Severity.WARNING:
                team["warnings"] += 1
            if f.rule in STALE_RULES:
                team["stale"] += 1
    scores = [score for score in objective_scores.values() if score is not None]
    average = mean(scores)
    return {
        "today": run.today,
        "cycle": cycle.label if cycle else "",
        "week": ((run.today - cycle.start).days // 7 + 1) if cycle else None,
        "elapsed": round(elapsed(cycle.start, cycle.end, run.today) * 100) if cycle else None,
        "average": average,
        "average_change": _delta(average, before.get("average")),
        **groups,
        "changes": {k: (v - before["groups"][k]) if "groups" in before else None for k, v in groups.items()},
        "teams": dict(sorted(teams.items())),
        "committed_missed": [{"text": o.text, "team": o.team, "owner": o.owner, "score": o.score,
                              "status": o.status.text, "colour": o.status.colour}
                             for s in picked for o in s.evaluation.objectives if o.missed_commitment],
        "attention": [{"text": kr.text, "owner": kr.owner, "status": kr.status.text, "colour": kr.status.colour,
                       "score": kr.score} for kr in krs if kr.status in NOT_ON_TRACK],
        "kpis": [{"name": k.name, "team": k.team, "owner": k.owner, "status": k.status.text, "colour": k.status.colour,
                  "trend": k.trend} for s in picked for k in s.evaluation.kpis if k.status in KPI_BAD],
        "failed": [{"name": s.name, "error": s.error} for s in picked if not s.ok],
        "links": [{"name": s.name, "location": s.location} for s in picked],
        "summary": {"average": average, "groups": groups, "objectives": objective_scores},
    }


def _team() -> dict:
    return {"objectives": [], "errors": 0, "warnings": 0, "stale": 0}


def _row_teams(source) -> dict[tuple[str, int], str]:
    """(tab, row) → team, so findings can be counted per team."""
    out = {}
    for o in source.evaluation.objectives:
        out[(source.okr_tab, o.first_row)] = o.team
        for kr in o.key_results:
            out[(source.okr_tab, kr.row)] = o.team
    for k in source.evaluation.kpis:
        out[(source.kpi_tab, k.row)] = k.team
    return out


def leaders_subject(context: dict) -> str:
    head = f"{context['cycle']} week {context['week']}" if context["cycle"] else "OKR weekly"
    return f"{head}: {context['on_track']} on track, {context['at_risk']} at risk, {context['off_track']} off track"


# -- owners ---------------------------------------------------------------------------------

def resolve(owner: str, people: dict[str, str]) -> str | None:
    """An owner's address: the owner itself when it is one, else from [people]."""
    name = owner.strip()
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", name):
        return name
    folded = {normalise(k): v for k, v in people.items()}
    return people.get(name) or folded.get(normalise(name))


UNADDRESSED = "owner:"  # the key of an owner without an address (chat posts name them; no email goes out)


def owners_contexts(run, sources: list[str] | None, people: dict[str, str],
                    unaddressed: bool = False) -> tuple[dict[str, dict], list[Finding]]:
    """One context per owner address; owners that resolve to no address become findings (and,
    with ``unaddressed``, get a context of their own too, keyed UNADDRESSED + name)."""
    by_owner: dict[str, dict] = {}
    unresolved: dict[str, Finding] = {}
    for s in _picked(run, sources):
        findings_by_cell: dict[tuple[str, int | None], list[Finding]] = {}
        for f in s.findings:
            findings_by_cell.setdefault((f.tab, f.row), []).append(f)
        items = [("kr", kr, kr.owner, s.okr_tab, kr.row) for kr in s.evaluation.key_results]
        items += [("kpi", k, k.owner, s.kpi_tab, k.row) for k in s.evaluation.kpis]
        for kind, item, owner, tab, row in items:
            if not owner:
                continue
            address = resolve(owner, people)
            if address is None:
                unresolved.setdefault(normalise(owner), Finding(
                    "owner-address", Severity.WARNING,
                    f'Owner "{owner}" has no email address, so their digest cannot be sent',
                    source=s.name, tab=tab, row=row, hint=f'Add "{owner}" = "name@example.com" under [people]'))
                if not unaddressed:
                    continue
                address = UNADDRESSED + normalise(owner)
            entry = by_owner.setdefault(address, {"owner": owner, "key_results": [], "kpis": [], "update": [],
                                                  "problems": [], "today": run.today})
            own = findings_by_cell.get((tab, row), [])
            if kind == "kr":
                entry["key_results"].append({"text": item.text, "score": item.score, "status": item.status.text,
                                             "colour": item.status.colour})
            else:
                entry["kpis"].append({"name": item.name, "status": item.status.text, "colour": item.status.colour,
                                      "trend": item.trend})
            name = item.text if kind == "kr" else item.name
            if item.status is Status.NEEDS_DATA or any(f.rule in STALE_RULES for f in own):
                entry["update"].append(name)
            entry["problems"] += [{"where": f"{s.name} {f.where}", "severity": f.severity.value, "message": f.message}
                                  for f in own if f.severity is not Severity.INFO]
    return by_owner, list(unresolved.values())


def owners_subject(context: dict) -> str:
    risky = sum(1 for kr in context["key_results"] if kr["status"] in {s.text for s in NOT_ON_TRACK})
    return (f"Your OKRs: {len(context['update'])} to update, {risky} at risk or off track, "
            f"{len(context['problems'])} sheet problem(s)")


# -- rendering and delivery -----------------------------------------------------------------

def _safe(name: str) -> str:
    """A file name from a digest name, period and address."""
    return re.sub(r"[^\w.-]+", "_", name)


def period_of(digest: DigestConfig, now: dt.datetime) -> str:
    return period(digest.when, now)


def content(config: Config, digest: DigestConfig, run, store, period: str) -> tuple[dict, list[Finding]]:
    """What a digest says, built once for all its recipients and channels: the leaders' context,
    or one context per owner address (owners without an address are logged and returned as
    findings)."""
    if digest.to == "owners":
        contexts, findings = owners_contexts(run, digest.sources, config.people, unaddressed=bool(digest.webhooks))
        for f in findings:
            log.warning("digest %s: %s (%s)", digest.name, f.message, f.hint)
        return contexts, findings
    previous = store.last_digest_summary(digest.name, period) if store else None
    return leaders_context(run, digest.sources, previous), []


def render(config: Config, digest: DigestConfig, period: str, built: dict) -> list[Message]:
    """Every email of a digest for a period, one per recipient."""
    if digest.to == "owners":
        return [Message(digest.name, address, period, owners_subject(c), _html("owners.html.j2", c),
                        _env().get_template("owners.txt.j2").render(**c), {}) for address, c in sorted(built.items())
                if not address.startswith(UNADDRESSED)]
    html, text = _html("leaders.html.j2", built), _env().get_template("leaders.txt.j2").render(**built)
    subject = leaders_subject(built)
    return [Message(digest.name, r, period, subject, html, text, built["summary"]) for r in digest.to]


def chat_post(config: Config, digest: DigestConfig, built: dict) -> chat.Post:
    """The digest as one chat message (owners: a section per owner)."""
    if digest.to == "owners":
        return chat.owners_post(built, config.slack_ids)
    return chat.leaders_post(built)


def email(config: Config, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = config.email.sender
    mail["To"] = message.recipient
    mail["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    # The same digest, period and recipient always get the same Message-ID: a resend after a
    # lost acknowledgement is recognisable as a duplicate.
    token = hashlib.sha256(f"{message.digest}|{message.period}|{message.recipient}".encode()).hexdigest()[:24]
    mail["Message-ID"] = f"<okrsync.{token}@{config.email.sender.split('@')[-1]}>"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def deliver(config: Config, mail: EmailMessage, stem: str) -> str:
    """Send through SMTP, or write to the outbox; returns where it went."""
    settings = config.email
    if not settings.smtp:
        settings.outbox.mkdir(parents=True, exist_ok=True)
        eml = settings.outbox / f"{_safe(stem)}.eml"
        eml.write_bytes(bytes(mail))
        eml.with_suffix(".html").write_text(mail.get_body(("html",)).get_content(), "utf-8")
        return str(eml)
    password = None
    if settings.password_env:
        password = os.environ.get(settings.password_env)
        if password is None:
            raise ConfigError(f"The SMTP password variable {settings.password_env} (email.password_env) is not set.")
    with connect(settings, timeout=30) as smtp:
        if settings.username:
            smtp.login(settings.username, password or "")
        smtp.send_message(mail)
    host, port = settings.server
    return f"{mail['To']} via {host}:{port}"


def connect(settings: EmailConfig, timeout: float) -> smtplib.SMTP:
    """A connection to the SMTP server, encrypted as ``security`` says; the server's certificate
    and name are verified."""
    host, port = settings.server
    context = ssl.create_default_context()
    if settings.security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if settings.security == "starttls":
        try:
            smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
    return smtp


def send(config: Config, digest: DigestConfig, run, store, period: str, force: bool = False) -> Outcome:
    """Send a digest's messages for a period: each recipient and channel once, unless ``force``.
    A failed email or post is reported and the others go on; the next run retries it."""
    outcome = Outcome()
    built, outcome.findings = content(config, digest, run, store, period)
    summary = json.dumps(built.get("summary", {})) if digest.to != "owners" else "{}"
    # Each message is claimed before it goes out (store.claim_digest): of several processes
    # deciding at once, one sends; a failed one gives its claim back for the next run.
    for message in render(config, digest, period, built):
        if not store.claim_digest(digest.name, period, message.recipient, force):
            continue
        mail = email(config, message)
        try:
            where = deliver(config, mail, f"{digest.name}-{period}-{message.recipient}")
        except (OSError, smtplib.SMTPException) as exc:
            store.release_digest(digest.name, period, message.recipient)
            outcome.errors.append(f"digest {digest.name} to {message.recipient}: {exc}")
            log.error("digest %s to %s not sent: %s (it is retried on the next run)", digest.name, message.recipient, exc)
            continue
        store.record_digest(digest.name, period, message.recipient, mail["Message-ID"], json.dumps(message.summary))
        outcome.sent.append(where)
    due = [name for name in digest.webhooks if force or not store.digest_sent(digest.name, period, f"webhook:{name}")]
    post = chat_post(config, digest, built) if due else None
    for name in due:
        channel = f"webhook:{name}"
        if not store.claim_digest(digest.name, period, channel, force):
            continue
        hook = config.webhooks[name]
        try:
            webhook.post(hook, chat.render(hook.kind, post))
        except webhook.PostFailed as exc:
            store.release_digest(digest.name, period, channel)
            outcome.errors.append(f"digest {digest.name} to {exc}")
            log.error("digest %s not posted to %s (it is retried on the next run)", digest.name, exc)
            continue
        store.record_digest(digest.name, period, channel, channel, summary)
        outcome.sent.append(f"webhook {name} ({hook.kind})")
    return outcome


def send_due(config: Config, store, run) -> Outcome:
    """Send each digest whose latest slot has passed and that was not sent for that period."""
    total = Outcome()
    for digest in config.digests:
        outcome = send(config, digest, run, store, period_of(digest, now_for(config, run)))
        total.sent += outcome.sent
        total.errors += outcome.errors
        total.findings += outcome.findings
    return total


def now_for(config: Config, run) -> dt.datetime:
    """Now in the config's timezone; a run for a fixed --today judges slots at that day's end."""
    now = dt.datetime.now(config.timezone)
    if run.today != now.date():
        now = dt.datetime.combine(run.today, dt.time(23, 59), config.timezone)
    return now


def preview(config: Config, digest: DigestConfig, run, store, target: Path) -> list[Path]:
    """Render without sending. A target ending in .html: each recipient's HTML next to it (one
    recipient: the target itself). Otherwise a folder: each email's HTML and text, and one JSON
    payload per chat channel (``<channel>.json``)."""
    period = period_of(digest, now_for(config, run))
    built, _ = content(config, digest, run, store, period)
    messages = render(config, digest, period, built)
    written = []
    if target.suffix.lower() == ".html":
        for i, message in enumerate(messages):
            path = target if i == 0 else target.with_name(f"{target.stem}-{_safe(message.recipient)}{target.suffix}")
            path.write_text(message.html, "utf-8")
            written.append(path)
        return written
    target.mkdir(parents=True, exist_ok=True)
    for message in messages:
        stem = _safe(f"{digest.name}-{message.recipient}")
        written += [target / f"{stem}.html", target / f"{stem}.txt"]
        written[-2].write_text(message.html, "utf-8")
        written[-1].write_text(message.text, "utf-8")
    if digest.webhooks:
        post = chat_post(config, digest, built)
        for name in digest.webhooks:
            path = target / f"{_safe(name)}.json"
            path.write_text(json.dumps(chat.render(config.webhooks[name].kind, post), indent=2, ensure_ascii=False), "utf-8")
            written.append(path)
    return written
