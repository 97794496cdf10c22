"""A Google Sheets API v4 + Drive v3 emulator over real HTTP on 127.0.0.1, for tests and
benchmarks. Its answers follow the recorded real responses in
tests/data/google-recordings (field names, omitted zero values, trimmed empty cells,
range quoting, error bodies); tests/test_sheets_emulator.py replays those recordings.

It also serves the OAuth token endpoint (a test service-account key points its ``token_uri``
here), counts requests per method, enforces a per-minute quota per account on Sheets API calls (429
RESOURCE_EXHAUSTED; Drive's own quota is far larger and not modelled), injects faults, and
makes a person's edits between two calls of a client (``/__admin/edit``), all controlled over
``/__admin/...`` so that a test or benchmark in another process can use it. It models what
people do to a sheet's layout — rows and columns inserted, deleted and moved, ranges sorted,
tabs renamed and moved — with cells, formats, merges and developer metadata moving along, and
gives the spreadsheet a new Drive ``version`` and ``modifiedTime`` with every change.

Run on its own:  python -m okrsync.testing.sheets_emulator --port 8765
"""

from __future__ import annotations

import argparse
import base64
import collections
import copy
import datetime as dt
import json
import re
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openpyxl.utils.cell import column_index_from_string, get_column_letter

SHEETS = "/v4/spreadsheets"
DRIVE = "/drive/v3/files"
MIME = "application/vnd.google-apps.spreadsheet"

# The defaults a new spreadsheet reports (from the recordings).
DEFAULT_FORMAT = {
    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {"foregroundColor": {}, "fontFamily": "arial,sans,sans-serif", "fontSize": 10, "bold": False,
                   "italic": False, "strikethrough": False, "underline": False,
                   "foregroundColorStyle": {"rgbColor": {}}},
    "backgroundColorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}},
}
THEME = {"primaryFontFamily": "Arial", "themeColors": [
    {"colorType": kind, "color": {"rgbColor": rgb}} for kind, rgb in [
        ("TEXT", {}), ("BACKGROUND", {"red": 1, "green": 1, "blue": 1}),
        ("ACCENT1", {"red": 0.25882354, "green": 0.52156866, "blue": 0.95686275}),
        ("ACCENT2", {"red": 0.91764706, "green": 0.2627451, "blue": 0.20784314}),
        ("ACCENT3", {"red": 0.9843137, "green": 0.7372549, "blue": 0.015686275}),
        ("ACCENT4", {"red": 0.20392157, "green": 0.65882355, "blue": 0.3254902}),
        ("ACCENT5", {"red": 1, "green": 0.42745098, "blue": 0.003921569}),
        ("ACCENT6", {"red": 0.27450982, "green": 0.7411765, "blue": 0.7764706}),
        ("LINK", {"red": 0.06666667, "green": 0.33333334, "blue": 0.8})]]}


class ApiError(Exception):
    def __init__(self, code: int, message: str, status: str):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _prune(value):
    """The API leaves out zero numbers, false booleans and empty objects inside colours and
    grid ranges; callers prune where the real API does."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v not in (0, 0.0, None, False)}
    return value


# -- the model --------------------------------------------------------------------------------

class Sheet:
    def __init__(self, sheet_id: int, title: str, index: int, rows: int = 1000, cols: int = 26):
        self.id, self.title, self.index = sheet_id, title, index
        self.rows, self.cols = rows, cols
        self.cells: dict[tuple[int, int], dict] = {}  # (row, col) 0-based → CellData
        self.merges: list[dict] = []
        self.extra: dict = {}  # hidden, tabColor, ... as last set
        self.grid_extra: dict = {}  # frozenRowCount, hideGridlines, ...
        # Developer metadata located on this sheet or on a range of its rows or columns; kept
        # with the sheet so that a rejected batchUpdate takes it back with everything else.
        self.metadata: list[dict] = []
        self.charts: list[dict] = []  # EmbeddedChart: chartId, spec, position
        self.widths: dict[int, int] = {}  # column (0-based) → pixel size, where set

    def properties(self) -> dict:
        props = {"sheetId": self.id, "title": self.title, "index": self.index, "sheetType": "GRID",
                 "gridProperties": {"rowCount": self.rows, "columnCount": self.cols, **self.grid_extra}}
        props.update(copy.deepcopy(self.extra))
        return props


class Spreadsheet:
    def __init__(self, title: str, owner: str):
        self.id = secrets.token_urlsafe(33)[:44]
        self.title, self.owner = title, owner
        self.readers: set[str] = {owner}
        self.writers: set[str] = {owner}
        self.sheets = [Sheet(0, "Sheet1", 0)]
        self.created = self.modified = _now()
        self.version = 1

    def touch(self) -> None:
        self.modified = _now()
        self.version += 1

    def renumber(self) -> None:
        """Each sheet's index is its place in the list, after a sheet was removed or moved."""
        for i, s in enumerate(self.sheets):
            s.index = i

    def sheet(self, title: str | None = None, sheet_id: int | None = None) -> Sheet:
        for s in self.sheets:
            if (title is not None and s.title == title) or (sheet_id is not None and s.id == sheet_id):
                return s
        raise ApiError(400, f"Unable to parse range: {title}" if title is not None else
                       f"Invalid requests[0]: No grid with id: {sheet_id}", "INVALID_ARGUMENT")


def quote(title: str) -> str:
    return title if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) else "'" + title.replace("'", "''") + "'"


def a1(sheet: Sheet, r1: int, c1: int, r2: int, c2: int) -> str:
    """'Sheet'!A1:B2 for 0-based inclusive bounds."""
    start, end = f"{get_column_letter(c1 + 1)}{r1 + 1}", f"{get_column_letter(c2 + 1)}{r2 + 1}"
    return f"{quote(sheet.title)}!{start}" + ("" if (r1, c1) == (r2, c2) else f":{end}")


