"""New worksheets added to an .xlsx package surgically: the new parts are appended, and the
three parts that must list them — [Content_Types].xml, the workbook and the workbook's
relationships — change only by the entries inserted; every other part keeps its bytes.
Charts, pivot tables, slicers, macros and form controls are never parsed or rewritten."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from okrsync.errors import WorkbookError
from okrsync.xlsx.package import NS_MAIN, NS_PKG_REL, NS_REL, Package

CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
REL_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
MAX_TITLE = 31  # Excel's limit on a tab's name
_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


@dataclass
class NewSheet:
    title: str
    xml: str  # the worksheet part (okrsync.xlsx.worksheet.worksheet_xml)


def check_title(title: str) -> None:
    if not title or len(title) > MAX_TITLE or _FORBIDDEN.search(title) or title.startswith("'"):
        raise WorkbookError(f'"{title}" cannot be a tab name in Excel (1–31 characters, none of [ ] : * ? / \\).')


def _free(package: Package, pattern: str) -> str:
    number = 1
    while package.has(pattern.format(number)):
        number += 1
    return pattern.format(number)


def _insert_before_close(text: str, tag: str, addition: str, what: str) -> str:
    """``addition`` right before the closing tag of ``tag`` (whatever its prefix)."""
    matches = list(re.finditer(rf"</((?:[\w.-]+:)?){tag}\s*>", text))
    if not matches:
        raise WorkbookError(f"{what} has no <{tag}> list to add a worksheet to.")
    at = matches[-1].start()
    prefix = matches[-1].group(1)
    return text[:at] + addition.replace("<PFX", f"<{prefix}") + text[at:]


def add_sheets(package: Package, sheets: list[NewSheet]) -> dict[str, bytes]:
    """The parts to write for ``sheets``: the new worksheets, and the three listing parts with
    the new entries inserted (their other bytes unchanged)."""
    existing = {name.lower() for name in package.sheets}
    folder = posixpath.dirname(package.workbook_part)
    rels_part = posixpath.join(folder, "_rels", posixpath.basename(package.workbook_part) + ".rels")
    types = package.read("[Content_Types].xml").decode("utf-8")
    workbook = package.read(package.workbook_part).decode("utf-8")
    rels = package.read(rels_part).decode("utf-8") if package.has(rels_part) else (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{NS_PKG_REL}"></Relationships>')
    root = package.xml(package.workbook_part)
    sheet_ids = [int(s.get("sheetId", 0)) for s in root.iter(f"{{{NS_MAIN}}}sheet")]
    rel_ids = set(re.findall(r'\bId="([^"]+)"', rels))
    parts: dict[str, bytes] = {}
    taken: set[str] = set()
    for number, sheet in enumerate(sheets, start=1):
        check_title(sheet.title)
        if sheet.title.lower() in existing:
            raise WorkbookError(f"{package.path} already has a tab named {sheet.title}.")
        part = _free(package, posixpath.join(folder, "worksheets", "sheet{}.xml"))
        while part in taken:  # two new sheets in one write
            part = part.replace(".xml", "x.xml")
        taken.add(part)
        rel_id = next(f"rId{n}" for n in range(len(rel_ids) + number, 10**6) if f"rId{n}" not in rel_ids)
        rel_ids.add(rel_id)
        sheet_id = max(sheet_ids, default=0) + 1
        sheet_ids.append(sheet_id)
        parts[part] = sheet.xml.encode("utf-8")
        types = _insert_before_close(types, "Types", f'<PFXOverride PartName="/{part}" ContentType="{CT_WORKSHEET}"/>',
                                     "[Content_Types].xml")
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
    return parts
