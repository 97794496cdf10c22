"""styles.xml: which cell formats are dates and which carry a fill, and adding the formats
okrsync needs without disturbing the existing ones (new fills and cell formats go at the end
of their lists, so every existing index keeps its meaning)."""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from okrsync.xlsx.package import NS_MAIN

_N = f"{{{NS_MAIN}}}"
# The built-in number formats that show dates or times (ECMA-376 §18.8.30: 14-22 and 45-47,
# and the Chinese/Japanese/Korean locale dates Excel stores by id only).
BUILTIN_DATE_IDS = frozenset([*range(14, 23), *range(45, 48), *range(27, 37), *range(50, 59)])
SCORE_FORMAT_ID = 2  # built-in "0.00"

NO_FILL = ""  # a derived format with no fill of okrsync's


def _block(text: str, tag: str) -> re.Match | None:
    return re.search(rf"<((?:\w+:)?){tag}\b([^>]*?)(?:/>|>(.*?)</\1{tag}>)", text, re.S)


def _children(body: str, prefix: str, tag: str) -> list[str]:
    return [m.group(0) for m in re.finditer(rf"<{prefix}{tag}\b[^>]*?(?:/>|>.*?</{prefix}{tag}>)", body, re.S)]


def _set_attr(element: str, name: str, value: str) -> str:
    """Set an attribute on the start tag of a serialised element."""
    head_end = element.index(">")
    if element[head_end - 1] == "/":
        head_end -= 1
    head, rest = element[:head_end], element[head_end:]
    pattern = re.compile(rf"\s{name}=(\"[^\"]*\"|'[^']*')")
    if pattern.search(head):
        head = pattern.sub(f" {name}={quoteattr(value)}", head, count=1)
    else:
        head += f" {name}={quoteattr(value)}"
    return head + rest


class Styles:
    def __init__(self, text: str | None, root=None):
        self.text = text
        self.changed = False
        self.date_xfs: set[int] = set()
        self.xf_fill: list[int] = []
        self.fill_rgb: list[str | None] = []
        self._derived: dict[tuple[int, str | None, int | None], int] = {}
        self._own_fill: dict[str, int] = {}
        if root is not None:
            self._read(root)

    def _read(self, root) -> None:
        custom = {int(f.get("numFmtId")): f.get("formatCode", "") for f in root.iter(f"{_N}numFmt")}
        fills = root.find(f"{_N}fills")  # only these: <dxfs> holds <fill> elements of its own
        for fill in fills if fills is not None else []:
            pattern = fill.find(f"{_N}patternFill")
            rgb = None
            if pattern is not None and pattern.get("patternType") == "solid":
                colour = pattern.find(f"{_N}fgColor")
                if colour is not None and colour.get("rgb"):
                    rgb = colour.get("rgb")[-6:].upper()
            self.fill_rgb.append(rgb)
        xfs = root.find(f"{_N}cellXfs")
        for index, xf in enumerate(xfs if xfs is not None else []):
            fmt = int(xf.get("numFmtId", "0"))
            if fmt in custom and custom[fmt]:
                from openpyxl.styles.numbers import is_date_format  # loaded only for custom formats

                is_date = is_date_format(custom[fmt])
            else:
                is_date = fmt in BUILTIN_DATE_IDS
            if is_date:
                self.date_xfs.add(index)
            self.xf_fill.append(int(xf.get("fillId", "0")))

    def fill_of(self, xf: int) -> str | None:
        """The solid fill colour (RRGGBB) a cell format shows, if any."""
        if 0 <= xf < len(self.xf_fill):
            fill = self.xf_fill[xf]
            if 0 <= fill < len(self.fill_rgb):
                return self.fill_rgb[fill]
        return None

    def derive(self, base: int, fill: str | None, number_format: int | None) -> int:
        """A cell format like ``base`` but with ``fill`` (RRGGBB, or NO_FILL to clear it) and
        ``number_format``; ``None`` leaves that aspect as it is. Reuses what it added before."""
        key = (base, fill, number_format)
        if key in self._derived:
            return self._derived[key]
        if self.text is None:
            from okrsync.errors import WorkbookError

            raise WorkbookError("the workbook has no styles part, so okrsync cannot colour cells")
        fill_id = self._fill_id(fill) if fill is not None else None  # may add a fill: before locating cellXfs
        xfs = _block(self.text, "cellXfs")
        prefix = xfs.group(1)
        existing = _children(xfs.group(3) or "", prefix, "xf")
        element = existing[base] if 0 <= base < len(existing) else f"<{prefix}xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>"
        if fill_id is not None:
            element = _set_attr(element, "fillId", str(fill_id))
            element = _set_attr(element, "applyFill", "1")
        if number_format is not None:
            element = _set_attr(element, "numFmtId", str(number_format))
            element = _set_attr(element, "applyNumberFormat", "1")
        index = self._append(xfs, "cellXfs", element, len(existing))
        self.xf_fill.append(fill_id if fill_id is not None else self.xf_fill[base] if base < len(self.xf_fill) else 0)
        self._derived[key] = index
        return index

    def _fill_id(self, rgb: str) -> int:
        if rgb == NO_FILL:
            return 0
        if rgb not in self._own_fill:
            for index, existing in enumerate(self.fill_rgb):
                if existing == rgb and index >= 2:
                    self._own_fill[rgb] = index
                    break
            else:
                fills = _block(self.text, "fills")
                prefix = fills.group(1)
                element = (
                    f'<{prefix}fill><{prefix}patternFill patternType="solid">'
                    f'<{prefix}fgColor rgb="FF{rgb}"/><{prefix}bgColor indexed="64"/>'
                    f"</{prefix}patternFill></{prefix}fill>"
                )
                self._own_fill[rgb] = self._append(fills, "fills", element, len(self.fill_rgb))
                self.fill_rgb.append(rgb)
        return self._own_fill[rgb]

    def _append(self, block: re.Match, tag: str, element: str, index: int) -> int:
        """Append ``element`` to the list ``block`` in self.text; returns its index."""
        prefix, attrs, body = block.group(1), block.group(2), block.group(3) or ""
        count = len(_children(body, prefix, tag[:-1] if tag == "fills" else "xf")) + 1
        attrs = re.sub(r'\scount="\d*"', "", attrs)
        start = f"<{prefix}{tag}{attrs} count=\"{count}\">"
        replacement = f"{start}{body}{element}</{prefix}{tag}>"
        self.text = self.text[: block.start()] + replacement + self.text[block.end():]
        self.changed = True
        return index