def parse_range(book: Spreadsheet, text: str) -> tuple[Sheet, int, int, int, int]:
    """An A1 range → (sheet, r1, c1, r2, c2), 0-based, inclusive, clipped to the grid."""
    text = urllib.parse.unquote(text)
    if "!" in text:
        title, ref = text.rsplit("!", 1)
    elif any(s.title == text.strip("'") for s in book.sheets):
        title, ref = text, ""
    else:
        title, ref = book.sheets[0].title, text
    title = title[1:-1].replace("''", "'") if title.startswith("'") and title.endswith("'") else title
    sheet = book.sheet(title)
    if not ref:
        return sheet, 0, 0, sheet.rows - 1, sheet.cols - 1
    m = re.fullmatch(r"([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?", ref.upper())
    if not m:
        raise ApiError(400, f"Unable to parse range: {text}", "INVALID_ARGUMENT")
    c1 = column_index_from_string(m[1]) - 1 if m[1] else 0
    r1 = int(m[2]) - 1 if m[2] else 0
    if m[3] is None and m[4] is None:
        c2, r2 = c1, r1
    else:
        c2 = column_index_from_string(m[3]) - 1 if m[3] else sheet.cols - 1
        r2 = int(m[4]) - 1 if m[4] else sheet.rows - 1
    return sheet, r1, c1, min(r2, sheet.rows - 1), min(c2, sheet.cols - 1)


# -- values --------------------------------------------------------------------------------

_ERRORS = {"DIVIDE_BY_ZERO": "#DIV/0!", "REF": "#REF!", "NAME": "#NAME?", "VALUE": "#VALUE!", "ERROR": "#ERROR!"}


def _evaluate(formula: str, sheet: Sheet) -> dict:
    """A small evaluator: arithmetic over numbers and cell references; other formulas #NAME?."""
    expression = formula[1:]

    def ref(m: re.Match) -> str:
        cell = sheet.cells.get((int(m[2]) - 1, column_index_from_string(m[1]) - 1), {})
        value = cell.get("effectiveValue", {}).get("numberValue", 0)
        return repr(float(value))

    expression = re.sub(r"\b([A-Z]{1,3})(\d+)\b", ref, expression)
    if not re.fullmatch(r"[\d\s.+\-*/()e]*", expression):
        return {"errorValue": {"type": "NAME", "message": f"Unknown function in {formula}"}}
    try:
        return {"numberValue": eval(expression, {"__builtins__": {}}, {})}  # noqa: S307 — digits and operators only
    except ZeroDivisionError:
        return {"errorValue": {"type": "DIVIDE_BY_ZERO", "message": "Function DIVIDE parameter 2 cannot be zero."}}
    except Exception:
        return {"errorValue": {"type": "ERROR", "message": f"Formula parse error in {formula}"}}


def _entered(value, input_option: str) -> dict:
    """userEnteredValue for what a client sends with valueInputOption RAW or USER_ENTERED."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, (int, float)):
        return {"numberValue": value}
    text = "" if value is None else str(value)
    if input_option == "USER_ENTERED":
        if text.startswith("'"):  # a leading apostrophe makes anything text
            return {"stringValue": text[1:]}
        if text.startswith("="):
            return {"formulaValue": text}
        if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text.strip()):
            return {"numberValue": float(text) if not text.strip().lstrip("+-").isdigit() else int(text)}
        if text.upper() in ("TRUE", "FALSE"):
            return {"boolValue": text.upper() == "TRUE"}
    return {"stringValue": text}


def _formatted(effective: dict) -> str:
    if "numberValue" in effective:
        n = effective["numberValue"]
        return str(int(n)) if float(n).is_integer() else repr(float(n))
    if "boolValue" in effective:
        return "TRUE" if effective["boolValue"] else "FALSE"
    if "errorValue" in effective:
        return _ERRORS.get(effective["errorValue"]["type"], "#ERROR!")
    return effective.get("stringValue", "")


def _set_value(sheet: Sheet, r: int, c: int, entered: dict | None) -> None:
    cell = sheet.cells.setdefault((r, c), {})
    if entered is None or entered == {"stringValue": ""}:
        for key in ("userEnteredValue", "effectiveValue", "formattedValue"):
            cell.pop(key, None)
    else:
        cell["userEnteredValue"] = entered
        effective = _evaluate(entered["formulaValue"], sheet) if "formulaValue" in entered else dict(entered)
        cell["effectiveValue"] = effective
        cell["formattedValue"] = _formatted(effective)
    if not cell:
        del sheet.cells[(r, c)]


def _grow(sheet: Sheet, r: int, c: int) -> None:
    sheet.rows, sheet.cols = max(sheet.rows, r + 1), max(sheet.cols, c + 1)


def _render(cell: dict, option: str):
    if option == "FORMULA" and "formulaValue" in cell.get("userEnteredValue", {}):
        return cell["userEnteredValue"]["formulaValue"]
    effective = cell.get("effectiveValue")
    if effective is None:
        return ""
    if option == "UNFORMATTED_VALUE" or option == "FORMULA":
        if "errorValue" in effective:
            return cell.get("formattedValue", "#ERROR!")
        return next(iter(effective.values()))
    return cell.get("formattedValue", "")


def value_range(sheet: Sheet, r1: int, c1: int, r2: int, c2: int, option: str, major: str = "ROWS") -> dict:
    rows = []
    for r in range(r1, r2 + 1):
        row = [_render(sheet.cells.get((r, c), {}), option) for c in range(c1, c2 + 1)]
        while row and row[-1] == "":
            row.pop()  # the API trims trailing empty cells...
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()  # ...and trailing empty rows
    if major == "COLUMNS":
        width = max((len(r) for r in rows), default=0)
        rows = [[row[i] if i < len(row) else "" for row in rows] for i in range(width)]
        for col in rows:
            while col and col[-1] == "":
                col.pop()
    out = {"range": a1(sheet, r1, c1, r2, c2), "majorDimension": major}
    if rows:
        out["values"] = rows
    return out


# -- field masks ------------------------------------------------------------------------------

def parse_fields(mask: str) -> dict:
    """'a,b(c,d/e)' → {'a': {}, 'b': {'c': {}, 'd': {'e': {}}}} ({} = everything below)."""
    tree: dict = {}
    i = 0

    def parse(level: dict, until: str | None) -> None:
        nonlocal i
        name = ""
        while i < len(mask):
            ch = mask[i]
            i += 1
            if ch in ",)":
                if name:
                    _add(level, name.strip(), {})
                name = ""
                if ch == ")":
                    return
            elif ch == "(":
                sub: dict = {}
                parse(sub, ")")
                _add(level, name.strip(), sub)
                name = ""
            else:
                name += ch
        if name:
            _add(level, name.strip(), {})

    parse(tree, None)
    return tree


def _add(level: dict, path: str, sub: dict) -> None:
    parts = re.split(r"[/.]", path)  # read masks use a/b, update masks a.b
    for part in parts[:-1]:
        level = level.setdefault(part, {})
    existing = level.get(parts[-1])
    level[parts[-1]] = _merge(existing, sub) if existing is not None else sub


def _merge(a: dict, b: dict) -> dict:
    if not a or not b:
        return {}
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if k in out else v
    return out


def apply_fields(value, tree: dict):
    if not tree:
        return value
    if isinstance(value, list):
        return [apply_fields(v, tree) for v in value]
    if isinstance(value, dict):
        return {k: apply_fields(v, tree[k]) for k, v in value.items() if k in tree}
    return value


# -- the server ------------------------------------------------------------------------------

class Emulator:
    """The state behind the HTTP server: spreadsheets, counts, quota and faults."""

    def __init__(self, quota_per_minute: int = 0):
        self.lock = threading.RLock()
        self.books: dict[str, Spreadsheet] = {}
        self.counts: collections.Counter = collections.Counter()
        self.quota = quota_per_minute  # 0: no quota
        self.recent: dict[str, collections.deque] = collections.defaultdict(collections.deque)  # per account
        self.faults: list[dict] = []
        self.edits: list[dict] = []  # a person's edits, made just before a client's next call
        self.rejected = 0

    # admin ---------------------------------------------------------------------------------
    def admin(self, action: str, body: dict) -> dict:
        with self.lock:
            if action == "reset":
                self.counts.clear()
                self.faults.clear()
                self.edits.clear()
                self.recent.clear()
                self.rejected = 0
                if body.get("spreadsheets"):
                    self.books.clear()
            elif action == "quota":
                self.quota = int(body.get("per_minute", 0))
                self.recent.clear()
            elif action == "edit":
                # as if someone edited the spreadsheet in their browser just before a later call
                # of that method (the next one, or the one after ``skip`` more): batchUpdate
                # requests, applied as the person's, not counted as the client's
                self.edits.append({"spreadsheet": body["spreadsheet"], "before": body["before"],
                                   "skip": int(body.get("skip", 0)), "requests": body["requests"]})
            elif action == "faults":
                self.faults.append({"status": body.get("status"), "delay": body.get("delay", 0),
                                    "drop": bool(body.get("drop")), "times": int(body.get("times", 1)),
                                    "method": body.get("method")})
            return {"counts": dict(self.counts), "total": sum(self.counts.values()), "rejected": self.rejected,
                    "quota": self.quota, "faults": len(self.faults)}

    def apply_edits(self, method_name: str) -> None:
        with self.lock:
            for edit in [e for e in self.edits if e["before"] == method_name]:
                if edit["skip"]:
                    edit["skip"] -= 1
                    continue
                self.edits.remove(edit)
                book = self.books[edit["spreadsheet"]]
                for request in edit["requests"]:
                    _request(book, request)
                book.touch()

    def take_fault(self, method_name: str) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault["method"] in (None, method_name):
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def over_quota(self, who: str = "") -> bool:
        """Google's binding Sheets quota: requests per minute per user (a service account is
        one) per project; two projects' service accounts have a budget each."""
        if not self.quota:
            return False
        with self.lock:
            now = time.monotonic()
            recent = self.recent[who]
            while recent and now - recent[0] > 60:
                recent.popleft()
            if len(recent) >= self.quota:
                self.rejected += 1
                return True
            recent.append(now)
            return False

    # access --------------------------------------------------------------------------------
    def book(self, book_id: str, who: str, write: bool = False) -> Spreadsheet:
        book = self.books.get(book_id)
        if book is None:
            raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
        if who not in (book.writers if write else book.readers | book.writers):
            raise ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")
        return book


