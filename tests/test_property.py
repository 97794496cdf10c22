"""Property: whatever people put into a sheet, okrsync answers with findings (or one clear
error about the sheet), never a crash — and what it writes can be read back."""

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okrsync.config import SourceConfig
from okrsync.domain import Finding
from okrsync.errors import OkrsyncError
from okrsync.evaluate import evaluate_kpis, evaluate_okrs
from okrsync.plan import desired_cells, diff, refuse_unwritable
from okrsync.resources import default_rules
from okrsync.rule_context import build_context
from okrsync.ruleset import load_rules
from okrsync.sources.excel import ExcelSource
from okrsync.layout import KPI_ALIASES, OKR_ALIASES
from okrsync.table import ReadContext, read_table
from okrsync.validate import validate
from tests.conftest import Formula, build_xlsx

RULES = load_rules([default_rules()])
TODAY = dt.date(2026, 11, 16)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
numberish = st.sampled_from(["1,200", "45 %", "$150,000", "2 h", "-0", "1e400", "−3", "ten", "∞", "1.5k",
                             "2026-Q4", "Q5 2026", "FY2026", "done", "✓", "no", "higher is better", "at most"])
cell = st.one_of(
    st.none(), text, numberish,
    st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(9000, 12, 31)),
    st.sampled_from([Formula("=1/0", "#DIV/0!"), Formula("=A1", "#REF!"), Formula("=1+1", 2)]),
)


def headers(aliases: dict[str, list[str]], required: list[str]):
    pool = [a for names in aliases.values() for a in names] + ["Notes", "ÜNKNOWN ✓", ""]
    extra = st.lists(st.one_of(st.sampled_from(pool), text), max_size=10)
    return extra.flatmap(lambda xs: st.permutations(required + xs))


def table(aliases, required):
    return headers(aliases, required).flatmap(
        lambda head: st.lists(st.lists(cell, min_size=len(head), max_size=len(head)), max_size=12).map(
            lambda rows: [head, *rows]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(okrs=table(OKR_ALIASES, ["Objective", "Key result"]), kpis=table(KPI_ALIASES, ["KPI"]),
       title_rows=st.integers(min_value=0, max_value=3))
def test_messy_tables_give_findings_never_a_crash(okrs, kpis, title_rows):
    with tempfile.TemporaryDirectory() as folder:
        path = build_xlsx(Path(folder) / "messy.xlsx", {"OKRs": okrs, "KPIs": kpis},
                          start_row={"OKRs": title_rows})
        config = SourceConfig(name="messy", excel=path)
        try:
            source = ExcelSource(config)
            grids = source.read(["OKRs", "KPIs"])
            context = ReadContext(TODAY, "2026-Q4", 1)
            tables = [read_table(grids["OKRs"], "okr", config, context), read_table(grids["KPIs"], "kpi", config, context)]
            rule_context = build_context(tables, TODAY, {})
            changes = []
            for t in tables:
                findings = validate(t, RULES, rule_context)
                assert all(isinstance(f, Finding) and f.message and f.tab == t.tab for f in findings)
                evaluation = (evaluate_okrs(t, findings, RULES, TODAY, "2026-Q4", 1) if t.kind == "okr"
                              else evaluate_kpis(t, findings, RULES, {}))
                tab_changes = diff(desired_cells(t, evaluation, findings), grids[t.tab])
                refuse_unwritable(tab_changes, grids[t.tab], str(path))
                changes += tab_changes
            source.write(changes)
        except OkrsyncError as exc:  # an expected failure: one sentence about the sheet
            assert str(exc) and "\n" not in str(exc)
            return
        again = ExcelSource(config).read(["OKRs", "KPIs"])  # what was written reads back
        assert set(again) == {"OKRs", "KPIs"}
