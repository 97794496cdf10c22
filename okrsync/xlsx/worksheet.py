"""The XML of a worksheet okrsync creates whole (a tab it adds): values, fills from styles,
column widths, a frozen header row and drop-down lists."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from okrsync.refs import column_letter
from okrsync.values import excel_escaped
from okrsync.xlsx.package import NS_MAIN, NS_REL
from okrsync.xlsx.sheet import clean_text


def worksheet_xml(rows: list[list], styles: dict[tuple[int, int], int] | None = None,
                  widths: dict[int, float] | None = None, frozen_rows: int = 0,
                  lists: dict[int, list[str]] | None = None, list_rows: int = 500, one_page: bool = False) -> str:
    """``rows``: values by row (str, int, float or None); ``styles``: (row, column) → cell
    format index, 1-based; ``widths``: column → width in characters; ``lists``: column →
    the choices of its drop-down, for rows 2 to ``list_rows``; ``one_page``: printed (and
    exported to PDF) landscape on one page."""
    styles = styles or {}
    out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">']
    if one_page:
        out.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
    view = '<sheetView workbookViewId="0"'
    if frozen_rows:
        out.append(f'<sheetViews>{view}><pane ySplit="{frozen_rows}" topLeftCell="A{frozen_rows + 1}" '
                   'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>')
    else:
        out.append(f"<sheetViews>{view}/></sheetViews>")
    out.append('<sheetFormatPr defaultRowHeight="15"/>')
    if widths:
        out.append("<cols>" + "".join(f'<col min="{c}" max="{c}" width="{w:.2f}" customWidth="1"/>'
                                      for c, w in sorted(widths.items())) + "</cols>")
    out.append("<sheetData>")
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row, start=1):
            style = styles.get((r, c))
            if value is None and style is None:
                continue
            ref = f"{column_letter(c)}{r}"
            s = f' s="{style}"' if style else ""
            if value is None:
                cells.append(f'<c r="{ref}"{s}/>')
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<c r="{ref}"{s}><v>{value!r}</v></c>')
            else:
                text = excel_escaped(clean_text(str(value)))
                space = ' xml:space="preserve"' if text != text.strip() else ""
                cells.append(f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>')
        if cells:
            out.append(f'<row r="{r}">' + "".join(cells) + "</row>")
    out.append("</sheetData>")
    if lists:
        out.append(f'<dataValidations count="{len(lists)}">')
        for column, choices in sorted(lists.items()):
            letter = column_letter(column)
            formula = escape('"' + ",".join(clean_text(c) for c in choices) + '"')
            out.append(f'<dataValidation type="list" allowBlank="1" showErrorMessage="0" '
                       f'sqref={quoteattr(f"{letter}2:{letter}{list_rows}")}><formula1>{formula}</formula1>'
                       "</dataValidation>")
        out.append("</dataValidations>")
    out.append('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>')
    if one_page:
        out.append('<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="1"/>')
    out.append("</worksheet>")
    return "".join(out)