def _identity(headers) -> str:
    auth = headers.get("Authorization", "")
    token = auth.split(" ", 1)[1] if " " in auth else ""
    if token.startswith("emu."):
        try:
            return base64.urlsafe_b64decode(token[4:] + "=" * (-len(token[4:]) % 4)).decode()
        except Exception:
            return ""
    return ""


def make_handler(emulator: Emulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, code: int, body=None) -> None:
            data = b"" if body is None else json.dumps(body, indent=2, ensure_ascii=False).encode()
            self.send_response(code)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code: int, message: str, status: str) -> None:
            self._send(code, {"error": {"code": code, "message": message, "status": status}})

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                return dict(urllib.parse.parse_qsl(raw.decode()))
            return json.loads(raw)

        def _handle(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            path, query = url.path, urllib.parse.parse_qs(url.query)
            body = self._body()
            if path.startswith("/__admin/"):
                return self._send(200, emulator.admin(path.rsplit("/", 1)[1], body))
            if path == "/token":
                return self._send(200, _token(body))
            if path.endswith("/allowedLocations"):  # google-auth's access-boundary lookup
                return self._send(200, {"locations": [], "encodedLocations": "0x0"})
            name = _method_name(method, path)
            with emulator.lock:
                emulator.counts[name] += 1
            emulator.apply_edits(name)
            fault = emulator.take_fault(name)
            if fault:
                if fault["delay"]:
                    time.sleep(fault["delay"])
                if fault["drop"]:
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault["status"]:
                    status = {500: "INTERNAL", 503: "UNAVAILABLE"}.get(fault["status"], "UNKNOWN")
                    return self._error(fault["status"], "The service is currently unavailable.", status)
            if not name.startswith("drive.") and emulator.over_quota(_identity(self.headers)):  # the Sheets API's quota only
                return self._error(429, "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute "
                                        "per user' of service 'sheets.googleapis.com'.", "RESOURCE_EXHAUSTED")
            who = _identity(self.headers)
            if not who:
                return self._error(401, "Request is missing required authentication credential.", "UNAUTHENTICATED")
            try:
                with emulator.lock:
                    code, result = route(emulator, method, path, query, body, who)
            except ApiError as exc:
                return self._error(exc.code, exc.message, exc.status)
            self._send(code, result)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_PUT(self):
            self._handle("PUT")

        def do_DELETE(self):
            self._handle("DELETE")

    return Handler


def _token(body: dict) -> dict:
    """OAuth token endpoint: the access token names the service account that asked."""
    assertion = body.get("assertion", "")
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        who = claims["iss"]
    except Exception:
        who = "anonymous"
    token = "emu." + base64.urlsafe_b64encode(who.encode()).decode().rstrip("=")
    return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}


