"""The worksheet tokenizer on XML shapes other writers produce: a prefixed namespace,
attributes in another order, self-closing rows, shared and inline strings, rows to insert."""

import re

import pytest

from okrsync.errors import WorkbookError
from okrsync.values import ErrorValue
from okrsync.xlsx.sheet import SheetXml, Write

NS = 'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def sheet(rows: str, prefix: str = "x:") -> str:
    ns = NS if prefix else NS.replace("xmlns:x", "xmlns")
    return (f'<?xml version="1.0" encoding="UTF-8"?><{prefix}worksheet {ns}><{prefix}dimension ref="A1:B3"/>'
            f"<{prefix}sheetData>{rows}</{prefix}sheetData><{prefix}mergeCells count=\"1\">"
            f'<{prefix}mergeCell ref="A2:A3"/></{prefix}mergeCells></{prefix}worksheet>')


ROWS = ('<x:row spans="1:2" r="1"><x:c t="s" r="A1"><x:v>0</x:v></x:c><x:c s="3" t="inlineStr" r="B1">'
        '<x:is><x:r><x:t>Key </x:t></x:r><x:r><x:t>result</x:t></x:r></x:is></x:c></x:row>'
        '<x:row r="2"><x:c r="A2" t="e"><x:f>1/0</x:f><x:v>#DIV/0!</x:v></x:c><x:c r="B2"><x:v>2.5</x:v></x:c></x:row>'
        '<x:row r="3"/>')


def test_reading_other_writers_shapes():
    xml = SheetXml(sheet(ROWS), "OKRs")
    cells = xml.read(["Objective"], set(), False)
    assert cells.rows[1] == {1: "Objective", 2: "Key result"}
    assert isinstance(cells.rows[2][1], ErrorValue) and (2, 1) in cells.formulas
    assert cells.rows[2][2] == 2.5 and cells.styles[(1, 2)] == 3 and 3 not in cells.rows  # <row r="3"/> holds nothing
    assert xml.merges == [(1, 2, 1, 3)]


def test_splicing_keeps_everything_else_and_uses_the_prefix():
    text = sheet(ROWS)
    xml = SheetXml(text, "OKRs")
    xml.read(["Objective"], set(), False)
    out = xml.apply([Write(1, 3, "Score", 0), Write(2, 3, 0.5, 7), Write(3, 3, "x<&>", 0), Write(5, 1, "new", 0)])
    assert '<x:c r="C1" t="inlineStr"><x:is><x:t xml:space="preserve">Score</x:t></x:is></x:c></x:row>' in out
    assert '<x:c r="C2" s="7"><x:v>0.5</x:v></x:c></x:row>' in out
    assert '<x:row r="3"><x:c r="C3" t="inlineStr"><x:is><x:t xml:space="preserve">x&lt;&amp;&gt;</x:t></x:is></x:c></x:row>' in out
    assert out.index('<x:row r="5">') > out.index('<x:row r="3">')  # inserted in order
    assert '<x:dimension ref="A1:C3"/>' in out
    # remove what was added: the rest is the original, byte for byte
    stripped = re.sub(r'<x:c r="C\d"[^>]*?(/>|>.*?</x:c>)', "", out).replace('<x:row r="5"><x:c r="A5" t="inlineStr"><x:is><x:t xml:space="preserve">new</x:t></x:is></x:c></x:row>', "")
    restored = stripped.replace("<x:row r=\"3\"></x:row>", "<x:row r=\"3\"/>").replace("A1:C3", "A1:B3")
    assert restored.replace("spans=\"1:3\"", "spans=\"1:2\"") == text  # spans widened to the new column


def test_an_edit_between_existing_cells_is_placed_in_column_order():
    xml = SheetXml(sheet('<row r="1"><c r="A1"><v>1</v></c><c r="C1"><v>3</v></c></row>', prefix=""), "T")
    xml.read([], set(), False)
    out = xml.apply([Write(1, 2, 2.0, 0), Write(1, 3, None, 0)])
    assert '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><v>2.0</v></c><c r="C1"/></row>' in out


