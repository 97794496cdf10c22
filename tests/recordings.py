"""Replaying the recorded real Google Sheets / Drive traffic against the emulator."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.conftest import DATA

RECORDINGS = DATA / "google-recordings"
TOKEN = "Bearer emu." + base64.urlsafe_b64encode(b"recorder@example.com").decode().rstrip("=")
UNSUPPORTED_PATHS = ("/export", "/comments", "/copy", "/upload/")
SUPPORTED_REQUESTS = {"addSheet", "deleteSheet", "updateSheetProperties", "updateSpreadsheetProperties",
                      "appendDimension", "insertDimension", "updateCells", "repeatCell", "mergeCells",
                      "unmergeCells", "copyPaste"}


def supported(interaction: dict) -> bool:
    request = interaction["request"]
    if any(p in request["uri"] for p in UNSUPPORTED_PATHS):
        return False
    if request["uri"].split("?")[0].endswith(":batchUpdate") and "/values" not in request["uri"]:
        kinds = {k for r in json.loads(request["body"] or "{}").get("requests", []) for k in r}
        return kinds <= SUPPORTED_REQUESTS
    return True


def files() -> list[Path]:
    """Recordings whose every request the emulator supports (replaying is stateful)."""
    out = []
    for path in sorted(RECORDINGS.glob("*.json")):
        interactions = json.loads(path.read_text())["interactions"]
        if interactions and all(supported(i) for i in interactions):
            out.append(path)
    return out


def shape_differences(expected, actual, where: str = "") -> list[str]:
    kind = lambda v: "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__  # noqa: E731
    if kind(expected) != kind(actual):
        return [f"{where or '/'}: {kind(expected)} expected, {kind(actual)} found"]
    if isinstance(expected, dict):
        out = [f"{where}/{k}: missing" for k in expected if k not in actual]
        out += [f"{where}/{k}: not in the real answer" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                out += shape_differences(expected[k], actual[k], f"{where}/{k}")
        return out
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(expected)} items expected, {len(actual)} found"]
        return [d for e, a in zip(expected, actual) for d in shape_differences(e, a, f"{where}[]")]
    return []


def replay(path: Path, base_url: str) -> list[str]:
    """Differences between the recorded answers and the emulator's, request by request."""
    ids: dict[str, str] = {}
    problems = []
    for n, interaction in enumerate(json.loads(path.read_text())["interactions"]):
        request, response = interaction["request"], interaction["response"]
        uri, body = request["uri"], request["body"] or ""
        target = re.search(r"/(?:spreadsheets|files)/([A-Za-z0-9_-]{20,})", uri)
        if target and target.group(1) not in ids:
            continue  # a later recording episode about a spreadsheet this file never created
        for old, new in ids.items():
            uri, body = uri.replace(old, new), body.replace(old, new)
        parts = urlsplit(uri)
        url = base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        got = requests.request(request["method"], url, data=body.encode() if body else None,
                               headers={"Authorization": TOKEN, "Content-Type": "application/json"}, timeout=30)
        where = f"{path.name} #{n} {request['method']} {parts.path}"
        if got.status_code != response["status"]["code"]:
            problems.append(f"{where}: status {got.status_code}, recorded {response['status']['code']}")
            continue
        text = response["body"]["string"]
        if not text:
            continue
        expected, actual = json.loads(text), got.json()
        _learn_ids(expected, actual, ids)
        problems += [f"{where}: {d}" for d in shape_differences(expected, actual)]
    return problems


def _learn_ids(expected, actual, ids: dict[str, str]) -> None:
    """Recorded ids (spreadsheets, sheets) → the emulator's, for the requests that follow."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in ("id", "spreadsheetId", "sheetId"):
            if key in expected and key in actual and str(expected[key]) != str(actual[key]):
                old, new = str(expected[key]), str(actual[key])
                if len(old) > 3:
                    ids[old] = new
        for k in expected:
            if k in actual:
                _learn_ids(expected[k], actual[k], ids)
    elif isinstance(expected, list) and isinstance(actual, list):
        for e, a in zip(expected, actual):
            _learn_ids(e, a, ids)