def _method_name(method: str, path: str) -> str:
    """The API method a request calls, for counting: spreadsheets.get, values.update, ..."""
    if path.startswith(DRIVE):
        rest = path[len(DRIVE):]
        if rest.endswith("/permissions"):
            return "drive.permissions.create"
        return {"POST": "drive.files.create", "DELETE": "drive.files.delete"}.get(
            method, "drive.files.get" if rest.strip("/") else "drive.files.list")
    rest = path[len(SHEETS):]
    if rest == "" and method == "POST":
        return "spreadsheets.create"
    if rest.endswith(":batchUpdate") and "/values" not in rest:
        return "spreadsheets.batchUpdate"
    if "/developerMetadata" in rest:
        return "developerMetadata.search" if rest.endswith(":search") else "developerMetadata.get"
    if "/values" in rest:
        for suffix, name in ((":batchGet", "values.batchGet"), (":batchUpdate", "values.batchUpdate"),
                             (":batchClear", "values.batchClear"), (":append", "values.append"), (":clear", "values.clear")):
            if rest.endswith(suffix):
                return name
        return "values.update" if method == "PUT" else "values.get"
    return "spreadsheets.get"


def route(emu: Emulator, method: str, path: str, query: dict, body: dict, who: str):
    q = {k: v[-1] for k, v in query.items()}
    if path.startswith(DRIVE):
        return _drive(emu, method, path[len(DRIVE):], q, query, body, who)
    if not path.startswith(SHEETS):
        raise ApiError(404, "Not found", "NOT_FOUND")
    rest = path[len(SHEETS):]
    if rest == "" and method == "POST":
        book = _create(emu, body.get("properties", {}).get("title", "Untitled spreadsheet"), who)
        return 200, _spreadsheet(book, None, False, None)
    m = re.fullmatch(r"/([^/:]+)(.*)", rest)
    if not m:
        raise ApiError(404, "Not found", "NOT_FOUND")
    book_id, tail = m[1], urllib.parse.unquote(m[2])
    if tail == "" and method == "GET":
        book = emu.book(book_id, who)
        ranges = query.get("ranges")
        fields = q.get("fields")
        # grid data comes with includeGridData, or when a field mask names it
        grid = q.get("includeGridData", "false").lower() == "true" or bool(fields and "data" in parse_fields(fields).get("sheets", {}))
        return 200, _spreadsheet(book, ranges, grid, fields)
    if tail == ":batchUpdate":
        book = emu.book(book_id, who, write=True)
        before = copy.deepcopy(book.sheets)
        try:
            replies = [_request(book, r) for r in body.get("requests", [])]
        except ApiError:
            book.sheets = before  # a batchUpdate applies whole or not at all
            raise
        book.touch()
        out = {"spreadsheetId": book.id, "replies": replies}
        return 200, apply_fields(out, parse_fields(q["fields"])) if "fields" in q else out
    if tail == "/developerMetadata:search" and method == "POST":
        book = emu.book(book_id, who)
        matched = [{"developerMetadata": copy.deepcopy(m), "dataFilters": body.get("dataFilters", [])}
                   for m in _matching_metadata(book, body.get("dataFilters", []))]
        return 200, {"matchedDeveloperMetadata": matched} if matched else {}
    if tail.startswith("/developerMetadata/") and method == "GET":
        book = emu.book(book_id, who)
        wanted = tail.rsplit("/", 1)[1]
        for entry in (m for sheet in book.sheets for m in sheet.metadata):
            if str(entry["metadataId"]) == wanted:
                return 200, copy.deepcopy(entry)
        raise ApiError(404, f"No developer metadata with ID: {wanted}", "NOT_FOUND")
    if tail.startswith("/values"):
        return _values(emu, method, book_id, tail[len("/values"):], q, query, body, who)
    raise ApiError(404, "Not found", "NOT_FOUND")


def _create(emu: Emulator, title: str, who: str) -> Spreadsheet:
    book = Spreadsheet(title, who)
    emu.books[book.id] = book
    return book


def _drive(emu: Emulator, method: str, rest: str, q: dict, query: dict, body: dict, who: str):
    if rest in ("", "/") and method == "POST":
        book = _create(emu, body.get("name", "Untitled spreadsheet"), who)
        return 200, {"kind": "drive#file", "id": book.id, "name": book.title, "mimeType": MIME}
    if rest in ("", "/") and method == "GET":
        named = re.search(r"name\s*=\s*(['\"])(.*?)\1", q.get("q", ""))
        files = [{"kind": "drive#file", "mimeType": MIME, "id": b.id, "name": b.title, "createdTime": b.created,
                  "modifiedTime": b.modified} for b in emu.books.values()
                 if who in b.readers | b.writers and (not named or b.title == named.group(2))]
        fields = q.get("fields")
        out = {"kind": "drive#fileList", "incompleteSearch": False, "files": files}
        return 200, apply_fields(out, parse_fields(fields)) if fields else out
    m = re.fullmatch(r"/([^/]+)(/permissions)?", rest)
    if not m:
        raise ApiError(404, "Not found", "NOT_FOUND")
    if m[2]:
        book = emu.book(m[1], who, write=True)
        email = body.get("emailAddress", "")
        (book.writers if body.get("role") in ("writer", "owner") else book.readers).add(email)
        return 200, {"kind": "drive#permission", "id": secrets.token_hex(8), "type": body.get("type", "user"),
                     "role": body.get("role", "reader")}
    book = emu.book(m[1], who, write=method == "DELETE")
    if method == "DELETE":
        del emu.books[book.id]
        return 204, None
    info = {"kind": "drive#file", "id": book.id, "name": book.title, "mimeType": MIME, "createdTime": book.created,
            "modifiedTime": book.modified, "version": str(book.version)}
    fields = q.get("fields")
    return 200, apply_fields(info, parse_fields(fields)) if fields else {k: info[k] for k in ("kind", "id", "name", "mimeType")}


def _echo_colours(fmt: dict) -> dict:
    """How the API echoes a format: zero colour channels left out, and each colour repeated as
    its ...Style.rgbColor."""
    out = copy.deepcopy(fmt)
    if "backgroundColor" in out:
        out["backgroundColor"] = _prune(out["backgroundColor"])
        out["backgroundColorStyle"] = {"rgbColor": dict(out["backgroundColor"])}
    text = out.get("textFormat")
    if isinstance(text, dict) and "foregroundColor" in text:
        text["foregroundColor"] = _prune(text["foregroundColor"])
        text["foregroundColorStyle"] = {"rgbColor": dict(text["foregroundColor"])}
    return out


