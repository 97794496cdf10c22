"""``okrsync review``: the end-of-cycle review (the seeds' "OKR review"): per team and objective
the final score and grade, committed objectives missed, each key result from start to end, the
score's path over the cycle's weeks, KPIs' share of weeks on track, and the data-hygiene record.

The sheets give the scores as they stand; the history store gives the path: the store keeps a
snapshot whenever an item changes, so an item's state in a week is its last snapshot by then.
"""

from __future__ import annotations

import datetime as dt
import html
import json

from okrsync.domain import GRADED_BELOW_FULL, Cycle, Status
from okrsync.errors import OkrsyncError

FINAL = GRADED_BELOW_FULL | {Status.DONE}


class NoHistory(OkrsyncError):
    """The history store does not cover the cycle asked for."""


def pick_cycle(run, label: str | None, today: dt.date) -> Cycle:
    """The cycle named, else the one that ended last, else the current one."""
    cycles = {kr.cycle for s in run.sources for kr in s.evaluation.key_results if kr.cycle}
    if label:
        for cycle in cycles:
            if cycle.label.lower() == label.strip().lower():
                return cycle
        known = ", ".join(sorted(c.label for c in cycles)) or "none"
        raise NoHistory(f"No key result belongs to the cycle {label} (the sheets name: {known}).")
    ended = [c for c in cycles if c.end < today]
    if ended:
        return max(ended, key=lambda c: c.end)
    current = [c for c in cycles if c.start <= today <= c.end]
    if not current:
        raise NoHistory("The sheets name no cycle that has ended or is under way.")
    return min(current, key=lambda c: c.days)


def weeks(cycle: Cycle) -> list[dt.date]:
    """The last day of each week of the cycle (the cycle's last day closes the last one)."""
    ends, day = [], cycle.start + dt.timedelta(days=6)
    while day < cycle.end:
        ends.append(day)
        day += dt.timedelta(days=7)
    return ends + [cycle.end]


def build(run, store, cycle: Cycle, today: dt.date) -> dict:
    history = store.review_history(cycle.end) if store else {"runs": [], "snapshots": [], "findings": []}
    in_cycle = [r for r in history["runs"] if cycle.start <= dt.date.fromisoformat(r["today"]) <= cycle.end]
    if not in_cycle:
        raise NoHistory(f"The history store has no run between {cycle.start} and {cycle.end} (cycle {cycle.label}): "
                        "okrsync cannot review a cycle it did not follow.")
    run_day = {r["id"]: dt.date.fromisoformat(r["today"]) for r in history["runs"]}
    ends = weeks(cycle)
    by_item: dict[tuple[str, str, str], list[dict]] = {}  # each item's snapshots, oldest first
    for snap in history["snapshots"]:
        by_item.setdefault((snap["source"], snap["kind"], snap["key"]), []).append(snap)

    def path(source: str, kind: str, key: str, field: str) -> list:
        """The item's ``field`` at the end of each week (None before its first snapshot)."""
        states = [(run_day[s["run_id"]], s[field]) for s in by_item.get((source, kind, key), [])]
        return [next((value for day, value in reversed(states) if day <= end), None) for end in ends]

    teams: dict[str, list] = {}
    committed_missed, kpis = [], []
    for s in run.sources:
        for o in s.evaluation.objectives:
            if o.cycle != cycle:
                continue
            entry = {"source": s.name, "objective": o.text, "owner": o.owner, "committed": o.committed,
                     "score": o.score, "grade": o.status.text, "final": o.status in FINAL,
                     "path": path(s.name, "objective", o.key, "score"),
                     "key_results": [{"key_result": kr.text, "owner": kr.owner, "start": kr.start, "end": kr.current,
                                      "target": kr.target, "score": kr.score, "status": kr.status.text}
                                     for kr in o.key_results]}
            teams.setdefault(o.team, []).append(entry)
            if o.missed_commitment:
                committed_missed.append({"team": o.team, "objective": o.text, "owner": o.owner, "score": o.score})
        for k in s.evaluation.kpis:
            statuses = [x for x in path(s.name, "kpi", k.key, "status") if x is not None]
            kpis.append({"kpi": k.name, "team": k.team, "weeks": len(statuses),
                         "on_track_share": (sum(x == Status.ON_TRACK.text for x in statuses) / len(statuses))
                         if statuses else None})
    hygiene = {}
    for f in history["findings"]:
        day = run_day.get(f["run_id"])
        if day and cycle.start <= day <= cycle.end:
            week = next(i for i, end in enumerate(ends) if day <= end)
            entry = hygiene.setdefault(f["source"], {"weeks_with_errors": set(), "stale": set()})
            if f["severity"] == "error":
                entry["weeks_with_errors"].add(week)
            if f["rule"] in ("stale", "kpi-stale"):
                entry["stale"].add((f["tab"], f["cell"] or f["row"]))
    return {"cycle": cycle.label, "start": cycle.start.isoformat(), "end": cycle.end.isoformat(),
            "today": today.isoformat(), "ended": today > cycle.end, "weeks": [e.isoformat() for e in ends],
            "teams": dict(sorted(teams.items())), "committed_missed": committed_missed, "kpis": kpis,
            "hygiene": {src: {"weeks_with_errors": len(v["weeks_with_errors"]), "stale_values": len(v["stale"])}
                        for src, v in sorted(hygiene.items())}}


