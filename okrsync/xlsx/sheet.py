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
from itertools import chain
from typing import NamedTuple
from xml.sax.saxutils import escape

from okrsync.errors import WorkbookError
from okrsync.refs import COLUMN_NUMBERS, column_letter, column_number, range_bounds
from okrsync.values import ErrorValue, excel_escaped, excel_unescaped

_REF = re.compile(r"([A-Z]{1,3})(\d+)")
_R = re.compile(r"\br\s*=\s*[\"']([A-Z]{1,3})\d+")
_ROW_R = re.compile(r"\br\s*=\s*[\"'](\d+)")
_S = re.compile(r"\bs\s*=\s*[\"'](\d+)")
_T = re.compile(r"\bt\s*=\s*[\"'](\w+)")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_TEXT = 32_767  # Excel's limit for one cell
STRETCH = 1 << 20  # characters of cell data scanned (and written) at a time

_EPOCH_1900 = dt.datetime(1899, 12, 30)  # serial 0 as Excel counts (see _excel_date)
_EPOCH_1904 = dt.datetime(1904, 1, 1)


@dataclass
class Cells:
    """A worksheet's cells: values by row and column (only cells that hold one), cell format
    indexes and formula cells by (row, column)."""

    rows: dict[int, dict[int, object]]
    styles: dict[tuple[int, int], int]
    formulas: set[tuple[int, int]]


class Write(NamedTuple):  # a tuple: one is made for every owned cell written
    """One owned cell as it should read: value (None = empty), cell format index."""

    row: int
    col: int
    value: object
    style: int


