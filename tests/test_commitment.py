"""Committed and aspirational objectives: a committed one is expected in full (bands
scoring.committed, green 1.0 and yellow 0.7 by default), read from Excel and Google alike."""

from __future__ import annotations

import email
import email.policy
import json

from tests.conftest import build_xlsx, okrsync, write_config
from tests.google_fixtures import google, google_config  # noqa: F401  (fixture)

HEADER = ["Objective", "Objective owner", "OKR type", "Key result", "Owner", "Start", "Target", "Current"]


def rows() -> dict[str, list[list]]:
    return {"OKRs": [
        HEADER,
        ["Keep the lights on", "Ada", "Committed", "Uptime work done", "Ada", 0, 100, 45],
        [None, None, None, "Patch backlog cleared", "Bo", 0, 10, 4.5],          # continues: committed too
        ["Win the market", "Cy", "moonshot", "Grow users", "Cy", 0, 100, 45],  # aspirational
        ["Tidy the office", "Di", None, "Boxes unpacked", "Di", 0, 10, 4.5],    # blank: the default
    ]}


def statuses(stdout: str) -> dict[str, str]:
    source = json.loads(stdout)["sources"][0]
    return {k["key_result"]: k["status"] for k in source["key_results"]} | \
        {o["objective"]: o["status"] for o in source["objectives"]}


MID = {  # 2026-11-15: 45 of 91 days, f = 0.49; every score is 0.45
    "Uptime work done": "At risk", "Patch backlog cleared": "At risk", "Keep the lights on": "At risk",  # < 1.0·f
    "Grow users": "On track", "Win the market": "On track", "Boxes unpacked": "On track", "Tidy the office": "On track",
}


def test_committed_objectives_use_their_own_bands(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", rows())
    config = write_config(tmp_path, "okrs.xlsx")
    assert statuses(okrsync("validate", "-c", config, "--json", "--today", "2026-11-15").stdout) == MID
    rules = tmp_path / "rules.yaml"
    rules.write_text("scoring:\n  default_commitment: committed\n  committed: {green: 0.9, yellow: 0.5}\n")
    config = write_config(tmp_path, "okrs.xlsx", extra=f'rules = ["{rules}"]')
    after = statuses(okrsync("validate", "-c", config, "--json", "--today", "2027-01-10").stdout)
    assert after["Keep the lights on"] == "Missed"  # 0.45 below the committed yellow, 0.5
    assert after["Tidy the office"] == "Missed"  # blank is committed now
    assert after["Win the market"] == "Partly achieved"  # aspirational: 0.45 ≥ 0.4, < 0.7


def test_a_committed_objective_ending_below_full_is_named_in_the_leaders_digest(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", rows())
    config = write_config(tmp_path, "okrs.xlsx", extra='[email]\noutbox = "outbox"\n[[digests]]\nname = "leaders"\n'
                                                      'to = ["ceo@example.com"]\nwhen = "mon 08:00"\n')
    assert okrsync("run", "-c", config, "--today", "2027-01-11").exit_code == 0
    mail = email.message_from_bytes(next((tmp_path / "outbox").glob("*.eml")).read_bytes(), policy=email.policy.default)
    text = mail.get_body(("plain",)).get_content()
    assert "Committed objectives not delivered in full:" in text
    assert "[Missed] Keep the lights on (team) — 0.45 — Ada" in text and "Win the market" not in text.split(
        "Committed objectives not delivered in full:")[1].split("\n\n")[0]


def test_commitment_reads_the_same_from_google_sheets(tmp_path, google):  # noqa: F811
    book = google.spreadsheet(rows())
    result = okrsync("validate", "-c", google_config(tmp_path, google, book.id), "--json", "--today", "2026-11-15")
    assert statuses(result.stdout) == MID