def _cell_json(cell: dict) -> dict:
    out = {}
    for key in ("userEnteredValue", "effectiveValue", "formattedValue"):
        if key in cell:
            out[key] = copy.deepcopy(cell[key])
    if "format" in cell:
        out["userEnteredFormat"] = _echo_colours(cell["format"])
        out["effectiveFormat"] = _merge_format(cell["format"])
    return out


def _merge_format(fmt: dict) -> dict:
    effective = copy.deepcopy(DEFAULT_FORMAT)
    effective.update(_echo_colours(fmt))
    return effective


def _grid_data(sheet: Sheet, r1: int, c1: int, r2: int, c2: int) -> dict:
    last = max((r for r, c in sheet.cells if r1 <= r <= r2 and c1 <= c <= c2), default=r1 - 1)
    rows = []
    for r in range(r1, last + 1):
        values = [_cell_json(sheet.cells.get((r, c), {})) for c in range(c1, c2 + 1)]
        while values and not values[-1]:
            values.pop()
        rows.append({"values": values} if values else {})
    data = {"rowData": rows, "rowMetadata": [{"pixelSize": 21}] * (r2 - r1 + 1),
            "columnMetadata": [{"pixelSize": sheet.widths.get(c, 100)} for c in range(c1, c2 + 1)]}
    if r1:
        data["startRow"] = r1
    if c1:
        data["startColumn"] = c1
    return data


def _spreadsheet(book: Spreadsheet, ranges, grid: bool, fields: str | None) -> dict:
    selected: dict[int, list] = {}
    for text in ranges or []:
        sheet, r1, c1, r2, c2 = parse_range(book, text)
        selected.setdefault(sheet.id, []).append((r1, c1, r2, c2))
    sheets = []
    for sheet in book.sheets:
        if ranges and sheet.id not in selected:
            continue
        entry = {"properties": sheet.properties()}
        if sheet.merges:
            entry["merges"] = [({"sheetId": sheet.id} if sheet.id else {}) | m for m in sheet.merges]
        if sheet.metadata:
            entry["developerMetadata"] = copy.deepcopy(sheet.metadata)
        if sheet.charts:
            entry["charts"] = copy.deepcopy(sheet.charts)
        if grid:
            boxes = selected.get(sheet.id) or [(0, 0, sheet.rows - 1, sheet.cols - 1)]
            entry["data"] = [_grid_data(sheet, *box) for box in boxes]
        sheets.append(entry)
    out = {"spreadsheetId": book.id,
           "properties": {"title": book.title, "locale": "en_US", "autoRecalc": "ON_CHANGE", "timeZone": "Etc/GMT",
                          "defaultFormat": copy.deepcopy(DEFAULT_FORMAT), "spreadsheetTheme": copy.deepcopy(THEME)},
           "sheets": sheets,
           "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.id}/edit"}
    return apply_fields(out, parse_fields(fields)) if fields else out


def _grid_range(book: Spreadsheet, gr: dict) -> tuple[Sheet, int, int, int, int]:
    sheet = book.sheet(sheet_id=gr.get("sheetId", 0))
    return (sheet, gr.get("startRowIndex", 0), gr.get("startColumnIndex", 0),
            gr.get("endRowIndex", sheet.rows) - 1, gr.get("endColumnIndex", sheet.cols) - 1)


def _apply_cell(sheet: Sheet, r: int, c: int, data: dict, fields: str) -> None:
    tree = parse_fields(fields) if fields != "*" else {}
    if not tree or "userEnteredValue" in tree:
        _set_value(sheet, r, c, data.get("userEnteredValue"))
    if not tree or "userEnteredFormat" in tree:
        cell = sheet.cells.setdefault((r, c), {})
        fmt = copy.deepcopy(cell.get("format", {}))
        wanted = tree.get("userEnteredFormat", {}) if tree else {}
        new = data.get("userEnteredFormat", {})
        keys = list(wanted) if wanted else list(set(fmt) | set(new))
        for key in keys:
            if key in new:
                fmt[key] = copy.deepcopy(new[key])
            else:
                fmt.pop(key, None)
        if fmt:
            cell["format"] = fmt
        else:
            cell.pop("format", None)
        if not cell:
            del sheet.cells[(r, c)]


def _dimension_keys(dimension: str) -> tuple[str, str]:
    return ("startRowIndex", "endRowIndex") if dimension == "ROWS" else ("startColumnIndex", "endColumnIndex")


def _mapped_span(start: int, end: int, new_index) -> tuple[int, int] | None:
    """Where a span of rows or columns lies after a change of the dimension: from its first to
    its last surviving index (so inserting inside a span widens it, as in the API)."""
    kept = [n for n in map(new_index, range(start, end)) if n is not None]
    return (min(kept), max(kept) + 1) if kept else None


def _remap(sheet: Sheet, dimension: str, new_index, grow: int) -> None:
    """Rows or columns inserted, deleted or moved: cells, merges and developer metadata go with
    them; ``new_index`` maps an old index to its new one (None: deleted)."""
    rows = dimension == "ROWS"
    moved = {}
    for (r, c), cell in sheet.cells.items():
        n = new_index(r if rows else c)
        if n is not None:
            moved[(n, c) if rows else (r, n)] = cell
    sheet.cells = moved
    low, high = _dimension_keys(dimension)
    merges = []
    for merge in sheet.merges:
        span = _mapped_span(merge[low], merge[high], new_index)
        if span:
            merges.append({**merge, low: span[0], high: span[1]})
    sheet.merges = merges
    kept = []
    for entry in sheet.metadata:
        where = entry["location"].get("dimensionRange")
        if where and where["dimension"] == dimension:
            span = _mapped_span(where.get("startIndex", 0), where["endIndex"], new_index)
            if span is None:
                continue  # its rows or columns are gone, and so is it
            entry["location"]["dimensionRange"] = _prune({**where, "startIndex": span[0], "endIndex": span[1]})
        kept.append(entry)
    sheet.metadata = kept
    if rows:
        sheet.rows += grow
    else:
        sheet.cols += grow


def _sort_key(cell: dict | None):
    value = (cell or {}).get("effectiveValue", {})
    if "numberValue" in value:
        return (0, value["numberValue"], "")
    if "stringValue" in value:
        return (1, 0, value["stringValue"].lower())
    if "boolValue" in value:
        return (2, int(value["boolValue"]), "")
    return None


