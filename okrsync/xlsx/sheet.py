"""One worksheet's XML: its cells read, and owned cells spliced back in place.

The worksheet is scanned with regular expressions over the text rather than parsed into a
tree and serialised again: a tree round-trip rewrites namespace declarations (and drops the
unused ones that ``mc:Ignorable`` names, which Excel then reports as corruption). Splicing
keeps every byte that okrsync does not own. The text is safe to scan: entity declarations
can only live in a DTD, and a DTD is refused before scanning.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import unescape
from xml.sax.saxutils import escape

from openpyxl.utils.cell import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from okrsync.errors import WorkbookError
from okrsync.values import ErrorValue

_REF = re.compile(r"([A-Z]{1,3})(\d+)")
_ATTR = re.compile(r"([\w:]+)\s*=\s*(\"[^\"]*\"|'[^']*')")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_TEXT = 32_767  # Excel's limit for one cell


def _attrs(head: str) -> dict[str, str]:
    return {k: unescape(v[1:-1]) for k, v in _ATTR.findall(head)}


@dataclass
class Cell:
    value: object  # str, float, bool, date/datetime, ErrorValue or None
    style: int
    formula: bool


@dataclass(frozen=True)
class Write:
    """One owned cell as it should read: value (None = empty), cell format index."""

    row: int
    col: int
    value: object
    style: int


def clean_text(text: str) -> str:
    """Text safe for a cell: no control characters, within Excel's length limit."""
    text = _CONTROL.sub("", text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class SheetXml:
    def __init__(self, text: str, name: str):
        self.text = text
        self.name = name
        prolog = text[: text.find("<", text.find("?>") + 2 if text.startswith("<?") else 0) + 1]
        if "<!DOCTYPE" in text[:4096].upper() or "<!ENTITY" in prolog.upper():
            raise WorkbookError(f"worksheet {name} carries a DTD, which okrsync refuses to read")
        root = re.search(r"<(\w+:)?worksheet\b", text)
        if not root:
            raise WorkbookError(f"worksheet {name} is not a worksheet")
        self.p = root.group(1) or ""
        p = re.escape(self.p)
        self._row_re = re.compile(rf"<{p}row\b([^>]*?)(?:/>|>(.*?)</{p}row>)", re.S)
        self._cell_re = re.compile(rf"<{p}c\b([^>]*?)(?:/>|>(.*?)</{p}c>)", re.S)
        self._v_re = re.compile(rf"<{p}v(?:\s[^>]*)?>(.*?)</{p}v>", re.S)
        self._t_re = re.compile(rf"<{p}t(?:\s[^>]*)?>(.*?)</{p}t>|<{p}rPh\b.*?</{p}rPh>", re.S)
        data = re.search(rf"<{p}sheetData\b[^>]*?(?:/>|>(.*?)</{p}sheetData>)", text, re.S)
        if not data:
            raise WorkbookError(f"worksheet {name} has no cell data section")
        self._data = data
        self.merges = [range_boundaries(m) for m in re.findall(rf"<{p}mergeCell\s+ref=\"([A-Z0-9:]+)\"", text)]

    # -- reading ---------------------------------------------------------------------------

    def rows(self):
        """(row number, start, end, attributes head, body) of each <row> in sheetData."""
        body = self._data.group(1) or ""
        offset = self._data.start(1) if self._data.group(1) is not None else self._data.end()
        last = 0
        for m in self._row_re.finditer(body):
            attrs = _attrs(m.group(1))
            number = int(attrs["r"]) if "r" in attrs else last + 1
            last = number
            yield number, offset + m.start(), offset + m.end(), m.group(1), m.group(2) or ""

    def _cells(self, row: int, body: str):
        col = 0
        for m in self._cell_re.finditer(body):
            attrs = _attrs(m.group(1))
            ref = _REF.fullmatch(attrs.get("r", ""))
            col = column_index_from_string(ref.group(1)) if ref else col + 1
            yield col, m, attrs

    def read(self, shared: list[str], date_xfs: set[int], date1904: bool) -> dict[tuple[int, int], Cell]:
        epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        cells: dict[tuple[int, int], Cell] = {}
        for row, _s, _e, _head, body in self.rows():
            for col, m, attrs in self._cells(row, body):
                inner = m.group(2) or ""
                kind = attrs.get("t", "n")
                style = int(attrs.get("s", "0") or 0)
                formula = f"<{self.p}f" in inner
                value: object = None
                v = self._v_re.search(inner)
                raw = unescape(v.group(1)) if v else None
                if kind == "inlineStr":
                    value = "".join(unescape(t) for t in self._t_re.findall(inner) if t)
                elif raw is None:
                    value = None
                elif kind == "s":
                    index = int(raw)
                    value = shared[index] if 0 <= index < len(shared) else None
                elif kind in ("str",):
                    value = raw
                elif kind == "b":
                    value = raw.strip() in ("1", "true")
                elif kind == "e":
                    value = ErrorValue(raw)
                elif kind == "d":
                    value = _iso_date(raw)
                else:
                    try:
                        value = float(raw)
                    except ValueError:
                        value = raw
                    else:
                        if style in date_xfs:
                            value = _excel_date(value, epoch)
                if value is not None or formula or style:
                    cells[(row, col)] = Cell(value, style, formula)
        return cells

    # -- writing ---------------------------------------------------------------------------

    def apply(self, writes: list[Write]) -> str:
        """The worksheet text with ``writes`` spliced in; nothing else changes."""
        by_row: dict[int, dict[int, Write]] = {}
        for w in writes:
            by_row.setdefault(w.row, {})[w.col] = w
        pieces: list[str] = []
        cursor = 0
        max_col = 0
        for number, start, end, head, body in self.rows():
            if number not in by_row:
                continue
            edits = by_row.pop(number)
            max_col = max(max_col, *edits)
            pieces.append(self.text[cursor:start])
            pieces.append(self._row(number, head, body, edits))
            cursor = end
        if by_row:  # rows that hold no cells yet: inserted in order
            pieces.append(self.text[cursor:])
            text = "".join(pieces)
            self.text, pieces, cursor = text, [], 0
            for number in sorted(by_row):
                max_col = max(max_col, *by_row[number])
                self._insert_row(number, by_row[number])
        pieces.append(self.text[cursor:])
        text = "".join(pieces)
        return self._widen_dimension(text, max_col)

    def _cell_xml(self, ref: str, w: Write) -> str:
        p = self.p
        style = f' s="{w.style}"' if w.style else ""
        if w.value is None:
            return f'<{p}c r="{ref}"{style}/>'
        if isinstance(w.value, (int, float)) and not isinstance(w.value, bool):
            return f'<{p}c r="{ref}"{style}><{p}v>{repr(float(w.value))}</{p}v></{p}c>'
        # Inline strings can never be read as a formula, whatever the text starts with.
        text = escape(clean_text(str(w.value)))
        return f'<{p}c r="{ref}"{style} t="inlineStr"><{p}is><{p}t xml:space="preserve">{text}</{p}t></{p}is></{p}c>'

    def _row(self, number: int, head: str, body: str, edits: dict[int, Write]) -> str:
        p = self.p
        out: list[str] = []
        cursor = 0
        pending = sorted(edits)
        for col, m, _attrs in self._cells(number, body):
            while pending and pending[0] < col:
                c = pending.pop(0)
                out.append(body[cursor:m.start()])
                cursor = m.start()
                out.append(self._cell_xml(f"{get_column_letter(c)}{number}", edits[c]))
            if pending and pending[0] == col:
                pending.pop(0)
                out.append(body[cursor:m.start()])
                out.append(self._cell_xml(f"{get_column_letter(col)}{number}", edits[col]))
                cursor = m.end()
        out.append(body[cursor:])
        out.extend(self._cell_xml(f"{get_column_letter(c)}{number}", edits[c]) for c in pending)
        head = _widen_spans(head, max(edits))
        return f"<{p}row{head}>{''.join(out)}</{p}row>"

    def _insert_row(self, number: int, edits: dict[int, Write]) -> None:
        p = self.p
        cells = "".join(self._cell_xml(f"{get_column_letter(c)}{number}", edits[c]) for c in sorted(edits))
        new_row = f'<{p}row r="{number}">{cells}</{p}row>'
        self._data = re.search(rf"<{re.escape(p)}sheetData\b[^>]*?(?:/>|>(.*?)</{re.escape(p)}sheetData>)", self.text, re.S)
        position = None
        for row, start, _end, _head, _body in self.rows():
            if row > number:
                position = start
                break
        if position is None:
            if self._data.group(1) is None:  # <sheetData/>
                element = f"<{p}sheetData>{new_row}</{p}sheetData>"
                self.text = self.text[: self._data.start()] + element + self.text[self._data.end():]
                return
            position = self._data.end(1)
        self.text = self.text[:position] + new_row + self.text[position:]

    def _widen_dimension(self, text: str, max_col: int) -> str:
        m = re.search(rf'<{re.escape(self.p)}dimension\s+ref="([A-Z]+\d+)(?::([A-Z]+)(\d+))?"', text)
        if not m or not max_col:
            return text
        last_col = m.group(2) or _REF.fullmatch(m.group(1)).group(1)
        if column_index_from_string(last_col) >= max_col:
            return text
        last_row = m.group(3) or _REF.fullmatch(m.group(1)).group(2)
        ref = f"{m.group(1)}:{get_column_letter(max_col)}{last_row}"
        return text[: m.start(1)] + ref + text[m.end(1) if not m.group(2) else m.end(3):]


def _widen_spans(head: str, max_col: int) -> str:
    m = re.search(r'\sspans="(\d+):(\d+)"', head)
    if m and int(m.group(2)) < max_col:
        return head[: m.start()] + f' spans="{m.group(1)}:{max_col}"' + head[m.end():]
    return head


def _excel_date(value: float, epoch) -> object:
    try:
        return from_excel(value, epoch)
    except (ValueError, OverflowError):
        return value


def _iso_date(raw: str) -> object:
    try:
        return dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw
