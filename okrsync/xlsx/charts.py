"""Native Excel charts (DrawingML): a chart part drawn from cells of its tab, and the drawing
part that places the charts on the tab. The cached values are written too, so a program shows
the chart before it recalculates."""

from __future__ import annotations

from xml.sax.saxutils import escape

from okrsync.refs import column_letter
from okrsync.sources.interface import Chart
from okrsync.xlsx.sheet import clean_text

NS_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
REL_DRAWING = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing"
REL_CHART = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart"
COLOURS = ["4472C4", "A5A5A5", "ED7D31", "70AD47", "FFC000", "5B9BD5", "264478", "9E480E"]


def _ref(tab: str, col: int, first: int, last: int | None = None) -> str:
    sheet = "'" + tab.replace("'", "''") + "'"
    letter = column_letter(col)
    return f"{sheet}!${letter}${first}" + (f":${letter}${last}" if last is not None else "")


def _cell(rows: list[list], row: int, col: int):
    line = rows[row - 1] if 0 < row <= len(rows) else []
    return line[col - 1] if 0 < col <= len(line) else None


def _str_ref(tab: str, rows: list[list], col: int, first: int, last: int) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{escape(clean_text(str(_cell(rows, r, col) or "")))}</c:v></c:pt>'
                     for i, r in enumerate(range(first, last + 1)))
    return (f"<c:strRef><c:f>{escape(_ref(tab, col, first, last if last != first else None))}</c:f><c:strCache>"
            f'<c:ptCount val="{last - first + 1}"/>{points}</c:strCache></c:strRef>')


def _num_ref(tab: str, rows: list[list], col: int, first: int, last: int) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{value!r}</c:v></c:pt>'
                     for i, r in enumerate(range(first, last + 1))
                     if isinstance(value := _cell(rows, r, col), (int, float)) and not isinstance(value, bool))
    return (f"<c:numRef><c:f>{escape(_ref(tab, col, first, last))}</c:f><c:numCache><c:formatCode>General"
            f'</c:formatCode><c:ptCount val="{last - first + 1}"/>{points}</c:numCache></c:numRef>')


def chart_xml(chart: Chart, tab: str, rows: list[list]) -> str:
    cat_col, cat_first, cat_last = chart.categories
    series = []
    for i, s in enumerate(chart.series):
        colour = COLOURS[i % len(COLOURS)]
        look = (f'<c:spPr><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></c:spPr><c:invertIfNegative val="0"/>'
                if chart.kind == "bar" else
                f'<c:spPr><a:ln w="28575"><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></a:ln></c:spPr>'
                '<c:marker><c:symbol val="circle"/><c:size val="5"/></c:marker>')
        series.append(f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/><c:tx>{_str_ref(tab, rows, s.col, s.name_row, s.name_row)}'
                      f"</c:tx>{look}<c:cat>{_str_ref(tab, rows, cat_col, cat_first, cat_last)}</c:cat>"
                      f"<c:val>{_num_ref(tab, rows, s.col, s.first_row, s.last_row)}</c:val>"
                      + ('<c:smooth val="0"/>' if chart.kind == "line" else "") + "</c:ser>")
    axes = '<c:axId val="5001"/><c:axId val="5002"/>'
    if chart.kind == "bar":
        plot = (f'<c:barChart><c:barDir val="bar"/><c:grouping val="clustered"/><c:varyColors val="0"/>{"".join(series)}'
                f'<c:gapWidth val="60"/>{axes}</c:barChart>')
    else:
        plot = f'<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{"".join(series)}<c:marker val="1"/>{axes}</c:lineChart>'
    # bars list objectives top to bottom in sheet order; lines run left to right in time
    orientation, cat_pos, val_pos = ("maxMin", "l", "b") if chart.kind == "bar" else ("minMax", "b", "l")
    limits = '<c:max val="1"/><c:min val="0"/>' if chart.percent else ""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<c:chartSpace xmlns:c="{NS_C}" xmlns:a="{NS_A}" xmlns:r="{NS_R}"><c:roundedCorners val="0"/><c:chart>'
            f"<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:r><a:t>{escape(clean_text(chart.title))}</a:t></a:r></a:p></c:rich></c:tx>"
            '<c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>'
            f"{plot}"
            f'<c:catAx><c:axId val="5001"/><c:scaling><c:orientation val="{orientation}"/></c:scaling><c:delete val="0"/>'
            f'<c:axPos val="{cat_pos}"/><c:numFmt formatCode="General" sourceLinked="0"/><c:tickLblPos val="nextTo"/>'
            '<c:crossAx val="5002"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/>'
            '<c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>'
            f'<c:valAx><c:axId val="5002"/><c:scaling><c:orientation val="minMax"/>{limits}</c:scaling><c:delete val="0"/>'
            f'<c:axPos val="{val_pos}"/><c:majorGridlines/><c:numFmt formatCode="0.0" sourceLinked="0"/>'
            '<c:tickLblPos val="nextTo"/><c:crossAx val="5001"/><c:crosses val="autoZero"/>'
            '<c:crossBetween val="between"/></c:valAx></c:plotArea>'
            '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/>'
            '<c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>')


def drawing_xml(charts: list[Chart], rel_ids: list[str]) -> str:
    """The drawing part placing each chart at its anchor (a two-cell anchor: it moves and sizes
    with the cells under it)."""
    anchors = []
    for number, (chart, rel_id) in enumerate(zip(charts, rel_ids), start=1):
        col, row = chart.anchor
        width, height = chart.size
        anchors.append(
            f"<xdr:twoCellAnchor><xdr:from><xdr:col>{col - 1}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{row - 1}"
            f"</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>{col - 1 + width}</xdr:col><xdr:colOff>0"
            f"</xdr:colOff><xdr:row>{row - 1 + height}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{number + 1}" name="Chart {number}"/>'
            '<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/>'
            f'</xdr:xfrm><a:graphic><a:graphicData uri="{NS_C}"><c:chart xmlns:c="{NS_C}" xmlns:r="{NS_R}" '
            f'r:id="{rel_id}"/></a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>')
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<xdr:wsDr xmlns:xdr="{NS_XDR}" xmlns:a="{NS_A}">'
            + "".join(anchors) + "</xdr:wsDr>")


def relationships(entries: list[tuple[str, str, str]]) -> str:
    """A .rels part: (id, type, target) each."""
    from okrsync.xlsx.package import NS_PKG_REL

    body = "".join(f'<Relationship Id="{i}" Type="{t}" Target="{escape(target)}"/>' for i, t, target in entries)
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{NS_PKG_REL}">{body}</Relationships>'