def _sort_range(book: Spreadsheet, spec: dict) -> dict:
    """sortRange: the rows of the range reordered by its sort specs; blanks go last either way.
    Whole cells (values and formats) move; rows, columns and their metadata stay put."""
    sheet, r1, c1, r2, c2 = _grid_range(book, spec["range"])
    r2 = min(r2, max((r for r, _ in sheet.cells), default=r1))
    rows = [{c: sheet.cells.pop((r, c)) for c in range(c1, c2 + 1) if (r, c) in sheet.cells} for r in range(r1, r2 + 1)]
    for sort in reversed(spec.get("sortSpecs", [])):  # stable sorts, last key first
        column = sort.get("dimensionIndex", 0)
        filled = [row for row in rows if _sort_key(row.get(column)) is not None]
        blank = [row for row in rows if _sort_key(row.get(column)) is None]
        filled.sort(key=lambda row: _sort_key(row[column]), reverse=sort.get("sortOrder") == "DESCENDING")
        rows = filled + blank
    for r, row in enumerate(rows, start=r1):
        for c, cell in row.items():
            sheet.cells[(r, c)] = cell
    return {}


def _metadata_location(book: Spreadsheet, location: dict) -> tuple[Sheet, dict]:
    """The sheet a metadata location lies on, and the location as the API echoes it."""
    if "dimensionRange" in location:
        where = location["dimensionRange"]
        sheet = book.sheet(sheet_id=where.get("sheetId", 0))
        count = sheet.rows if where["dimension"] == "ROWS" else sheet.cols
        if not 0 <= where.get("startIndex", 0) < where["endIndex"] <= count:
            raise ApiError(400, "Invalid requests[0].createDeveloperMetadata: the location's range lies outside the grid.",
                           "INVALID_ARGUMENT")
        kind = "ROW" if where["dimension"] == "ROWS" else "COLUMN"
        return sheet, {"locationType": kind, "dimensionRange": _prune(dict(where))}
    if "sheetId" in location:
        sheet = book.sheet(sheet_id=location["sheetId"])
        return sheet, _prune({"locationType": "SHEET", "sheetId": location["sheetId"]})
    raise ApiError(400, "Invalid requests[0].createDeveloperMetadata: only sheet, row and column locations are modelled.",
                   "INVALID_ARGUMENT")


def _create_metadata(book: Spreadsheet, spec: dict) -> dict:
    metadata_id = spec.get("metadataId") or secrets.randbelow(2**31 - 2) + 1
    if any(m["metadataId"] == metadata_id for sheet in book.sheets for m in sheet.metadata):
        raise ApiError(400, f"Invalid requests[0].createDeveloperMetadata: Developer metadata with id {metadata_id} "
                            "already exists.", "INVALID_ARGUMENT")
    sheet, location = _metadata_location(book, spec.get("location", {}))
    entry = {"metadataId": metadata_id, "metadataKey": spec.get("metadataKey", ""), "location": location,
             "visibility": spec.get("visibility", "DOCUMENT")}
    if "metadataValue" in spec:
        entry["metadataValue"] = spec["metadataValue"]
    sheet.metadata.append(entry)
    return copy.deepcopy(entry)


def _normal_range(where: dict) -> tuple:
    return where.get("sheetId", 0), where["dimension"], where.get("startIndex", 0), where["endIndex"]


def _location_matches(entry: dict, wanted: dict, exact: bool) -> bool:
    have = entry["location"]
    if "dimensionRange" in wanted:
        if "dimensionRange" not in have:
            return False
        a, b = _normal_range(have["dimensionRange"]), _normal_range(wanted["dimensionRange"])
        return a == b if exact else (a[:2] == b[:2] and a[2] < b[3] and b[2] < a[3])
    if "sheetId" in wanted:
        sheet_of = have.get("sheetId", have.get("dimensionRange", {}).get("sheetId", 0))
        return sheet_of == wanted["sheetId"] and (not exact or have.get("locationType") == "SHEET")
    return "locationType" not in wanted or have.get("locationType") == wanted["locationType"]


def _matching_metadata(book: Spreadsheet, filters: list[dict]) -> list[dict]:
    """The metadata any of these DataFilters' developerMetadataLookup matches."""
    found = []
    for data_filter in filters:
        lookup = data_filter.get("developerMetadataLookup")
        if lookup is None:
            raise ApiError(400, "Only developerMetadataLookup data filters are modelled.", "INVALID_ARGUMENT")
        exact = lookup.get("locationMatchingStrategy", "INTERSECTING_LOCATION") == "EXACT_LOCATION"
        for sheet in book.sheets:
            for entry in sheet.metadata:
                if ("metadataId" in lookup and entry["metadataId"] != lookup["metadataId"]
                        or "metadataKey" in lookup and entry["metadataKey"] != lookup["metadataKey"]
                        or "metadataValue" in lookup and entry.get("metadataValue") != lookup["metadataValue"]
                        or "locationType" in lookup and entry["location"]["locationType"] != lookup["locationType"]
                        or "metadataLocation" in lookup and not _location_matches(entry, lookup["metadataLocation"], exact)):
                    continue
                if entry not in found:
                    found.append(entry)
    return found