def clean_text(text: str) -> str:
    """Text safe for a cell: no control characters, within Excel's length limit."""
    if not text.isprintable():  # the common case skips the regex
        text = _CONTROL.sub("", text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class SheetXml:
    def __init__(self, text: str, name: str):
        self.text = text
        self.name = name
        # XML spells both in capitals; wherever they stand (after a long comment, say) they are refused
        if "<!DOCTYPE" in text or "<!ENTITY" in text:
            raise WorkbookError(f"worksheet {name} carries a DTD, which okrsync refuses to read")
        root = re.search(r"<(\w+:)?worksheet\b", text)
        if not root:
            raise WorkbookError(f"worksheet {name} is not a worksheet")
        self.p = root.group(1) or ""
        p = re.escape(self.p)
        self._row_re = re.compile(rf"<{p}row\b([^>]*?)(?:/>|>(.*?)</{p}row>)", re.S)
        self._cell_re = re.compile(rf"<{p}c\b([^>]*?)(?:/>|>(.*?)</{p}c>)", re.S)
        self._v_re = re.compile(rf"<{p}v(?:\s[^>]*)?>(.*?)</{p}v>", re.S)
        self._t_one = re.compile(rf"<{p}t(?:\s[^>]*)?>(.*?)</{p}t>", re.S)
        self._t_re = re.compile(rf"<{p}t(?:\s[^>]*)?>(.*?)</{p}t>|<{p}rPh\b.*?</{p}rPh>", re.S)
        self._f_tag, self._v_open, self._v_close = f"<{self.p}f", f"<{self.p}v>", f"</{self.p}v>"
        self._cell_scan = re.compile(  # a cell that starts with its reference, see _cell_batches
            rf'<{p}c r="([A-Z]{{1,3}})(\d+)"(?: s="(\d+)")?(?: t="(\w+)")?([^>]*?)'
            rf'(?:/>|>(?:<{p}v>([^<]+)</{p}v>|<{p}is><{p}t(?:\s[^>]*)?>([^<]+)</{p}t></{p}is>|(.*?))</{p}c>)', re.S)
        self._locate_data()
        tail = text[self._data_end:]  # merged ranges follow the cell data
        merges = (range_bounds(m) for m in re.findall(rf"<{p}mergeCell\s+ref=\"([A-Z0-9:$]+)\"", tail))
        self.merges = [m for m in merges if m]

    # -- reading ---------------------------------------------------------------------------

    def _locate_data(self) -> None:
        """Where <sheetData>'s content lies in the text (found by plain search: it is large)."""
        p = self.p
        start = self.text.find(f"<{p}sheetData")
        if start < 0:
            raise WorkbookError(f"worksheet {self.name} has no cell data section")
        head_end = self.text.find(">", start)
        if head_end > 0 and self.text[head_end - 1] == "/":  # <sheetData/>
            self._data_start = self._data_end = head_end + 1
            self._data_empty = True
        else:
            self._data_start = head_end + 1
            self._data_end = self.text.find(f"</{p}sheetData>", self._data_start)
            self._data_empty = False
        if head_end < 0 or self._data_end < 0:
            raise WorkbookError(f"worksheet {self.name} is cut short (its cell data never ends): the file is damaged")

    def rows(self, start: int | None = None, end: int | None = None, last: int = 0):
        """(row number, start, end, attributes head, body) of each <row> in sheetData, or in
        the stretch ``start``..``end`` of it (``last``: the number of the row before it)."""
        start = self._data_start if start is None else start
        end = self._data_end if end is None else end
        for m in self._row_re.finditer(self.text, start, end):
            r = _ROW_R.search(m.group(1))
            number = int(r.group(1)) if r else last + 1
            last = number
            yield number, m.start(), m.end(), m.group(1), m.group(2) or ""

    def _cells(self, row: int, body: str):
        """(column, match, head) of each cell in a row's body."""
        col = 0
        for m in self._cell_re.finditer(body):
            ref = _R.search(m.group(1))
            if ref:
                col = column_number(ref.group(1))
            else:
                col += 1
            yield col, m, m.group(1)

    def _stretches(self):
        """(start, end) of stretches of <sheetData> about STRETCH characters long, each ending
        after a </row>."""
        close = f"</{self.p}row>"
        start = self._data_start
        while start < self._data_end:
            cut = self.text.find(close, min(start + STRETCH, self._data_end), self._data_end)
            end = self._data_end if cut < 0 else cut + len(close)
            yield start, end
            start = end

    def _cell_batches(self):
        """Lists of (column letters, row, style, type, other attributes, <v> text, <is><t> text,
        inner XML), one per stretch of the sheet (so that only one stretch's pieces are held at
        a time): the common shapes (a lone value, a lone inline string) come out of the scan
        already taken apart, anything else as its inner XML.

        Nearly every writer puts a cell's reference first (``<c r="B7" ...>``); then one scan
        of a stretch finds every cell in it. Otherwise its cells are found row by row.
        """
        text, p = self.text, self.p
        last_row = 0
        for start, end in self._stretches():
            found = self._cell_scan.findall(text, start, end)
            if len(found) != text.count(f"<{p}c ", start, end) + text.count(f"<{p}c>", start, end):
                found = [(column_letter(col), str(row), "", "", head, "", "", m.group(2) or "")
                         for row, _s, _e, _head, body in self.rows(start, end, last_row)
                         for col, m, head in self._cells(row, body)]
            if found:
                last_row = int(found[-1][1])
            yield found

    def read(self, shared: list[str], date_xfs: set[int], date1904: bool, max_rows: int | None = None) -> Cells:
        epoch = _EPOCH_1904 if date1904 else _EPOCH_1900
        rows: dict[int, dict[int, object]] = {}
        styles: dict[tuple[int, int], int] = {}
        formulas: set[tuple[int, int]] = set()
        letters = COLUMN_NUMBERS
        row_text_now, row, values = "", 0, None  # the row being read (cells come row by row)
        cells = chain.from_iterable(self._cell_batches())
        for letter, row_text, style_text, kind, rest, v_text, is_text, inner in cells:
            col = letters.get(letter) or column_number(letter)
            if row_text != row_text_now:
                row_text_now, row, values = row_text, int(row_text), None
            if rest and ("s=" in rest or "t=" in rest):  # attributes in another order
                style_text, kind = _attr_s_t(rest, style_text, kind)
            style = int(style_text) if style_text else 0
            if style:
                styles[(row, col)] = style
            if v_text and not kind:  # the most common cell: a number
                try:
                    value: object = float(v_text)
                except ValueError:
                    value = _unescape(v_text)
                else:
                    if style in date_xfs:
                        value = _excel_date(value, epoch)
            elif v_text and kind == "s":
                value = self._shared_string(shared, v_text, letter, row)
            elif is_text and kind == "inlineStr":
                value = _unescape(is_text)
            else:
                if v_text:
                    inner = f"{self._v_open}{v_text}{self._v_close}"
                elif is_text:
                    inner = f"<{self.p}is><{self.p}t>{is_text}</{self.p}t></{self.p}is>"
                value = self._value(kind, inner, style in date_xfs, epoch, shared, letter, row)
                if self._f_tag in inner:
                    formulas.add((row, col))
            if value is not None:
                if values is None:
                    values = rows.setdefault(row, {})
                    if max_rows is not None and len(rows) > max_rows:  # refused before the table grows further
                        raise WorkbookError(f"worksheet {self.name} has more than {max_rows:,} rows with values; "
                                            "okrsync reads at most max_rows (set in okrsync.toml) per tab")
                values[col] = value
        return Cells(rows, styles, formulas)

    def _shared_string(self, shared: list[str], text: str, letter: str, row: int) -> str | None:
        """The shared string a cell names by its number."""
        try:
            index = int(text)
        except ValueError:
            raise WorkbookError(f"worksheet {self.name}, cell {letter}{row}: the shared-string number {text[:20]!r} is not "
                                "a number (the file is damaged)") from None
        return shared[index] if 0 <= index < len(shared) else None

    def _value(self, kind: str, inner: str, is_date: bool, epoch, shared: list[str], letter: str, row: int) -> object:
        """A cell's value from its inner XML (any shape: formulas, rich text, phonetic hints)."""
        if kind == "inlineStr":
            if inner.count(f"<{self.p}t") != 1:  # rich text runs, phonetic hints
                return "".join(_unescape(x) for x in self._t_re.findall(inner) if x)
            single = self._t_one.search(inner)
            return _unescape(single.group(1)) if single else ""
        v = self._v_re.search(inner) if inner else None
        if v is None:
            return None
        raw = _unescape(v.group(1))
        if not kind or kind == "n":
            try:
                number = float(raw)
            except ValueError:
                return raw
            return _excel_date(number, epoch) if is_date else number
        if kind == "s":
            return self._shared_string(shared, raw, letter, row)
        if kind == "b":
            return raw.strip() in ("1", "true")
        if kind == "e":
            return ErrorValue(raw)
        if kind == "d":
            return _iso_date(raw)
        return raw  # "str" (a formula's text result) and anything unknown

    # -- writing ---------------------------------------------------------------------------

    def apply(self, writes: list[Write]) -> str:
        """The worksheet text with ``writes`` spliced in; nothing else changes."""
        return "".join(self.chunks(writes))

    def chunks(self, writes: list[Write], widths: dict[int, float] | None = None):
        """``apply``'s text in chunks of about STRETCH characters, each made when asked for: a
        writer streams them into the package without ever holding the whole new text.
        ``widths``: columns okrsync adds → their width, unless the sheet already sizes them."""
        by_row: dict[int, dict[int, Write]] = {}
        for w in writes:
            by_row.setdefault(w.row, {})[w.col] = w
        max_col = max((w.col for w in writes), default=0)
        located = self._find_rows(sorted(by_row))
        if located is None:  # rows that hold no cells yet, or rows written in another style
            present = {r[0] for r in self.rows()}
            for number in sorted(set(by_row) - present):
                self._insert_row(number, by_row.pop(number))
            located = self._find_rows(sorted(by_row)) or [r for r in self.rows() if r[0] in by_row]
        text, batch, cursor, size = self.text, [], 0, 0
        for number, start, end, head, body in located:
            before = text[cursor:start]
            if not cursor:  # <dimension> and <cols> sit before the first row
                before = _with_widths(self._widen_dimension(before, max_col), widths)
            batch += (before, self._row(number, head, body, by_row[number]))
            size += end - cursor
            cursor = end
            if size >= STRETCH:
                yield "".join(batch)
                batch, size = [], 0
        batch.append(text[cursor:] if cursor else _with_widths(self._widen_dimension(text, max_col), widths))
        yield "".join(batch)

    def _find_rows(self, numbers: list[int]):
        """The rows to edit, found by plain search for ``<row r="N"`` (rows are in order);
        None when one is not found that way (absent, or written with other attributes first)."""
        p, text, end_tag = self.p, self.text, f"</{self.p}row>"
        cursor, out = self._data_start, []
        for n in numbers:
            start = text.find(f'<{p}row r="{n}"', cursor, self._data_end)
            if start < 0:
                return None
            head_end = text.index(">", start)
            head = text[start + len(p) + 4:head_end]
            if head.endswith("/"):
                out.append((n, start, head_end + 1, head[:-1], ""))
                cursor = head_end + 1
            else:
                close = text.index(end_tag, head_end)
                out.append((n, start, close + len(end_tag), head, text[head_end + 1:close]))
                cursor = close
        return out

    def _cell_xml(self, ref: str, w: Write) -> str:
        p = self.p
        style = f' s="{w.style}"' if w.style else ""
        if w.value is None:
            return f'<{p}c r="{ref}"{style}/>'
        if isinstance(w.value, (int, float)) and not isinstance(w.value, bool):
            return f'<{p}c r="{ref}"{style}><{p}v>{repr(float(w.value))}</{p}v></{p}c>'
        # Inline strings can never be read as a formula, whatever the text starts with.
        text = escape(excel_escaped(clean_text(str(w.value))))
        return f'<{p}c r="{ref}"{style} t="inlineStr"><{p}is><{p}t xml:space="preserve">{text}</{p}t></{p}is></{p}c>'

    def _row(self, number: int, head: str, body: str, edits: dict[int, Write]) -> str:
        p = self.p
        head = _widen_spans(head, max(edits))
        if not body or min(edits) > self._last_col(number, body):
            # Every edit lies right of the row's last cell: append, no need to look at the cells.
            cells = "".join(self._cell_xml(f"{column_letter(c)}{number}", edits[c]) for c in sorted(edits))
            return f"<{p}row{head}>{body}{cells}</{p}row>"
        out: list[str] = []
        cursor = 0
        pending = sorted(edits)
        for col, m, _head in self._cells(number, body):
            while pending and pending[0] < col:
                c = pending.pop(0)
                out.append(body[cursor:m.start()])
                cursor = m.start()
                out.append(self._cell_xml(f"{column_letter(c)}{number}", edits[c]))
            if pending and pending[0] == col:
                pending.pop(0)
                out.append(body[cursor:m.start()])
                out.append(self._cell_xml(f"{column_letter(col)}{number}", edits[col]))
                cursor = m.end()
        out.append(body[cursor:])
        out.extend(self._cell_xml(f"{column_letter(c)}{number}", edits[c]) for c in pending)
        return f"<{p}row{head}>{''.join(out)}</{p}row>"

    def _last_col(self, number: int, body: str) -> int:
        """The column of a row's rightmost cell (cells are in column order)."""
        start = body.rfind(f'<{self.p}c r="')
        if start >= 0 and body.find(f"<{self.p}c", start + 1) < 0:  # the last cell starts with its reference
            ref = _REF.match(body, start + len(self.p) + 6)
            if ref:
                return column_number(ref.group(1))
        return max((col for col, _m, _head in self._cells(number, body)), default=0)

    def _insert_row(self, number: int, edits: dict[int, Write]) -> None:
        p = self.p
        cells = "".join(self._cell_xml(f"{column_letter(c)}{number}", edits[c]) for c in sorted(edits))
        new_row = f'<{p}row r="{number}">{cells}</{p}row>'
        if self._data_empty:
            start = self.text.rfind(f"<{p}sheetData", 0, self._data_start)
            element = f"<{p}sheetData>{new_row}</{p}sheetData>"
            self.text = self.text[:start] + element + self.text[self._data_end:]
        else:
            position = self._data_end
            for row, start, _end, _head, _body in self.rows():
                if row > number:
                    position = start
                    break
            self.text = self.text[:position] + new_row + self.text[position:]
        self._locate_data()  # the text changed: so did where its cell data lies

    def _widen_dimension(self, text: str, max_col: int) -> str:
        """``text`` with the <dimension> reference (if it is in it) widened to ``max_col``."""
        m = re.search(rf'<{re.escape(self.p)}dimension\s+ref="([A-Z]+\d+)(?::([A-Z]+)(\d+))?"', text)
        if not m or not max_col:
            return text
        last_col = m.group(2) or _REF.fullmatch(m.group(1)).group(1)
        if column_number(last_col) >= max_col:
            return text
        last_row = m.group(3) or _REF.fullmatch(m.group(1)).group(2)
        ref = f"{m.group(1)}:{column_letter(max_col)}{last_row}"
        return text[: m.start(1)] + ref + text[m.end(1) if not m.group(2) else m.end(3):]


def _with_widths(text: str, widths: dict[int, float] | None) -> str:
    """``<col>`` entries for the columns in ``widths`` that no ``<col>`` covers yet; the
    entries already there keep their text, and the list stays in column order."""
    if not widths:
        return text
    data = re.search(r"<((?:[\w.-]+:)?)sheetData\b", text)
    block = re.search(r"<((?:[\w.-]+:)?)cols>(.*?)</\1cols>", text, re.S)
    prefix = (block or data).group(1) if (block or data) else ""
    entries = re.findall(rf"<{re.escape(prefix)}col\b[^>]*?(?:/>|>.*?</{re.escape(prefix)}col>)", block.group(2), re.S) \
        if block else []
    covered = set()
    for entry in entries:
        low, high = re.search(r'\bmin="(\d+)"', entry), re.search(r'\bmax="(\d+)"', entry)
        if low and high:
            covered |= set(range(int(low.group(1)), int(high.group(1)) + 1))
    added = [(c, f'<{prefix}col min="{c}" max="{c}" width="{w:.2f}" customWidth="1"/>')
             for c, w in sorted(widths.items()) if c not in covered]
    if not added:
        return text
    if block:
        order = [(int(re.search(r'\bmin="(\d+)"', e).group(1)) if re.search(r'\bmin="(\d+)"', e) else 0, e)
                 for e in entries]
        body = "".join(e for _, e in sorted(order + added, key=lambda pair: pair[0]))
        return text[:block.start(2)] + body + text[block.end(2):]
    if data is None:
        return text
    return text[:data.start()] + f"<{prefix}cols>" + "".join(e for _, e in added) + f"</{prefix}cols>" + text[data.start():]


def _widen_spans(head: str, max_col: int) -> str:
    if "spans" not in head:  # many writers leave spans out
        return head
    m = re.search(r'\sspans="(\d+):(\d+)"', head)
    if m and int(m.group(2)) < max_col:
        return head[: m.start()] + f' spans="{m.group(1)}:{max_col}"' + head[m.end():]
    return head


def _attr_s_t(head: str, style: str, kind: str) -> tuple[str, str]:
    s, t = _S.search(head), _T.search(head)
    return (s.group(1) if s else style), (t.group(1) if t else kind)


def _unescape(text: str) -> str:
    """Cell text from its XML: entities first, then Excel's own _xHHHH_ escapes."""
    return excel_unescaped(unescape(text) if "&" in text else text)


def _excel_date(value: float, epoch: dt.datetime) -> object:
    """A date serial as a datetime (a time of day below 1), as openpyxl's from_excel reads it."""
    day, fraction = divmod(value, 1)
    try:
        diff = dt.timedelta(milliseconds=round(fraction * 86_400_000))
        if 0 <= value < 1 and diff.days == 0:
            return (dt.datetime.min + diff).time()
        if 0 < value < 60 and epoch is _EPOCH_1900:
            day += 1  # Excel counts a 29 February 1900 that never was: serials before it are a day off
        return epoch + dt.timedelta(days=day) + diff
    except (ValueError, OverflowError):
        return value


def _iso_date(raw: str) -> object:
    try:
        return dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw
