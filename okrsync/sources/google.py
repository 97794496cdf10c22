"""The Google Sheets source: one read call and at most one write call per spreadsheet per run.

Read: ``spreadsheets.get`` for the OKR and KPI tabs with grid data and a field mask that asks
for values, formulas, merges and background colours only. Write: one ``spreadsheets.batchUpdate``
carrying values and colours together, only for the cells that differ (the caller diffs); none
when nothing differs. Text goes in as ``stringValue``, so it can never become a formula.
Requests share one rate limiter per Google Cloud project; 429, 5xx and network failures are retried with capped
exponential backoff and jitter, then the source fails with a clear message.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import time
import zlib

import requests

from okrsync.config import GoogleConfig, SourceConfig
from okrsync.domain import OWN_COLOURS
from okrsync.errors import SourceError, WriteSkipped
from okrsync.layout import choices_by_column, template_headers
from okrsync.ratelimit import RateLimiter, shared
from okrsync.sources.interface import CellChange, Chart, Grid, OwnedTab, fitting
from okrsync.sources.google_client import account_of, client, load_credentials, project_of
from okrsync.values import ErrorValue

log = logging.getLogger("okrsync")
READ_FIELDS = ("spreadsheetId,properties.title,sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),"
               "charts(chartId),merges,developerMetadata(metadataId,metadataKey,location),data(startRow,startColumn,rowData(values(effectiveValue,formattedValue,"
               "userEnteredValue/formulaValue,effectiveFormat(backgroundColor,numberFormat/type)))))")
RETRIED = {429, 500, 502, 503, 504}
BACKOFF_CAP = 32.0
_KEY = re.compile(r"/spreadsheets/d/([a-zA-Z0-9_-]+)")
DRIVE_FILE = "https://www.googleapis.com/drive/v3/files/{key}"
# Developer metadata okrsync anchors to each tab it writes: all its rows, all its columns, and
# each owned column. See GoogleSource.write for why.
ROWS_ANCHOR, COLUMNS_ANCHOR, OWNED_ANCHOR = "okrsync.rows", "okrsync.columns", "okrsync.owned-column"


def spreadsheet_key(text: str) -> str:
    """The key from a spreadsheet's URL, or the key itself."""
    m = _KEY.search(text)
    return m.group(1) if m else text.strip()


def _quote(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _hex(colour: dict | None) -> str | None:
    if not colour:
        return None
    channels = [round(colour.get(c, 0) * 255) for c in ("red", "green", "blue")]
    value = "".join(f"{x:02X}" for x in channels)
    return None if value == "FFFFFF" else value


def _colour(rgb: str) -> dict:
    return {name: int(rgb[i:i + 2], 16) / 255 for name, i in (("red", 0), ("green", 2), ("blue", 4))}


def _cell_range(sheet_id: int, row: int, col: int) -> dict:
    """One cell (1-based row and column) as the API's GridRange."""
    return {"sheetId": sheet_id, "startRowIndex": row - 1, "endRowIndex": row,
            "startColumnIndex": col - 1, "endColumnIndex": col}


def _next_version(before: str | None, after: str) -> bool:
    try:
        return before is not None and int(after) == int(before) + 1
    except ValueError:
        return False


def _create_anchor(key: str, sheet_id: int, dimension: str, start: int, end: int, metadata_id: int | None = None) -> dict:
    metadata = {"metadataKey": key, "visibility": "DOCUMENT",
                "location": {"dimensionRange": {"sheetId": sheet_id, "dimension": dimension,
                                                "startIndex": start, "endIndex": end}}}
    if metadata_id is not None:
        metadata["metadataId"] = metadata_id
    return {"createDeveloperMetadata": {"developerMetadata": metadata}}


def _still_there(anchor: dict) -> list[dict]:
    """A compare-and-swap on an anchor: delete it only where it was read, then create it again
    with the same id — which fails, failing the whole batch, if it was not there."""
    where = anchor["location"]["dimensionRange"]
    lookup = {"metadataId": anchor["metadataId"], "metadataLocation": {"dimensionRange": where},
              "locationMatchingStrategy": "EXACT_LOCATION"}
    return [{"deleteDeveloperMetadata": {"dataFilter": {"developerMetadataLookup": lookup}}},
            _create_anchor(anchor["metadataKey"], where.get("sheetId", 0), where["dimension"],
                           where.get("startIndex", 0), where["endIndex"], anchor["metadataId"])]


def _width(sheet_id: int, col: int, chars: float) -> dict:
    """A column's width in pixels for about ``chars`` characters."""
    return {"updateDimensionProperties": {
        "range": {"sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": col - 1, "endIndex": col},
        "properties": {"pixelSize": int(chars * 7 + 12)}, "fields": "pixelSize"}}


def _source_range(sheet_id: int, col: int, first: int, last: int) -> dict:
    return {"sources": [{"sheetId": sheet_id, "startRowIndex": first - 1, "endRowIndex": last,
                         "startColumnIndex": col - 1, "endColumnIndex": col}]}


def _chart_spec(chart: Chart, sheet_id: int) -> dict:
    """A native Sheets chart over cells of the tab (the first row of each range is its name)."""
    col, first, last = chart.categories
    bar = chart.kind == "bar"
    value_axis = "BOTTOM_AXIS" if bar else "LEFT_AXIS"
    spec = {"chartType": "BAR" if bar else "LINE", "legendPosition": "BOTTOM_LEGEND", "headerCount": 1,
            "axis": [{"position": value_axis, "viewWindowOptions": {"viewWindowMin": 0, "viewWindowMax": 1}}
                     if chart.percent else {"position": value_axis}],
            "domains": [{"domain": {"sourceRange": _source_range(sheet_id, col, first - 1, last)}}],
            "series": [{"series": {"sourceRange": _source_range(sheet_id, s.col, s.name_row, s.last_row)},
                        "targetAxis": value_axis} for s in chart.series]}
    return {"title": chart.title, "basicChart": spec}


def _chart_position(chart: Chart, sheet_id: int) -> dict:
    col, row = chart.anchor
    width, height = chart.size
    return {"overlayPosition": {"anchorCell": {"sheetId": sheet_id, "rowIndex": row - 1, "columnIndex": col - 1},
                                "widthPixels": width * 80, "heightPixels": height * 21}}


def _serial_date(value: float, kind: str) -> object:
    moment = dt.datetime(1899, 12, 30) + dt.timedelta(days=value)
    return moment.date() if kind == "DATE" else moment


class GoogleSource:
    def __init__(self, config: SourceConfig, settings: GoogleConfig, limiter: RateLimiter | None = None):
        self.config, self.settings = config, settings
        self.name = config.name
        self.key = spreadsheet_key(config.google or "")
        self.location = f"https://docs.google.com/spreadsheets/d/{self.key}"
        self.credentials = load_credentials(config.credentials)
        # the Sheets quota is per Google Cloud project: sources of one project share one budget
        self.limiter = limiter or shared(project_of(self.credentials), settings.requests_per_minute)
        self.gspread = client(self.credentials)
        self.sheets: dict[str, dict] = {}  # tab → sheet properties
        self.fills: dict[tuple[str, int, int], str | None] = {}
        self.anchors: dict[str, list[dict]] = {}  # tab → okrsync's developer metadata there, as read
        self.charts: dict[str, list[int]] = {}  # tab → the ids of its charts, as read
        self.shown: dict[str, Grid] = {}  # tab → what it showed, as read
        self.read_version: str | None = None  # Drive's version of the file just before the read
        self.written_version: str | None = None  # the version to compare the next run with, after a write

    # -- calls ----------------------------------------------------------------------------

    def _call(self, what: str, send, sheets_quota: bool = True):
        """One API call, retried on quota, server and network errors; a Sheets API call goes
        through the shared limiter (Drive's quota is another, and far larger)."""
        from gspread.exceptions import APIError

        attempt = 0
        while True:
            if sheets_quota:
                self.limiter.acquire()
            try:
                return send()
            except APIError as exc:
                code = exc.response.status_code
                if code not in RETRIED or attempt >= self.settings.retries:
                    raise self._explain(exc, what) from None
                reason = f"HTTP {code}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.settings.retries:
                    raise SourceError(f"{self.location}: Google Sheets could not be reached to {what} "
                                      f"({type(exc).__name__}) after {attempt} retries.") from None
                reason = type(exc).__name__
            pause = min(BACKOFF_CAP, self.settings.backoff_seconds * 2 ** attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            log.warning("Google Sheets: %s while trying to %s; retry %d in %.1f s", reason, what, attempt, pause)
            time.sleep(pause)

    def _explain(self, exc, what: str) -> SourceError:
        code = exc.response.status_code
        if code == 403:
            return SourceError(f"{self.location} is not shared with {account_of(self.credentials)}: share the "
                               "spreadsheet with that address as an Editor.")
        if code == 404:
            return SourceError(f"{self.location} does not exist (check the key or URL in `google`).")
        if code == 429:
            return SourceError(f"{self.location}: the Google Sheets quota stayed exhausted while trying to {what}, "
                               f"after {self.settings.retries} retries; lower [google] requests_per_minute or sync "
                               "less often. Nothing was written.")
        try:
            message = exc.response.json()["error"]["message"]
        except Exception:
            message = exc.response.text[:200]
        return SourceError(f"{self.location}: Google Sheets refused to {what} (HTTP {code}: {message}).")

    # -- the source interface ---------------------------------------------------------------

    def tab_names(self) -> list[str]:
        meta = self._call("list its tabs", lambda: self.gspread.http_client.fetch_sheet_metadata(
            self.key, params={"fields": "sheets.properties.title"}))
        return [s["properties"]["title"] for s in meta.get("sheets", [])]

    def version(self) -> str:
        """Drive's ``version`` of the spreadsheet: it goes up with every change of its content
        (as ``modifiedTime`` moves), and Drive's quota is not the Sheets API's."""
        response = self._call("check it for changes", lambda: self.gspread.http_client.request(
            "get", DRIVE_FILE.format(key=self.key), params={"fields": "version", "supportsAllDrives": "true"}),
            sheets_quota=False)
        return str(response.json().get("version", ""))

    def fingerprint(self) -> str:
        """Drive's version: one Drive call, no Sheets API quota. The first one is also the
        version a first write is checked against."""
        if self.written_version is not None:
            return f"drive-version:{self.written_version}"
        version = self.version()
        if self.read_version is None:
            self.read_version = version
        return f"drive-version:{version}"

    def read(self, tabs: list[str], optional: list[str] = (), discover: bool = False) -> dict[str, Grid]:
        """One read call. Google refuses a read that names a tab that does not exist, so when it
        is not known whether the ``optional`` tabs are there (``discover``: okrsync has not
        synced the spreadsheet with them yet), the call asks for every tab instead, once."""
        if self.read_version is None:
            self.read_version = self.version()

        def fetch(wanted):
            params = {"includeGridData": "true", "fields": READ_FIELDS, "ranges": [_quote(t) for t in wanted]}
            return self.gspread.http_client.fetch_sheet_metadata(self.key, params=params)

        if discover and optional:
            wanted = {*tabs, *optional}
            meta = self._call("read it", lambda: self.gspread.http_client.fetch_sheet_metadata(
                self.key, params={"includeGridData": "true", "fields": READ_FIELDS}))
            return {sheet["properties"]["title"]: self._grid(sheet) for sheet in meta.get("sheets", [])
                    if sheet["properties"]["title"] in wanted}

        def missing(exc: SourceError) -> bool:
            return "Unable to parse range" in str(exc)  # Google's answer when a tab does not exist

        try:
            meta = self._call("read it", lambda: fetch([*tabs, *optional]))
        except SourceError as exc:
            if not missing(exc):
                raise
            try:  # an optional tab (one okrsync adds) is not there yet: the others alone
                if not optional:
                    raise exc
                meta = self._call("read it", lambda: fetch(tabs))
            except SourceError as again:
                if not missing(again):
                    raise
                names = set(self.tab_names())  # a tab is missing: ask for the others
                present = [t for t in [*tabs, *optional] if t in names]
                meta = self._call("read it", lambda: fetch(present)) if present else {"sheets": []}
        return {sheet["properties"]["title"]: self._grid(sheet) for sheet in meta.get("sheets", [])}

    def _grid(self, sheet: dict) -> Grid:
        props = sheet["properties"]
        tab = props["title"]
        self.sheets[tab] = props
        rows: dict[int, dict[int, object]] = {}
        formulas: set[tuple[int, int]] = set()
        for block in sheet.get("data", []):
            r0, c0 = block.get("startRow", 0), block.get("startColumn", 0)
            for i, row in enumerate(block.get("rowData", [])):
                for j, cell in enumerate(row.get("values", [])):
                    key = (r0 + i + 1, c0 + j + 1)
                    value = self._value(cell)
                    if value is not None:
                        rows.setdefault(key[0], {})[key[1]] = value
                    if "formulaValue" in cell.get("userEnteredValue", {}):
                        formulas.add(key)
                    fill = _hex(cell.get("effectiveFormat", {}).get("backgroundColor"))
                    if fill:
                        self.fills[(tab, *key)] = fill
        self.charts[tab] = [c["chartId"] for c in sheet.get("charts", [])]
        self.anchors[tab] = [m for m in sheet.get("developerMetadata", [])
                             if m.get("metadataKey") in (ROWS_ANCHOR, COLUMNS_ANCHOR, OWNED_ANCHOR)]
        merges = [(m.get("startColumnIndex", 0) + 1, m.get("startRowIndex", 0) + 1, m.get("endColumnIndex", 1),
                   m.get("endRowIndex", 1)) for m in sheet.get("merges", [])]
        grid = Grid(tab, rows, merges, fill=lambda r, c, tab=tab: self.fills.get((tab, r, c)),
                    formula=lambda r, c, formulas=formulas: (r, c) in formulas)
        self.shown[tab] = grid
        return grid

    @staticmethod
    def _value(cell: dict) -> object:
        effective = cell.get("effectiveValue")
        if not effective:
            return None
        if "errorValue" in effective:
            return ErrorValue(cell.get("formattedValue") or "#ERROR!")
        if "numberValue" in effective:
            kind = cell.get("effectiveFormat", {}).get("numberFormat", {}).get("type")
            number = effective["numberValue"]
            return _serial_date(number, kind) if kind in ("DATE", "DATE_TIME") else float(number)
        if "boolValue" in effective:
            return effective["boolValue"]
        return effective.get("stringValue")

    def write(self, changes: list[CellChange], tabs: list[OwnedTab] = ()) -> int:
        """One batchUpdate with okrsync's cells, addressed by row and column as read — and made
        safe against people editing the sheet meanwhile.

        People insert, delete and move rows and columns while a run is between its read and its
        write; a cell addressed by index would then land in someone else's column. So each tab
        okrsync writes carries developer metadata anchored to all its rows, all its columns and
        each owned column: Google moves, widens, narrows or deletes that metadata with the
        dimensions it sits on. The batch begins, for every anchor seen at read time, with a
        compare-and-swap that the API's own rules make atomic: delete the anchor only where it
        lay at read time (EXACT_LOCATION), then create it again under the same id. If anything
        moved, the delete matches nothing, the id is still taken, the create fails — and Google
        rejects the whole batch, cells included. Sorting moves no dimension, and needs no guard:
        okrsync's cells stay in okrsync's columns. A tab not anchored yet (its first write) is
        guarded by Drive's version instead, checked just before the batch.
        """
        if not changes and not tabs:
            return 0
        owned = list(tabs)
        tabs = sorted({c.tab for c in changes})
        requests_: list[dict] = []
        for tab in tabs:
            requests_ += [r for anchor in self.anchors.get(tab, []) for r in _still_there(anchor)]
        guarded = bool(requests_)
        if any(not self.anchors.get(tab) for tab in tabs) and self.read_version is not None:
            if self.version() != self.read_version:
                raise WriteSkipped(f"{self.location} was edited while okrsync was syncing it; nothing was written "
                                   "this run (the next run writes the right cells).")
        grid_columns = {}
        for tab in tabs:
            props = self.sheets[tab]
            widest = max(c.col for c in changes if c.tab == tab)
            columns = props["gridProperties"]["columnCount"]
            if widest > columns:  # new owned columns beyond the grid
                requests_.append({"appendDimension": {"sheetId": props.get("sheetId", 0), "dimension": "COLUMNS",
                                                      "length": widest - columns}})
            grid_columns[tab] = max(widest, columns)
        for change in changes:
            requests_ += self._update(change)
        for tab in tabs:
            written = {c.col for c in changes if c.tab == tab}
            requests_ += self._reanchor(tab, grid_columns[tab], written)
            requests_ += self._widths(tab, [c for c in changes if c.tab == tab])
        for tab in owned:
            requests_ += self._owned_tab(tab)
        # One call: Google applies a batchUpdate whole or not at all, so a failure leaves the
        # sheet as it was and the next run writes it again.
        try:
            self._call("write to it", lambda: self.gspread.http_client.batch_update(self.key, {"requests": requests_}))
        except SourceError as exc:
            if guarded and "HTTP 400" in str(exc):
                raise WriteSkipped(
                    f"{self.location}: rows or columns of {', '.join(tabs)} were inserted, deleted or moved while "
                    "okrsync was syncing, so nothing was written this run (the next run writes the right cells). "
                    f"Google said: {exc}") from None
            raise
        # The version after the write stands for "as okrsync left it" only if okrsync's batch
        # was the one change since the read; if someone else's edit came in between, keep the
        # version the read saw, so that the next run reads the sheet again.
        after = self.version()
        self.written_version = after if _next_version(self.read_version, after) else self.read_version
        return len(changes) + sum(1 for tab in owned for row in tab.rows for v in row if v not in (None, ""))

    def _widths(self, tab: str, changes: list[CellChange]) -> list[dict]:
        """Owned columns okrsync adds (their header is new) get a width that fits their
        content; the user's columns, and owned columns that were there, keep theirs."""
        new = {c.col for c in changes if c.like}
        return [_width(self.sheets[tab].get("sheetId", 0), col, fitting(changes, col)) for col in sorted(new)]

    def _owned_tab(self, tab: OwnedTab) -> list[dict]:
        """A tab okrsync owns whole: added, or its cells rewritten (those it no longer needs
        emptied), its charts updated in place, its columns sized."""
        requests_ = []
        height = len(tab.rows)
        width = max((len(r) for r in tab.rows), default=1)
        props = self.sheets.get(tab.title)
        if props is None:
            taken = {p.get("sheetId", 0) for p in self.sheets.values()}
            sheet_id = zlib.crc32(tab.title.encode()) % 2_000_000_000 + 1
            while sheet_id in taken:
                sheet_id += 1
            props = {"sheetId": sheet_id, "title": tab.title,
                     "gridProperties": {"rowCount": max(100, height + 20), "columnCount": max(26, width)}}
            requests_.append({"addSheet": {"properties": props}})
            self.sheets[tab.title] = props
        sheet_id = props.get("sheetId", 0)
        grid = props["gridProperties"]
        shown = self.shown.get(tab.title)
        old_height = shown.max_row if shown else 0
        old_width = max((max(cells, default=0) for cells in shown.rows.values()), default=0) if shown else 0
        for dimension, need, have in (("ROWS", height, grid["rowCount"]), ("COLUMNS", width, grid["columnCount"])):
            if need > have:
                requests_.append({"appendDimension": {"sheetId": sheet_id, "dimension": dimension, "length": need - have}})
        rows = []
        for r in range(1, max(height, old_height) + 1):
            line = tab.rows[r - 1] if r <= height else []
            values = []
            for c in range(1, max(width, old_width) + 1):
                value = line[c - 1] if c <= len(line) else None
                cell: dict = {}
                if value not in (None, ""):
                    number = isinstance(value, (int, float)) and not isinstance(value, bool)
                    cell["userEnteredValue"] = {"numberValue": value} if number else {"stringValue": str(value)}
                fill = tab.fills.get((r, c))
                if fill:
                    cell["userEnteredFormat"] = {"backgroundColor": _colour(fill)}
                values.append(cell)
            rows.append({"values": values})
        requests_.append({"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0}, "rows": rows,
                                          "fields": "userEnteredValue,userEnteredFormat.backgroundColor"}})
        existing = self.charts.get(tab.title, []) if shown is not None else []
        if len(existing) == len(tab.charts):
            requests_ += [{"updateChartSpec": {"chartId": chart_id, "spec": _chart_spec(chart, sheet_id)}}
                          for chart_id, chart in zip(existing, tab.charts)]
        else:
            requests_ += [{"deleteEmbeddedObject": {"objectId": chart_id}} for chart_id in existing]
            requests_ += [{"addChart": {"chart": {"spec": _chart_spec(chart, sheet_id), "position": _chart_position(chart, sheet_id)}}}
                          for chart in tab.charts]
        requests_ += [_width(sheet_id, col, chars) for col, chars in sorted(tab.widths.items())]
        return requests_

    def _update(self, change: CellChange) -> list[dict]:
        sheet_id = self.sheets[change.tab].get("sheetId", 0)
        target = _cell_range(sheet_id, change.row, change.col)
        cell, fields = {}, ["userEnteredValue"]
        if change.value is not None:
            kind = "numberValue" if isinstance(change.value, float) else "stringValue"
            cell["userEnteredValue"] = {kind: change.value}
        shown = self.fills.get((change.tab, change.row, change.col))
        if change.fill or shown in OWN_COLOURS:  # set okrsync's colour, or take back its old one
            fields.append("userEnteredFormat.backgroundColor")
            if change.fill:
                cell["userEnteredFormat"] = {"backgroundColor": _colour(change.fill)}
        if change.two_decimals:
            fields.append("userEnteredFormat.numberFormat")
            cell.setdefault("userEnteredFormat", {})["numberFormat"] = {"type": "NUMBER", "pattern": "0.00"}
        update = {"updateCells": {"range": target, "rows": [{"values": [cell]}], "fields": ",".join(fields)}}
        if change.like:  # a new header takes the look of the header beside it, then its text
            return [{"copyPaste": {"source": _cell_range(sheet_id, *change.like), "destination": target,
                                   "pasteType": "PASTE_FORMAT"}}, update]
        return [update]

    def _reanchor(self, tab: str, columns: int, written: set[int]) -> list[dict]:
        """The requests that leave the tab's anchors where the sheet will be after this write:
        all rows, all columns (new owned columns widen the grid), and each owned column."""
        props = self.sheets[tab]
        sheet_id, rows = props.get("sheetId", 0), props["gridProperties"]["rowCount"]
        wanted = {(ROWS_ANCHOR, "ROWS", 0, rows), (COLUMNS_ANCHOR, "COLUMNS", 0, columns)}
        wanted |= {(OWNED_ANCHOR, "COLUMNS", col - 1, col) for col in written}
        requests_ = []
        for anchor in self.anchors.get(tab, []):
            where = anchor["location"]["dimensionRange"]
            place = (anchor["metadataKey"], where["dimension"], where.get("startIndex", 0), where["endIndex"])
            if place in wanted:
                wanted.discard(place)
            elif anchor["metadataKey"] != OWNED_ANCHOR:  # the grid grew: the same anchor, moved
                spot = next((w for w in wanted if w[0] == anchor["metadataKey"]), None)
                requests_.append({"deleteDeveloperMetadata": {"dataFilter": {"developerMetadataLookup": {
                                  "metadataId": anchor["metadataId"]}}}})
                if spot:  # (a second anchor of one kind is only deleted)
                    wanted.discard(spot)
                    key, dimension, start, end = spot
                    requests_.append(_create_anchor(key, sheet_id, dimension, start, end, anchor["metadataId"]))
        requests_ += [_create_anchor(key, sheet_id, dimension, start, end) for key, dimension, start, end in sorted(wanted)]
        return requests_


def lay_out(source: GoogleSource) -> list[str]:
    """``okrsync init --google``: add the OKRs and KPIs tabs that are missing, with their headers
    and drop-downs, to an existing spreadsheet. Tabs that exist are left alone."""
    existing = source.tab_names()
    requests_, added = [], []
    for tab in (source.config.okr_tab, source.config.kpi_tab):
        if tab in existing:
            continue
        kind = "okr" if tab == source.config.okr_tab else "kpi"
        headers = template_headers(kind)  # the same headers and choices as the Excel template
        sheet_id = abs(hash(tab)) % 2_000_000_000 + 1
        requests_.append({"addSheet": {"properties": {"sheetId": sheet_id, "title": tab,
                                                      "gridProperties": {"rowCount": 500, "columnCount": 26,
                                                                         "frozenRowCount": 1}}}})
        requests_.append({"updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
            "rows": [{"values": [{"userEnteredValue": {"stringValue": h},
                                  "userEnteredFormat": {"textFormat": {"bold": True},
                                                        "backgroundColor": _colour("D9E2F3")}} for h in headers]}],
            "fields": "userEnteredValue,userEnteredFormat(textFormat.bold,backgroundColor)"}})
        for column, choices in choices_by_column(kind, headers):
            requests_.append({"setDataValidation": {
                "range": {"sheetId": sheet_id, "startRowIndex": 1, "endRowIndex": 500,
                          "startColumnIndex": column, "endColumnIndex": column + 1},
                "rule": {"condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": c} for c in choices]},
                         "showCustomUi": True, "strict": False}}})
        added.append(tab)
    if requests_:
        source._call("lay out its tabs", lambda: source.gspread.http_client.batch_update(source.key, {"requests": requests_}))
    return added