def _request(book: Spreadsheet, request: dict) -> dict:
    (kind, spec), = request.items()
    if kind == "addSheet":
        props = spec.get("properties", {})
        title = props.get("title") or f"Sheet{len(book.sheets) + 1}"
        if any(s.title == title for s in book.sheets):
            raise ApiError(400, f'Invalid requests[0].addSheet: A sheet with the name "{title}" already exists. '
                                "Please enter another name.", "INVALID_ARGUMENT")
        grid = props.get("gridProperties", {})
        sheet = Sheet(props.get("sheetId", secrets.randbelow(2**31 - 1) + 1), title, len(book.sheets),
                      grid.get("rowCount", 1000), grid.get("columnCount", 26))
        book.sheets.append(sheet)
        return {"addSheet": {"properties": sheet.properties()}}
    if kind == "deleteSheet":
        sheet = book.sheet(sheet_id=spec["sheetId"])
        book.sheets.remove(sheet)
        book.renumber()
        return {}
    if kind == "updateSheetProperties":
        props = spec["properties"]
        sheet = book.sheet(sheet_id=props.get("sheetId", 0))
        for field in spec.get("fields", "").split(","):
            field = field.strip()
            if field == "title":
                sheet.title = props["title"]
            elif field.startswith("gridProperties"):
                grid = props.get("gridProperties", {})
                name = field.split(".", 1)[1] if "." in field else None
                for key, value in grid.items() if name is None else [(name, grid.get(name))]:
                    if key == "rowCount":
                        sheet.rows = value
                    elif key == "columnCount":
                        sheet.cols = value
                    elif value in (None, 0, False):
                        sheet.grid_extra.pop(key, None)  # zero values are left out
                    else:
                        sheet.grid_extra[key] = value
            elif field in ("hidden", "tabColor", "tabColorStyle", "rightToLeft"):
                value = props.get(field)
                if field == "tabColor" and value is not None:
                    sheet.extra["tabColorStyle"] = {"rgbColor": _prune(value)}
                if value in (None, False, {}):
                    sheet.extra.pop(field, None)
                    if field == "tabColor":
                        sheet.extra.pop("tabColorStyle", None)
                else:
                    sheet.extra[field] = _prune(value) if isinstance(value, dict) else value
            elif field == "index":
                book.sheets.remove(sheet)
                book.sheets.insert(props["index"], sheet)
                book.renumber()
        return {}
    if kind == "updateSpreadsheetProperties":
        if "title" in spec.get("properties", {}):
            book.title = spec["properties"]["title"]
        return {}
    if kind == "appendDimension":
        sheet, length = book.sheet(sheet_id=spec.get("sheetId", 0)), spec["length"]
        if spec["dimension"] == "ROWS":
            sheet.rows += length
        else:
            sheet.cols += length
        return {}
    if kind == "insertDimension":
        rng = spec["range"]
        sheet, start = book.sheet(sheet_id=rng.get("sheetId", 0)), rng.get("startIndex", 0)
        length = rng["endIndex"] - start
        _remap(sheet, rng["dimension"], lambda i: i + length if i >= start else i, grow=length)
        return {}
    if kind == "deleteDimension":
        rng = spec["range"]
        sheet, start, end = book.sheet(sheet_id=rng.get("sheetId", 0)), rng.get("startIndex", 0), rng["endIndex"]
        count = sheet.rows if rng["dimension"] == "ROWS" else sheet.cols
        if end - start >= count:
            raise ApiError(400, "Invalid requests[0].deleteDimension: You can't delete all the rows on the sheet.",
                           "INVALID_ARGUMENT")
        _remap(sheet, rng["dimension"], lambda i: None if start <= i < end else (i - (end - start) if i >= end else i),
               grow=start - end)
        return {}
    if kind == "moveDimension":
        rng = spec["source"]
        sheet, start, end = book.sheet(sheet_id=rng.get("sheetId", 0)), rng.get("startIndex", 0), rng["endIndex"]
        count = sheet.rows if rng["dimension"] == "ROWS" else sheet.cols
        order = [i for i in range(count) if not start <= i < end]
        # destinationIndex counts positions before the move, as the API documents
        at = spec["destinationIndex"] - sum(1 for i in range(start, end) if i < spec["destinationIndex"])
        order[at:at] = list(range(start, end))
        new_index = {old: new for new, old in enumerate(order)}
        _remap(sheet, rng["dimension"], new_index.__getitem__, grow=0)
        return {}
    if kind == "sortRange":
        return _sort_range(book, spec)
    if kind == "createDeveloperMetadata":
        return {"createDeveloperMetadata": {"developerMetadata": _create_metadata(book, spec["developerMetadata"])}}
    if kind == "deleteDeveloperMetadata":
        deleted = _matching_metadata(book, [spec["dataFilter"]])
        for sheet in book.sheets:
            sheet.metadata = [m for m in sheet.metadata if m not in deleted]
        return {"deleteDeveloperMetadata": {"deletedDeveloperMetadata": copy.deepcopy(deleted)}}
    if kind == "updateCells":
        if "range" in spec:
            sheet, r1, c1, r2, c2 = _grid_range(book, spec["range"])
        else:
            start = spec["start"]
            sheet, r1, c1 = book.sheet(sheet_id=start.get("sheetId", 0)), start.get("rowIndex", 0), start.get("columnIndex", 0)
            r2 = c2 = None
        for i, row in enumerate(spec.get("rows", [])):
            for j, data in enumerate(row.get("values", [])):
                r, c = r1 + i, c1 + j
                if r2 is not None and (r > r2 or c > c2):
                    continue
                if r >= sheet.rows or c >= sheet.cols:
                    raise ApiError(400, f"Invalid requests[0].updateCells: GridCoordinate.columnIndex[{c}] is after "
                                        f"last column in grid[{c}]", "INVALID_ARGUMENT")
                _apply_cell(sheet, r, c, data, spec["fields"])
        return {}
    if kind == "repeatCell":
        sheet, r1, c1, r2, c2 = _grid_range(book, spec["range"])
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                _apply_cell(sheet, r, c, spec["cell"], spec["fields"])
        return {}
    if kind == "copyPaste":
        src, r1, c1, _, _ = _grid_range(book, spec["source"])
        dst, d1, e1, d2, e2 = _grid_range(book, spec["destination"])
        cell = src.cells.get((r1, c1), {})
        for r in range(d1, d2 + 1):
            for c in range(e1, e2 + 1):
                if spec.get("pasteType") == "PASTE_FORMAT":
                    _apply_cell(dst, r, c, {"userEnteredFormat": cell.get("format", {})}, "userEnteredFormat")
                else:
                    _set_value(dst, r, c, cell.get("userEnteredValue"))
        return {}
    if kind == "mergeCells":
        sheet, r1, c1, r2, c2 = _grid_range(book, spec["range"])
        merge_type = spec.get("mergeType", "MERGE_ALL")
        sheet.merges = [m for m in sheet.merges  # a new merge replaces the ones it overlaps
                        if m["endRowIndex"] <= r1 or m["startRowIndex"] > r2 or m["endColumnIndex"] <= c1
                        or m["startColumnIndex"] > c2]
        rows = [(r, r) for r in range(r1, r2 + 1)] if merge_type == "MERGE_ROWS" else [(r1, r2)]
        cols = [(c, c) for c in range(c1, c2 + 1)] if merge_type == "MERGE_COLUMNS" else [(c1, c2)]
        for top, bottom in rows:
            for left, right in cols:
                sheet.merges.append({"startRowIndex": top, "endRowIndex": bottom + 1,
                                     "startColumnIndex": left, "endColumnIndex": right + 1})
        return {}
    if kind == "unmergeCells":
        sheet, r1, c1, r2, c2 = _grid_range(book, spec["range"])
        sheet.merges = [m for m in sheet.merges if not (m["startRowIndex"] >= r1 and m["endRowIndex"] - 1 <= r2
                                                        and m["startColumnIndex"] >= c1 and m["endColumnIndex"] - 1 <= c2)]
        return {}
    if kind == "addChart":
        chart = copy.deepcopy(spec["chart"])
        anchor = chart.get("position", {}).get("overlayPosition", {}).get("anchorCell", {})
        sheet = book.sheet(sheet_id=anchor.get("sheetId", 0))
        taken = {c["chartId"] for s in book.sheets for c in s.charts}
        while "chartId" not in chart or (chart["chartId"] in taken and "chartId" not in spec["chart"]):
            chart["chartId"] = secrets.randbelow(2**31 - 1) + 1
        if chart["chartId"] in taken:
            raise ApiError(400, f"Invalid requests[0].addChart: An object with id {chart['chartId']} already exists.",
                           "INVALID_ARGUMENT")
        sheet.charts.append(chart)
        return {"addChart": {"chart": copy.deepcopy(chart)}}
    if kind == "updateChartSpec":
        chart = next((c for s in book.sheets for c in s.charts if c["chartId"] == spec["chartId"]), None)
        if chart is None:
            raise ApiError(400, f"Invalid requests[0].updateChartSpec: No chart with id: {spec['chartId']}",
                           "INVALID_ARGUMENT")
        chart["spec"] = copy.deepcopy(spec["spec"])
        return {}
    if kind == "deleteEmbeddedObject":
        for sheet in book.sheets:
            sheet.charts = [c for c in sheet.charts if c["chartId"] != spec["objectId"]]
        return {}
    if kind == "updateDimensionProperties":
        rng = spec["range"]
        sheet = book.sheet(sheet_id=rng.get("sheetId", 0))
        if rng["dimension"] == "COLUMNS" and "pixelSize" in spec.get("properties", {}):
            for c in range(rng.get("startIndex", 0), rng["endIndex"]):
                sheet.widths[c] = spec["properties"]["pixelSize"]
        return {}
    if kind in ("setDataValidation", "autoResizeDimensions", "updateBorders",
                "addConditionalFormatRule", "addProtectedRange"):
        return {}  # accepted; not modelled
    raise ApiError(400, f'Invalid JSON payload received. Unknown name "{kind}" at \'requests[0]\': Cannot find field.',
                   "INVALID_ARGUMENT")