def _n(value) -> str:
    return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def text(review: dict) -> str:
    state = "ended" if review["ended"] else f"under way, scores as of {review['today']}"
    lines = [f"Review of {review['cycle']} ({review['start']} – {review['end']}, {state})"]
    for team, objectives in review["teams"].items():
        lines.append(f"\n{team}")
        for o in objectives:
            kind = "committed" if o["committed"] else "aspirational"
            trail = " → ".join(_n(x) for x in o["path"] if x is not None) or "no history"
            lines.append(f"  {o['objective']} ({kind}, {o['owner'] or 'no owner'}): {_n(o['score'])} {o['grade']}"
                         f"  [weekly: {trail}]")
            for kr in o["key_results"]:
                lines.append(f"    - {kr['key_result']}: {_n(kr['start'])} → {_n(kr['end'])} (target {_n(kr['target'])}), "
                             f"score {_n(kr['score'])} {kr['status']}")
    if review["committed_missed"]:
        lines.append("\nCommitted objectives not delivered in full:")
        lines += [f"  - {m['objective']} ({m['team']}, {m['owner'] or 'no owner'}): {_n(m['score'])}"
                  for m in review["committed_missed"]]
    if review["kpis"]:
        lines.append("\nKPIs, share of weeks on track:")
        lines += [f"  - {k['kpi']} ({k['team']}): " + (f"{k['on_track_share']:.0%} of {k['weeks']} week(s)"
                                                         if k["weeks"] else "no history") for k in review["kpis"]]
    lines.append("\nData hygiene:")
    lines += [f"  - {src}: {h['weeks_with_errors']} week(s) with errors, {h['stale_values']} stale value(s)"
              for src, h in review["hygiene"].items()] or ["  - no errors or stale values recorded"]
    return "\n".join(lines)


def as_json(review: dict) -> str:
    return json.dumps(review, indent=2, ensure_ascii=False)


def _chart(points: list, weeks: int) -> str:
    """A score path as an inline SVG line (0..1 upwards), no script, no external resource."""
    width, height = 240, 60
    step = width / max(weeks - 1, 1)
    coords = [f"{i * step:.1f},{height - (v or 0) * height:.1f}" for i, v in enumerate(points) if v is not None]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="weekly score"><rect width="{width}" height="{height}" fill="#f4f4f4"/>'
            f'<line x1="0" y1="{height * 0.3:.1f}" x2="{width}" y2="{height * 0.3:.1f}" stroke="#B7E1CD"/>'
            f'<polyline fill="none" stroke="#333" stroke-width="2" points="{" ".join(coords)}"/></svg>')


def as_html(review: dict) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Review of {e(review['cycle'])}</title>"
             "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}td,th{padding:4px 8px;"
             "text-align:left;vertical-align:top}</style></head><body>",
             f"<h1>Review of {e(review['cycle'])}</h1><p>{e(review['start'])} – {e(review['end'])}</p>"]
    for team, objectives in review["teams"].items():
        parts.append(f"<h2>{e(team)}</h2><table>")
        for o in objectives:
            krs = "".join(f"<li>{e(kr['key_result'])}: {e(_n(kr['start']))} → {e(_n(kr['end']))}, score "
                          f"{e(_n(kr['score']))} {e(kr['status'])}</li>" for kr in o["key_results"])
            parts.append(f"<tr><td><b>{e(o['objective'])}</b> ({'committed' if o['committed'] else 'aspirational'}, "
                         f"{e(o['owner'] or 'no owner')})<br>{e(_n(o['score']))} {e(o['grade'])}<ul>{krs}</ul></td>"
                         f"<td>{_chart(o['path'], len(review['weeks']))}</td></tr>")
        parts.append("</table>")
    if review["committed_missed"]:
        parts.append("<h2>Committed objectives not delivered in full</h2><ul>" + "".join(
            f"<li>{e(m['objective'])} ({e(m['team'])}, {e(m['owner'] or 'no owner')}): {e(_n(m['score']))}</li>"
            for m in review["committed_missed"]) + "</ul>")
    if review["kpis"]:
        parts.append("<h2>KPIs, share of weeks on track</h2><ul>" + "".join(
            f"<li>{e(k['kpi'])} ({e(k['team'])}): "
            + (f"{k['on_track_share']:.0%} of {k['weeks']} week(s)" if k["weeks"] else "no history") + "</li>"
            for k in review["kpis"]) + "</ul>")
    parts.append("<h2>Data hygiene</h2><ul>" + "".join(
        f"<li>{e(src)}: {h['weeks_with_errors']} week(s) with errors, {h['stale_values']} stale value(s)</li>"
        for src, h in review["hygiene"].items()) + "</ul></body></html>")
    return "".join(parts)