def test_a_dtd_is_refused():
    with pytest.raises(WorkbookError, match="DTD"):
        SheetXml('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><worksheet><sheetData/></worksheet>', "T")


def test_an_edit_left_of_an_empty_formatted_cell_goes_before_it():
    rows = ('<row r="1"><c r="A1"><v>1</v></c><c r="Z1" s="2"/></row>'
            '<row r="2"><c r="A2"><v>1</v></c><c s="2" r="Z2"/></row>')  # last cell with its reference second
    xml = SheetXml(sheet(rows, prefix=""), "T")
    xml.read([], set(), False)
    out = xml.apply([Write(1, 2, 2.0, 0), Write(2, 2, 2.0, 0)])
    assert '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><v>2.0</v></c><c r="Z1" s="2"/></row>' in out
    assert '<row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>2.0</v></c><c s="2" r="Z2"/></row>' in out


def test_every_value_shape_reads_as_its_value():
    rows = ('<row r="1"><c r="A1" s="4"><v>45000</v></c><c r="B1" t="n"><v>7</v></c><c r="C1"><v></v></c>'
            '<c r="D1" t="str"><f>A1&amp;"x"</f><v>45000x</v></c><c r="E1" t="b"><v>1</v></c>'
            '<c r="F1" t="inlineStr"><is><t xml:space="preserve"> a &amp; b </t></is></c>'
            '<c r="G1" s="3" t="s"><v>1</v></c><c r="H1" t="inlineStr"><is><t></t></is></c>'
            '<c r="I1"><f>1+1</f><v>2</v></c><c r="J1" t="d"><v>2026-11-16T00:00:00</v></c></row>')
    cells = SheetXml(sheet(rows, prefix=""), "T").read(["zero", "one"], {4}, False)
    v = {(1, c): value for c, value in cells.rows[1].items()}
    assert v[(1, 1)].date().isoformat() == "2023-03-15"  # serial 45000 in a date format
    assert v[(1, 2)] == 7.0 and v[(1, 3)] == ""  # an empty <v> is an empty cell value
    assert v[(1, 4)] == "45000x" and (1, 4) in cells.formulas
    assert v[(1, 5)] is True and v[(1, 6)] == " a & b " and v[(1, 7)] == "one" and v[(1, 8)] == ""
    assert v[(1, 9)] == 2.0 and (1, 9) in cells.formulas and (1, 1) not in cells.formulas
    assert v[(1, 10)].isoformat() == "2026-11-16T00:00:00"
    assert cells.styles == {(1, 1): 4, (1, 7): 3}


def test_a_sheet_read_in_stretches_reads_as_a_whole(monkeypatch):
    from okrsync.xlsx import sheet as sheet_module

    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1"><v>1</v></c></row>'
            '<row r="2"><c t="inlineStr"><is><t>no reference</t></is></c><c><v>2</v></c></row>'  # found row by row
            '<row><c><v>3</v></c></row>'  # no row number either: the one after row 2
            '<row r="7"><c r="C7" s="2"><f>1+1</f><v>2</v></c></row>')
    text = sheet(rows, prefix="")
    whole = SheetXml(text, "T").read([], set(), False)
    monkeypatch.setattr(sheet_module, "STRETCH", 10)  # a stretch per row
    stretched = SheetXml(text, "T")
    assert len(list(stretched._stretches())) == 4
    cells = stretched.read([], set(), False)
    assert cells == whole
    assert cells.rows == {1: {1: "a", 2: 1.0}, 2: {1: "no reference", 2: 2.0}, 3: {1: 3.0}, 7: {3: 2.0}}
    assert cells.formulas == {(7, 3)} and cells.styles == {(7, 3): 2}