def _values(emu: Emulator, method: str, book_id: str, tail: str, q: dict, query: dict, body: dict, who: str):
    write = method in ("PUT", "POST")
    book = emu.book(book_id, who, write=write)
    option = q.get("valueRenderOption", "FORMATTED_VALUE")
    if tail == ":batchGet":
        ranges = [value_range(*parse_range(book, r), option, q.get("majorDimension", "ROWS")) for r in query.get("ranges", [])]
        return 200, {"spreadsheetId": book.id, "valueRanges": ranges}
    if tail == ":batchUpdate":
        responses = [_update(book, d["range"], d.get("values", []), body.get("valueInputOption", "RAW"))
                     for d in body.get("data", [])]
        book.touch()
        cells = sum(r["updatedCells"] for r in responses)
        out = {"spreadsheetId": book.id, "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
               "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
               "totalUpdatedCells": cells, "totalUpdatedSheets": len({r["updatedRange"].rsplit("!", 1)[0] for r in responses}),
               "responses": responses}
        return 200, out
    if tail == ":batchClear":
        cleared = [_clear(book, r) for r in body.get("ranges", [])]
        book.touch()
        return 200, {"spreadsheetId": book.id, "clearedRanges": cleared}
    name = tail.lstrip("/")
    for suffix in (":append", ":clear"):
        if name.endswith(suffix):
            name, action = name[: -len(suffix)], suffix
            break
    else:
        action = ""
    if action == ":clear":
        book.touch()
        return 200, {"spreadsheetId": book.id, "clearedRange": _clear(book, name)}
    if action == ":append":
        sheet, r1, c1, r2, c2 = parse_range(book, name)
        filled = [(r, c) for (r, c), cell in sheet.cells.items()
                  if "userEnteredValue" in cell and r1 <= r <= r2 and c1 <= c <= c2]
        out = {"spreadsheetId": book.id}
        if filled:  # the table is the extent of what is there; rows go below it, from its first column
            top, left = min(r for r, _ in filled), min(c for _, c in filled)
            bottom, right = max(r for r, _ in filled), max(c for _, c in filled)
            out["tableRange"] = a1(sheet, top, left, bottom, right)
            target = a1(sheet, bottom + 1, left, bottom + 1, left)
        else:
            target = a1(sheet, r1, c1, r1, c1)
        out["updates"] = _update(book, target, body.get("values", []), q.get("valueInputOption", "RAW"))
        book.touch()
        return 200, out
    if method == "PUT":
        result = _update(book, name, body.get("values", []), q.get("valueInputOption", "RAW"))
        book.touch()
        return 200, result
    return 200, value_range(*parse_range(book, name), option, q.get("majorDimension", "ROWS"))


def _update(book: Spreadsheet, rng: str, values: list, input_option: str) -> dict:
    sheet, r1, c1, _, _ = parse_range(book, rng)
    width = max((len(row) for row in values), default=0)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            _grow(sheet, r1 + i, c1 + j)
            _set_value(sheet, r1 + i, c1 + j, None if value is None else _entered(value, input_option))
    rows = len(values)
    return {"spreadsheetId": book.id, "updatedRange": a1(sheet, r1, c1, r1 + max(rows, 1) - 1, c1 + max(width, 1) - 1),
            "updatedRows": rows, "updatedColumns": width, "updatedCells": sum(len(r) for r in values)}


def _clear(book: Spreadsheet, rng: str) -> str:
    sheet, r1, c1, r2, c2 = parse_range(book, rng)
    for (r, c) in list(sheet.cells):
        if r1 <= r <= r2 and c1 <= c <= c2:
            _set_value(sheet, r, c, None)
    return a1(sheet, r1, c1, r2, c2)


class Server:
    """The emulator on a free port of 127.0.0.1, in a background thread."""

    def __init__(self, port: int = 0, quota_per_minute: int = 0):
        self.emulator = Emulator(quota_per_minute)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(self.emulator))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Google Sheets API v4 + Drive v3 emulator on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--quota", type=int, default=0, help="requests per minute (0: unlimited)")
    args = parser.parse_args()
    server = Server(args.port, args.quota)
    print(f"Sheets API emulator at {server.url} (admin: {server.url}/__admin/counts); Ctrl-C stops it", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
