"""New worksheets added to an .xlsx package surgically: the new parts are appended, and the
three parts that must list them — [Content_Types].xml, the workbook and the workbook's
relationships — change only by the entries inserted; every other part keeps its bytes.
Charts, pivot tables, slicers, macros and form controls are never parsed or rewritten.
A tab okrsync owns whole is replaced the same way: its worksheet, drawing and chart parts."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from okrsync.errors import WorkbookError
from okrsync.sources.interface import Chart
from okrsync.xlsx import charts as drawing
from okrsync.xlsx.package import NS_MAIN, NS_PKG_REL, NS_REL, Package

CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
REL_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
MAX_TITLE = 31  # Excel's limit on a tab's name
_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


@dataclass
class NewSheet:
    title: str
    xml: str  # the worksheet part (okrsync.xlsx.worksheet.worksheet_xml)
    charts: list[tuple[Chart, str]] = field(default_factory=list)  # each chart and its part's XML


def check_title(title: str) -> None:
    if not title or len(title) > MAX_TITLE or _FORBIDDEN.search(title) or title.startswith("'"):
        raise WorkbookError(f'"{title}" cannot be a tab name in Excel (1–31 characters, none of [ ] : * ? / \\).')


def _free(package: Package, pattern: str, taken: set[str]) -> str:
    """The first part name of ``pattern`` neither in the package nor taken by this write."""
    number = 1
    while package.has(pattern.format(number)) or pattern.format(number) in taken:
        number += 1
    taken.add(pattern.format(number))
    return pattern.format(number)


def _insert_before_close(text: str, tag: str, addition: str, what: str) -> str:
    """``addition`` right before the closing tag of ``tag`` (whatever its prefix)."""
    matches = list(re.finditer(rf"</((?:[\w.-]+:)?){tag}\s*>", text))
    if not matches:
        raise WorkbookError(f"{what} has no <{tag}> list to add a worksheet to.")
    at = matches[-1].start()
    prefix = matches[-1].group(1)
    return text[:at] + addition.replace("<PFX", f"<{prefix}") + text[at:]


def _current(package: Package, parts: dict[str, bytes], name: str) -> str:
    """A part as this write leaves it so far."""
    return (parts[name] if name in parts else package.read(name)).decode("utf-8")


def add_sheets(package: Package, sheets: list[NewSheet], parts: dict[str, bytes]) -> None:
    """Add to ``parts`` (the parts this write changes) what ``sheets`` need: the new worksheets
    and their drawings and charts, and the three listing parts with the new entries inserted
    (their other bytes unchanged)."""
    existing = {name.lower() for name in package.sheets}
    folder = posixpath.dirname(package.workbook_part)
    rels_part = posixpath.join(folder, "_rels", posixpath.basename(package.workbook_part) + ".rels")
    types = _current(package, parts, "[Content_Types].xml")
    workbook = package.read(package.workbook_part).decode("utf-8")
    rels = package.read(rels_part).decode("utf-8") if package.has(rels_part) else (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{NS_PKG_REL}"></Relationships>')
    root = package.xml(package.workbook_part)
    sheet_ids = [int(s.get("sheetId", 0)) for s in root.iter(f"{{{NS_MAIN}}}sheet")]
    rel_ids = set(re.findall(r'\bId="([^"]+)"', rels))
    taken: set[str] = set()
    for number, sheet in enumerate(sheets, start=1):
        check_title(sheet.title)
        if sheet.title.lower() in existing:
            raise WorkbookError(f"{package.path} already has a tab named {sheet.title}.")
        part = _free(package, posixpath.join(folder, "worksheets", "sheet{}.xml"), taken)
        rel_id = next(f"rId{n}" for n in range(len(rel_ids) + number, 10**6) if f"rId{n}" not in rel_ids)
        rel_ids.add(rel_id)
        sheet_id = max(sheet_ids, default=0) + 1
        sheet_ids.append(sheet_id)
        types = _override(types, part, CT_WORKSHEET)
        xml, types = _with_charts(package, part, sheet.xml, sheet.charts, types, parts, taken)
        parts[part] = xml.encode("utf-8")
        target = posixpath.relpath(part, folder)
        rels = _insert_before_close(rels, "Relationships",
                                    f'<PFXRelationship Id="{rel_id}" Type="{REL_WORKSHEET}" Target="{target}"/>',
                                    rels_part)
        workbook = _insert_before_close(
            workbook, "sheets", f'<PFXsheet name={quoteattr(escape(sheet.title))} sheetId="{sheet_id}" '
                                f'xmlns:r="{NS_REL}" r:id="{rel_id}"/>', package.workbook_part)
    parts["[Content_Types].xml"] = types.encode("utf-8")
    parts[package.workbook_part] = workbook.encode("utf-8")
    parts[rels_part] = rels.encode("utf-8")


def replace_sheet(package: Package, tab: str, xml: str, charts: list[tuple[Chart, str]],
                  parts: dict[str, bytes]) -> None:
    """Add to ``parts`` what a tab okrsync owns whole needs: its worksheet, and its charts —
    written into the chart parts it has when their number matches, else into new ones."""
    part = package.sheets[tab]
    types = _current(package, parts, "[Content_Types].xml")
    existing = _drawing_of(package, part)
    if existing and len(existing[2]) == len(charts):
        drawing_part, sheet_rel, chart_parts = existing
        xml = _insert_before_close(xml, "worksheet", f'<PFXdrawing r:id="{sheet_rel}"/>', part)
        _drawing_parts(drawing_part, chart_parts, charts, parts)
    else:
        xml, types = _with_charts(package, part, xml, charts, types, parts, set())
        parts["[Content_Types].xml"] = types.encode("utf-8")
    parts[part] = xml.encode("utf-8")


def _drawing_parts(drawing_part: str, chart_parts: list[str], charts: list[tuple[Chart, str]],
                   parts: dict[str, bytes]) -> None:
    """A drawing placing ``charts``, its relationships to their parts, and the chart parts."""
    rel_ids = [f"rId{n}" for n in range(1, len(charts) + 1)]
    parts[drawing_part] = drawing.drawing_xml([c for c, _ in charts], rel_ids).encode("utf-8")
    parts[_rels_name(drawing_part)] = drawing.relationships(
        [(i, drawing.REL_CHART, posixpath.relpath(c, posixpath.dirname(drawing_part)))
         for i, c in zip(rel_ids, chart_parts)]).encode("utf-8")
    for chart_part, (_, chart_xml) in zip(chart_parts, charts):
        parts[chart_part] = chart_xml.encode("utf-8")


def _rels_name(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def _override(types: str, part: str, content_type: str) -> str:
    return _insert_before_close(types, "Types", f'<PFXOverride PartName="/{part}" ContentType="{content_type}"/>',
                                "[Content_Types].xml")


def _drawing_of(package: Package, sheet_part: str) -> tuple[str, str, list[str]] | None:
    """A sheet's drawing part, the sheet's relationship id for it, and its chart parts in order."""
    rels_name = _rels_name(sheet_part)
    if not package.has(rels_name):
        return None
    for rel in package.xml(rels_name).iter(f"{{{NS_PKG_REL}}}Relationship"):
        if rel.get("Type") == drawing.REL_DRAWING:
            drawing_part = posixpath.normpath(posixpath.join(posixpath.dirname(sheet_part), rel.get("Target", "")))
            charts = package.rels_of(drawing_part) if package.has(drawing_part) else {}
            return drawing_part, rel.get("Id"), [charts[k] for k in sorted(charts, key=lambda k: (len(k), k))]
    return None


def _with_charts(package: Package, sheet_part: str, xml: str, charts: list[tuple[Chart, str]], types: str,
                 parts: dict[str, bytes], taken: set[str]) -> tuple[str, str]:
    """A new drawing with ``charts`` for a sheet: the parts added to ``parts``, their content
    types to ``types``; the sheet's XML with its <drawing> element."""
    if not charts:
        return xml, types
    taken = taken | set(parts)  # the parts this write already adds
    folder = posixpath.dirname(posixpath.dirname(sheet_part))  # xl/
    drawing_part = _free(package, posixpath.join(folder, "drawings", "drawing{}.xml"), taken)
    chart_parts = [_free(package, posixpath.join(folder, "charts", "chart{}.xml"), taken) for _ in charts]
    _drawing_parts(drawing_part, chart_parts, charts, parts)
    types = _override(types, drawing_part, drawing.CT_DRAWING)
    for chart_part in chart_parts:
        types = _override(types, chart_part, drawing.CT_CHART)
    if not re.search(r'<(?:[\w.-]+:)?Default\b[^>]*Extension="rels"', types):
        types = _insert_before_close(types, "Types", '<PFXDefault Extension="rels" ContentType='
                                     '"application/vnd.openxmlformats-package.relationships+xml"/>', "[Content_Types].xml")
    parts[_rels_name(sheet_part)] = drawing.relationships(
        [("rId1", drawing.REL_DRAWING, posixpath.relpath(drawing_part, posixpath.dirname(sheet_part)))]).encode("utf-8")
    return _insert_before_close(xml, "worksheet", '<PFXdrawing r:id="rId1"/>', sheet_part), types
