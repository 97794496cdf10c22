"""``okrsync status``: last runs, per-source health, findings, next sync and next digests."""

from __future__ import annotations

import datetime as dt

from okrsync.config import Config
from okrsync.schedule_slots import next_slot, parse_interval, period
from okrsync.store import HEALTH_UNKNOWN


def gather(config: Config, store, now: dt.datetime) -> dict:
    runs = store.recent_runs() if store else []
    leases = store.leases.holders() if store and store.shared else {}
    last = runs[0] if runs else None
    health = store.source_health() if store else {}
    next_sync = None
    if last and last["finished_at"]:
        finished = dt.datetime.fromisoformat(last["finished_at"]).astimezone(config.timezone)
        next_sync = (finished + dt.timedelta(seconds=parse_interval(config.sync_every))).isoformat(timespec="minutes")
    digests = []
    for d in config.digests:
        current = period(d.when, now)
        digests.append({"name": d.name, "when": d.when, "next": next_slot(d.when, now).isoformat(timespec="minutes"),
                        "current_period": current, "sent_this_period": store.sent_count(d.name, current) if store else 0})
    return {
        "state": str(config.state),
        "state_bytes": store.size() if store else 0,
        "history_days": config.history_days,
        "holder": store.holder() if store else None,
        "runs": runs,
        "sources": [{"name": s.name, "location": s.location, **health.get(s.name, HEALTH_UNKNOWN),
                     "lease": _lease(leases.get(s.name), config)} for s in config.sources],
        "findings": store.findings_count(last["id"]) if store and last else {},
        "next_sync": next_sync,
        "sync_every": config.sync_every,
        "digests": digests,
    }


def _lease(held: dict | None, config: Config) -> dict | None:
    """Who syncs a source of a shared store now, and until when their lease holds."""
    if held is None:
        return None
    until = dt.datetime.fromtimestamp(held["expires_at"], dt.timezone.utc).astimezone(config.timezone)
    return {"host": held["host"], "pid": held["pid"], "expires_at": until.isoformat(timespec="seconds")}


def text(info: dict) -> str:
    lines = [f"history: {info['state']} ({info['state_bytes'] / 2**20:.1f} MiB, runs kept {info['history_days']} days)"
             + (f" (in use: {info['holder']})" if info["holder"] else "")]
    if not info["runs"]:
        lines.append("no runs recorded yet: run `okrsync run` or start `okrsync worker`")
    else:
        lines.append("last runs:")
        for r in info["runs"]:
            duration = (f"{r['duration']:.1f} s" if r["duration"] is not None
                        else "-" if r["outcome"] == "killed" else "unfinished")
            by = f"  {r['holder']}" if r.get("holder") else ""
            lines.append(f"  #{r['id']:<5} {r['started_at']}  {r['command']:<16} {r['outcome'] or '-':<7} {duration}{by}")
    lines.append("sources:")
    for s in info["sources"]:
        ok = f"last success {s['last_success']}" if s["last_success"] else "never synced"
        err = f"; last error {s['last_error_at']}: {s['last_error']}" if s["last_error"] else ""
        lease = s["lease"]
        held = f"; leased by {lease['host']} pid {lease['pid']} until {lease['expires_at']}" if lease else ""
        lines.append(f"  {s['name']}: {ok}{err}{held}")
    if info["findings"]:
        f = info["findings"]
        lines.append(f"findings in the last run: {f.get('error', 0)} error(s), {f.get('warning', 0)} warning(s), "
                     f"{f.get('info', 0)} info")
    if info["next_sync"]:
        lines.append(f"next sync: {info['next_sync']} (a worker syncs every {info['sync_every']})")
    for d in info["digests"]:
        sent = f"sent to {d['sent_this_period']} recipient(s)" if d["sent_this_period"] else "not sent yet"
        lines.append(f"digest {d['name']}: next {d['next']} ({d['when']}); this period ({d['current_period']}): {sent}")
    return "\n".join(lines)
