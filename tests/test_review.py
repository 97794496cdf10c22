"""`okrsync review`: a cycle followed week by week, then reviewed from the sheets and the history."""

from __future__ import annotations

import json

from tests.conftest import build_xlsx, okrsync, write_config

HOSTILE = "<script>alert(1)</script> & co"
HEADER = ["Objective", "Objective owner", "OKR type", "Key result", "Owner", "Start", "Target", "Current"]
KPIS = [["KPI", "Team", "Owner", "Direction", "Target", "Threshold", "Current"]]


def sheet(uptime: float, users: float, kpi: float) -> dict[str, list[list]]:
    return {"OKRs": [
        HEADER,
        ["Keep the lights on", "Ada", "committed", "Uptime work done", "Ada", 0, 100, uptime],
        ["Win the market", "Cy", "stretch", HOSTILE, "Cy", 0, 100, users],
    ], "KPIs": KPIS + [["Retention", "team", "Ada", "higher", 90, 85, kpi]]}


def test_a_cycle_followed_week_by_week_is_reviewed(tmp_path):
    config = write_config(tmp_path, "okrs.xlsx")
    weekly = [("2026-10-05", 10, 5, 80), ("2026-10-12", 30, 10, 92), ("2026-11-02", 60, 40, 95),
              ("2026-12-28", 80, 75, 91)]
    for day, uptime, users, kpi in weekly:
        build_xlsx(tmp_path / "okrs.xlsx", sheet(uptime, users, kpi))
        assert okrsync("run", "-c", config, "--today", day).exit_code == 0
    result = okrsync("review", "-c", config, "--today", "2027-01-10", "--json", "--html", tmp_path / "review.html")
    assert result.exit_code == 0, result.stderr
    review = json.loads(result.stdout)
    assert review["cycle"] == "2026-Q4" and review["ended"] and len(review["weeks"]) == 14
    lights, market = review["teams"]["team"]
    assert (lights["objective"], lights["committed"], lights["score"], lights["grade"]) == \
        ("Keep the lights on", True, 0.8, "Partly achieved")  # committed: 0.8 ≥ 0.7 but below 1.0
    assert (market["committed"], market["score"], market["grade"]) == (False, 0.75, "Achieved")
    # the weekly path: the last score recorded by each week's end (week 1 ends 2026-10-07)
    assert lights["path"][:5] == [0.1, 0.3, 0.3, 0.3, 0.6] and lights["path"][-1] == 0.8
    assert lights["key_results"][0] == {"key_result": "Uptime work done", "owner": "Ada", "start": 0.0, "end": 80.0,
                                        "target": 100.0, "score": 0.8, "status": "Partly achieved"}
    assert review["committed_missed"] == [{"team": "team", "objective": "Keep the lights on", "owner": "Ada",
                                           "score": 0.8}]
    retention = review["kpis"][0]
    assert retention["weeks"] == 14 and round(retention["on_track_share"], 3) == round(13 / 14, 3)  # 80 < 85 in week 1

    text = okrsync("review", "-c", config, "--today", "2027-01-10").stdout
    assert "Review of 2026-Q4 (2026-10-01 – 2026-12-31, ended)" in text
    assert "Keep the lights on (committed, Ada): 0.80 Partly achieved  [weekly: 0.10 → 0.30" in text
    assert "- Uptime work done: 0.00 → 80.00 (target 100.00), score 0.80 Partly achieved" in text
    assert "Committed objectives not delivered in full:\n  - Keep the lights on (team, Ada): 0.80" in text
    page = (tmp_path / "review.html").read_text()
    assert page.count("<svg") == 2 and "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page


def test_a_cycle_the_history_does_not_cover_is_one_sentence(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", sheet(10, 5, 80))
    config = write_config(tmp_path, "okrs.xlsx")
    result = okrsync("review", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "has no run between 2026-10-01 and 2026-12-31 (cycle 2026-Q4): okrsync cannot review a cycle it did not " \
           "follow" in result.stderr
    unknown = okrsync("review", "-c", config, "--cycle", "2025-Q1", "--today", "2026-11-16")
    assert unknown.exit_code == 1 and "No key result belongs to the cycle 2025-Q1 (the sheets name: 2026-Q4)" in unknown.stderr
